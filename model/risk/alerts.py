"""Risk alerts as pure functions: which conditions an account is in now, and what changed
against the alerts it has raised (its *memory*).

An alert is a key (``kind:subject``) with the figure that raised it. A condition holds while
its figure is *above* its threshold; it is raised once when it starts to hold, and cleared
(armed again) once it stops — never again on each quote while it holds (hysteresis).

Kinds:

- ``limit`` — one per portfolio limit the account has (subject: the limit's name, as
  ``PortfolioLimits.wire`` names it), on the same portfolio and figures as the pre-trade
  check (positions plus open orders, at the marks);
- ``drawdown`` — the fall from the high-water mark above ``[portfolio] drawdown_alert_pct``;
- ``correlation`` — two symbols the account holds whose EWMA correlation in the journaled
  risk model is above ``correlation_alert`` (subject ``A/B``, ``A`` < ``B``);
- ``volatility`` — a symbol held whose EWMA volatility is above its window's equal-weight
  volatility by more than ``volatility_jump_pct`` (subject: the symbol).

Guarantees: pure, on fixed-point inputs and the journaled model only (floats inside the VaR
and the model's figures, as the pre-trade check); the same inputs give the same keys and
texts, so replay raises and clears exactly what live did.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import msgspec

from model import fixed
from model.risk.limits import PortfolioLimits, RiskModel, by_sector, drawdown, over_share

LIMIT, DRAWDOWN, CORRELATION, VOLATILITY = "limit", "drawdown", "correlation", "volatility"
RAISED, CLEARED = "raised", "cleared"
MARKED = frozenset({LIMIT, DRAWDOWN})  # the kinds a mark move can change (the others follow the holdings)
ALL_KINDS = frozenset({LIMIT, DRAWDOWN, CORRELATION, VOLATILITY})


class Condition(NamedTuple):
    kind: str
    subject: str
    value: str
    threshold: str


class Raised(msgspec.Struct, array_like=True):
    """An alert raised and not cleared yet: what raised it, and when."""

    kind: str
    subject: str
    value: str
    threshold: str
    ts: int


def key(kind: str, subject: str) -> str:
    return f"{kind}:{subject}" if subject else kind


def _pct(fraction: int) -> str:
    return fixed.format(fraction * 100)


def _money_float(value: float) -> str:
    return fixed.format(int(round(value * 100)) * fixed.SCALE // 100)


def share(amount: int, equity: int) -> str:
    """``amount ÷ equity`` as a percent string; ``inf`` without equity."""
    if equity <= 0:
        return "inf"
    return _pct(amount * fixed.SCALE // equity)


def limit_conditions(
    exposures: dict[str, int], equity: int, high_water: int, limits: PortfolioLimits, model: RiskModel | None, sector_of: dict[str, str] | None = None
) -> list[Condition]:
    """Each limit the portfolio ``exposures`` is over, with its figure (the tests of
    ``model.risk.limits.breach``, each on its own)."""
    found = []
    wire = limits.wire()
    if limits.max_drawdown is not None and (fall := drawdown(equity, high_water)) > limits.max_drawdown:
        found.append(Condition(LIMIT, "max_drawdown_pct", _pct(fall), wire["max_drawdown_pct"] or ""))
    gross = sum(abs(v) for v in exposures.values())
    if limits.max_gross is not None and gross > limits.max_gross:
        found.append(Condition(LIMIT, "max_gross_exposure", fixed.format(gross), wire["max_gross_exposure"] or ""))
    if limits.max_concentration is not None and exposures:
        largest = max(abs(v) for v in exposures.values())
        if largest and largest * fixed.SCALE > limits.max_concentration * max(equity, 0):
            found.append(Condition(LIMIT, "max_concentration_pct", share(largest, equity), wire["max_concentration_pct"] or ""))
    if limits.max_sector is not None and exposures and sector_of is not None:
        sectors = by_sector(exposures, sector_of)
        sector = max(sorted(sectors), key=lambda name: sectors[name])
        if over_share(sectors[sector], limits.max_sector, equity):
            found.append(Condition(LIMIT, "max_sector_pct", f"{sector} {share(sectors[sector], equity)}", wire["max_sector_pct"] or ""))
    if limits.max_var is not None and model is not None:
        var = model.var(exposures)
        if var * fixed.SCALE > limits.max_var:
            found.append(Condition(LIMIT, "max_var", _money_float(var), wire["max_var"] or ""))
    return found


def drawdown_condition(equity: int, high_water: int, threshold: int | None) -> list[Condition]:
    if threshold is None or (fall := drawdown(equity, high_water)) <= threshold:
        return []
    return [Condition(DRAWDOWN, "", _pct(fall), _pct(threshold))]


def correlation_conditions(held: Iterable[str], pairs: dict[str, dict[str, float]], threshold: int | None) -> list[Condition]:
    """The pairs of ``held`` symbols among the model's correlated ``pairs``."""
    if threshold is None or not pairs:
        return []
    return PairConditions(pairs, threshold).of(held)


class PairConditions:
    """The correlation conditions a holding can meet under one risk model, made once: for each
    symbol, the conditions of its correlated pairs with a later symbol, formatted. A review
    (after each fill, at the open millions of them) then only picks those whose both symbols
    are held. Guarantees: ``of(held)`` is ``correlation_conditions(held, pairs, threshold)``."""

    __slots__ = ("by_first",)

    def __init__(self, pairs: dict[str, dict[str, float]], threshold: int) -> None:
        text = fixed.format(threshold)
        self.by_first: dict[str, list[tuple[str, Condition]]] = {}
        for a, others in pairs.items():
            later = [(b, Condition(CORRELATION, f"{a}/{b}", f"{rho:.4f}", text)) for b, rho in sorted(others.items()) if a < b]
            if later:
                self.by_first[a] = later

    def of(self, held: Iterable[str]) -> list[Condition]:
        held = set(held)
        by_first = self.by_first
        return [condition for a in sorted(held) if a in by_first for b, condition in by_first[a] if b in held]


def volatility_conditions(held: Iterable[str], jumps: dict[str, float], threshold: int | None) -> list[Condition]:
    if threshold is None or not jumps:
        return []
    text = _pct(threshold)
    return [Condition(VOLATILITY, s, f"{jumps[s] * 100:.2f}", text) for s in sorted(held) if s in jumps]


def changes(memory: dict[str, Raised], now: list[Condition], kinds: frozenset[str], ts: int) -> tuple[list[Raised], list[Raised]]:
    """What to raise (conditions not in ``memory``) and what to clear (alerts of ``kinds``
    in ``memory`` whose condition no longer holds, as they were raised); ``memory`` is
    updated in place. Conditions already
    raised change nothing: one alert per crossing."""
    holding = {key(c.kind, c.subject): c for c in now}
    raised = [Raised(c.kind, c.subject, c.value, c.threshold, ts) for k, c in holding.items() if k not in memory]
    cleared = [alert for k, alert in memory.items() if alert.kind in kinds and k not in holding]
    for alert in cleared:
        del memory[key(alert.kind, alert.subject)]
    for alert in raised:
        memory[key(alert.kind, alert.subject)] = alert
    return raised, cleared
