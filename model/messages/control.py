"""The control path: what the supervisor tells the actors (halts, the kill switch, the
operator's cancel-all, accounts, the open, NAV strikes), and what an actor journals to
itself so that replay repeats it."""

from __future__ import annotations

from typing import Union

from model.limits import RiskLimits
from model.liquidity import LiquidityPolicy
from model.messages.base import MessageBase

__all__ = [
    "AdminCancelAll",
    "ControlMessage",
    "OpenAccount",
    "OpenMarket",
    "SetKill",
    "SetRiskLimits",
    "SetLiquidity",
    "SetTradingStatus",
    "StrikeNav",
    "VenueRecovered",
    "VenueSetSession",
    "VenueStart",
    "VenueTick",
    "VenueWireIn",
    "VenueWireSent",
]

# --- supervisor → actors (control path) -----------------------------------------------------


class SetTradingStatus(MessageBase, frozen=True, gc=False, tag=80):
    symbol: str
    halted: bool


class SetKill(MessageBase, frozen=True, gc=False, tag=81):
    """The kill switch: ``killed`` accounts have their open orders canceled and new ones
    refused until unkilled. ``account`` ``"*"``: every account, present and future."""

    account: str
    killed: bool


class AdminCancelAll(MessageBase, frozen=True, gc=False, tag=82):
    """Cancel every open order matching all the filters given (``None``: any)."""

    account: str | None = None
    symbol: str | None = None
    venue: str | None = None


class OpenAccount(MessageBase, frozen=True, gc=False, tag=83):
    """An account enters its shard (from the accounts file), journaled like any input."""

    account: str
    owner: str
    cash: int
    allow_short: bool = False
    positions: tuple[tuple[str, int], ...] = ()  # (symbol, qty) held at the start
    group: str = ""
    tenant: str = ""  # "": the default tenant (journals written before tenants had none)
    basis: tuple[tuple[str, int, int], ...] = ()  # (symbol, total cost, acquired: a local date's ordinal or 0) of positions that give one


class OpenMarket(MessageBase, frozen=True, gc=False, tag=84):
    """The open: release the orders queued for it (``symbols``; empty: every symbol).

    It travels supervisor → every account shard → the InstrumentActors, as a marker behind
    the orders each shard routed before it; an InstrumentActor opens once the marker of
    ``open_id`` has come from every shard, so no order acknowledged before the open misses it."""

    symbols: list[str]
    day: str = ""  # the local date of a scheduled open (``[open] at``), so it happens once a day
    open_id: int = 0  # the supervisor's count of opens
    shard: str = ""  # the account shard that passed the marker on


class StrikeNav(MessageBase, frozen=True, gc=False, tag=85):
    """A mutual fund's net asset value: every order acknowledged before it fills at ``nav``.

    It travels like the open: supervisor → every account shard → the fund's InstrumentActor,
    as a marker behind the orders each shard routed before it; the InstrumentActor strikes
    once the marker of the fund's ``strike``-th NAV has come from every shard. The cut-off
    of an order is the moment the marker passes its shard."""

    symbol: str
    nav: int
    strike: int = 0  # the supervisor's count of this fund's strikes (1: its first)
    shard: str = ""  # the account shard that passed the marker on


# --- an actor to itself (journaled like any input, so replay repeats them) --------------------


class SetRiskLimits(MessageBase, frozen=True, gc=False, tag=86):
    """The pre-trade limits an account shard decides with from now on: the server's
    ``[risk]`` and each tenant's ``[tenants.NAME.risk]``, as the configuration read at this
    start resolves them. A shard journals it to itself when it starts with limits other
    than the ones its state holds (a snapshot's, or none yet), so a change of the
    configuration applies to every account from that record on, and replay decides each
    order under the limits it was decided under live."""

    limits: RiskLimits
    tenant_limits: dict[str, RiskLimits]


class SetLiquidity(MessageBase, frozen=True, gc=False, tag=200):
    """The crossing policy an InstrumentActor decides with from now on (``[crossing]`` as
    read at this start): journaled to itself when it starts with another than its state
    holds, so replay crosses as the live actor did (docs/liquidity.md)."""

    policy: LiquidityPolicy


class VenueStart(MessageBase, frozen=True, gc=False, tag=90):
    """Open the venue adapter (its first quotes and session state)."""


class VenueTick(MessageBase, frozen=True, gc=False, tag=91):
    """Time passes at the venue: the adapter's clock runs to the record's ``now``."""


class VenueSetSession(MessageBase, frozen=True, gc=False, tag=92):
    state: str


class VenueWireIn(MessageBase, frozen=True, gc=False, tag=93):
    """An application message (or a session-level Reject) a venue's FIX session received,
    exactly as received."""

    raw: str


class VenueWireSent(MessageBase, frozen=True, gc=False, tag=94):
    """A message about one order (NewOrderSingle, cancel, replace, status request) handed to
    a venue's FIX session, with the MsgSeqNum quickfix gave it: a Reject naming only that
    number then finds the order."""

    seq: int
    msg_type: str
    cl_ord_id: str


class VenueRecovered(MessageBase, frozen=True, gc=False, tag=95):
    """A venue actor starts again, before its FIX session connects. ``sent``: what its
    session's store holds that was sent but never recorded (a crash in between); ``unsent``:
    the ClOrdIDs of the orders, cancels and replaces made before the restart that never
    reached the session (a crash between the record and the send), which the adapter settles."""

    sent: list[VenueWireSent]
    unsent: list[str]


# The control path and what an actor journals to itself, in tag order.
ControlMessage = Union[
    SetTradingStatus,
    SetKill,
    AdminCancelAll,
    OpenAccount,
    OpenMarket,
    StrikeNav,
    SetRiskLimits,
    VenueStart,
    VenueTick,
    VenueSetSession,
    VenueWireIn,
    VenueWireSent,
    VenueRecovered,
    SetLiquidity,
]
