"""VenueSession core: the child orders at one venue and the adapter that speaks to it.

The adapter (sim or FIX) is itself driven with ``now``; this core turns instrument-actor
commands into adapter calls and adapter events into messages for instrument actors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import ClassVar

import msgspec
import structlog

from actors.runtime.outputs import ALL, INSTRUMENT, Dispatcher, Outputs
from adapters.base import VenueAdapter, VenueEvent
from adapters.factory import AdapterSnapshot, restore_adapter
from model.enums import SessionState, VenueEventKind
from model.messages import (
    Message,
    VenueCancel,
    VenueCancelAll,
    VenueNewOrder,
    VenueQuote,
    VenueRecovered,
    VenueReplace,
    VenueReport,
    VenueSessionChanged,
    VenueSetSession,
    VenueStart,
    VenueTick,
    VenueWireIn,
    VenueWireSent,
)

log = structlog.get_logger("venues")

_FINAL = frozenset({VenueEventKind.CANCELED, VenueEventKind.EXPIRED, VenueEventKind.REJECTED})


class VenueSnapshot(msgspec.Struct):
    """A venue session in a snapshot: its own state and its adapter's (tagged by kind)."""

    kind: ClassVar[str] = "venue"

    name: str
    supports_cancel_all: bool
    started: bool
    child_symbols: dict[str, str]  # in the order the children were sent
    adapter: AdapterSnapshot


class VenueState(Dispatcher):
    """Owns the child orders sent to one venue. ``apply`` looks each message's handler up
    in one table (``_handlers``, below) rather than testing its type against every kind.

    Guarantees: each child order is submitted to the adapter once (a repeated child id is
    refused by the venue, never sent twice); every venue event about a child goes to the
    instrument actor of the child's symbol; quotes go to the symbol's instrument actor.
    """

    def __init__(self, name: str, adapter: VenueAdapter, supports_cancel_all: bool = True) -> None:
        self.name = name
        self.adapter = adapter
        self.supports_cancel_all = supports_cancel_all
        self.started = False
        self.child_symbols: dict[str, str] = {}
        self.out = Outputs()

    def start(self, now: int) -> None:
        self.started = True
        self._emit(self.adapter.start(now))

    def _tick(self, message: VenueTick, now: int) -> None:
        self.advance(now)

    def _start(self, message: VenueStart, now: int) -> None:
        if not self.started:
            self.start(now)

    def _set_session(self, message: VenueSetSession, now: int) -> None:
        self.set_session(SessionState(message.state), now)

    def _wire_in(self, message: VenueWireIn, now: int) -> None:  # only a venue with a wire session (FIX) gets these
        self._emit(self.adapter.receive(message.raw, now))

    def _wire_sent(self, message: VenueWireSent, now: int) -> None:
        self.adapter.record_sent(message.seq, message.msg_type, message.cl_ord_id)

    def _recovered(self, message: VenueRecovered, now: int) -> None:
        self._emit(self.adapter.recovered(message.sent, message.unsent, now))

    def _new_order(self, message: VenueNewOrder, now: int) -> None:
        if message.child_id in self.child_symbols:
            log.warning("duplicate child order refused", venue=self.name, child_id=message.child_id)
            return
        self.child_symbols[message.child_id] = message.spec.symbol
        self._emit(self.adapter.submit(message, now))

    def _cancel(self, message: VenueCancel, now: int) -> None:
        self._emit(self.adapter.cancel(message.child_id, now))

    def _replace(self, message: VenueReplace, now: int) -> None:
        self._emit(self.adapter.replace(message, now))

    def _cancel_all(self, message: VenueCancelAll, now: int) -> None:
        """The venue's own cancel-all where it has one (``supports_cancel_all``), else one
        cancel per child open here in the symbols, in the order they were sent."""
        if self.supports_cancel_all:
            self._emit(self.adapter.cancel_all(message.symbols, now))
            return
        wanted = set(message.symbols)  # emulated: one cancel per working child, in order
        for child_id, symbol in list(self.child_symbols.items()):
            if symbol in wanted:
                self._emit(self.adapter.cancel(child_id, now))

    def reconcile(self) -> dict[str, list[str]]:
        """Compare the child orders this session believes open with what the venue works
        (after a restart). Both lists empty: in agreement."""
        at_venue = set(self.adapter.open_orders())
        here = set(self.child_symbols)
        return {"unknown_at_venue": sorted(here - at_venue), "unknown_here": sorted(at_venue - here)}

    def advance(self, now: int) -> None:
        """Let time pass at the venue (quotes, resting fills, the session clock)."""
        self._emit(self.adapter.advance(now))

    def set_session(self, state: SessionState, now: int) -> None:
        self._emit(self.adapter.set_session(state, now))

    def next_wakeup(self) -> int | None:
        return self.adapter.next_wakeup()

    def _emit(self, events: list[VenueEvent]) -> None:
        for event in events:
            if event.__class__ is VenueQuote:  # most of what a venue says: every symbol's quote, every tick
                self.out.to(INSTRUMENT, event.symbol, event)
            elif isinstance(event, VenueReport):
                symbol = self.child_symbols.get(event.child_id)
                if symbol is None:
                    log.warning("report for unknown child", venue=self.name, child_id=event.child_id)
                    continue
                self.out.to(INSTRUMENT, symbol, event)
                if event.kind in _FINAL or event.done:
                    del self.child_symbols[event.child_id]
            elif isinstance(event, VenueSessionChanged):
                self.out.to(INSTRUMENT, ALL, event)

    _handlers: ClassVar[dict[type, Callable[..., None]]] = {
        VenueTick: _tick,
        VenueStart: _start,
        VenueSetSession: _set_session,
        VenueCancelAll: _cancel_all,
        VenueWireIn: _wire_in,
        VenueWireSent: _wire_sent,
        VenueRecovered: _recovered,
        VenueNewOrder: _new_order,
        VenueCancel: _cancel,
        VenueReplace: _replace,
    }

    snapshot_type: ClassVar[type[VenueSnapshot]] = VenueSnapshot

    def snapshot(self) -> VenueSnapshot:
        return VenueSnapshot(self.name, self.supports_cancel_all, self.started, self.child_symbols, self.adapter.snapshot())

    @classmethod
    def restore(cls, state: VenueSnapshot) -> VenueState:
        core = cls(state.name, restore_adapter(state.adapter), state.supports_cancel_all)
        core.started, core.child_symbols = state.started, state.child_symbols
        return core

    def check_invariants(self) -> None:
        self.adapter.check_invariants()

    def state_hash(self) -> str:
        return hashlib.sha256(msgspec.msgpack.encode((self.started, self.child_symbols, self.adapter.state_hash()))).hexdigest()
