"""Portfolio risk (``docs/risk.md``): the model a shard decides with, the operator's limits
and trading states. Each is journaled where it is applied, like ``SetRiskLimits``, so
replay and a restart decide every order exactly as live did. Tags 160–179."""

from __future__ import annotations

from typing import Union

import msgspec

from model.messages.base import MessageBase
from model.risk.limits import PortfolioLimits, RiskModel

__all__ = ["PortfolioConfig", "RiskAlert", "RiskMessage", "SetAccountTradingState", "SetPortfolioLimits", "SetPortfolioModel"]


class PortfolioConfig(msgspec.Struct, frozen=True):
    """``[portfolio]``'s limits as the configuration read at a start resolves them: the
    default of every account, and those named per group and per account."""

    checks: bool = True
    default: PortfolioLimits = PortfolioLimits()
    groups: dict[str, PortfolioLimits] = msgspec.field(default_factory=dict)
    accounts: dict[str, PortfolioLimits] = msgspec.field(default_factory=dict)
    # the alerts' thresholds (fractions, scale 10^-9); ``None``: that alert is off
    correlation_alert: int | None = None
    volatility_jump: int | None = None
    drawdown_alert: int | None = None


class SetPortfolioModel(MessageBase, frozen=True, gc=False, tag=160):
    """What a shard's portfolio checks decide with from now on: the risk model made from the
    history at this start and the configuration's limits. A shard journals it to itself when
    they differ from the ones its state holds (as ``SetRiskLimits``)."""

    model: RiskModel | None
    config: PortfolioConfig


class SetPortfolioLimits(MessageBase, frozen=True, gc=False, tag=161):
    """The operator's limits of one account, or of every account of a group (``group`` set,
    ``account`` empty); they take precedence over the configuration's. ``clear``: drop the
    operator's limits of the target (the configuration's apply again). ``tenant``: whose
    group it is — a tenant's own (two tenants' groups of one name are two groups), or, empty,
    every tenant's group of that name (the platform operator's; every one journaled before
    groups had a tenant here)."""

    account: str = ""
    group: str = ""
    limits: PortfolioLimits = PortfolioLimits()
    clear: bool = False
    tenant: str = ""


class SetAccountTradingState(MessageBase, frozen=True, gc=False, tag=162):
    """The operator sets an account's trading state: ``active``, ``reducing``, ``halted``."""

    account: str
    state: str


class RiskAlert(MessageBase, frozen=True, gc=False, tag=163):
    """An account's risk alert changed (``docs/risk.md#alerts``), to the gateways' ``risk``
    followers: ``state`` ``raised`` when a figure crossed its threshold, ``cleared`` when it
    went back to or below it (the alert is armed again). ``kind``: ``limit`` (``subject``:
    the limit's name), ``drawdown``, ``correlation`` (``subject``: ``A/B``), ``volatility``
    (``subject``: the symbol). ``value`` and ``threshold`` as the operator reads them;
    ``trading_state``: the account's after the change."""

    account: str
    kind: str
    subject: str
    state: str
    value: str
    threshold: str
    trading_state: str
    ts: int


RiskMessage = Union[SetPortfolioModel, SetPortfolioLimits, SetAccountTradingState, RiskAlert]
