"""What the account shard's tests share: instruments, limits, a state, orders and events."""

from __future__ import annotations

from typing import Any

from actors.account.core import AccountState
from actors.account.risk import RiskLimits
from actors.runtime.outputs import GATEWAY, INSTRUMENT, Send
from model import fixed
from model.config import AccountSeed
from model.enums import AssetClass, OrderType, Side, TimeInForce, VenueEventKind
from model.instruments import Instrument
from model.messages import ExecutionReport, NewOrder, OrderUpdate, Reply, RouteOrder
from model.orders import OrderSpec

D = fixed.parse
NOW = 1_700_000_000_000_000_000
IBM = Instrument("IBM", AssetClass.EQUITY, D("0.01"), D("0.000001"), D("150"))
XYZ = Instrument("XYZ", AssetClass.EQUITY, D("0.01"), fixed.SCALE, D("25"))
OPT = Instrument("OPT", AssetClass.OPTION, D("0.05"), fixed.SCALE, D("7.50"), multiplier=100)
FUND = Instrument("VFIAX", AssetClass.MUTUAL_FUND, D("0.01"), D("0.001"), D("450"))
LIMITS = RiskLimits(max_order_qty=D("1000"), max_order_notional=D("100000"), price_band=D("0.10"), market_collar=D("0.05"))
REPLY = Reply("gateway-0", 1, b"7")
DAY = 86_400 * 1_000_000_000


def make_state(cash: str = "100000.00", allow_short: bool = False, limits: RiskLimits = LIMITS) -> AccountState:
    state = AccountState("account-0", [IBM, XYZ, OPT, FUND], limits)
    state.open_account(AccountSeed("A1", "trader1", D(cash), allow_short))
    return state


def order(
    cloid: str = "c1",
    side: Side = Side.BUY,
    qty: str | None = "10",
    price: str | None = "150.00",
    order_type: OrderType = OrderType.LIMIT,
    symbol: str = "IBM",
    tif: TimeInForce = TimeInForce.DAY,
    notional: str | None = None,
    stop_price: str | None = None,
) -> NewOrder:
    spec = OrderSpec(
        symbol, side, order_type, tif,
        D(qty) if qty else None, D(notional) if notional else None,
        D(price) if price else None, D(stop_price) if stop_price else None,
    )
    return NewOrder("A1", cloid, spec, REPLY)


def run(state: AccountState, message: Any, now: int = NOW) -> list[Send]:
    """``message`` applied as a turn of its own (as ``Machine.apply_batches`` does)."""
    state.apply(message, now)
    state.end_turn(now)
    sends = state.out.drain()
    state.check_invariants()
    return sends


def reports(sends: list[Send]) -> list[ExecutionReport]:
    """The reports for the traders (each fill is also copied to the drop copy)."""
    return [s.message for s in sends if isinstance(s.message, ExecutionReport) and s.kind == GATEWAY]


def only_report(sends: list[Send]) -> ExecutionReport:
    found = reports(sends)
    assert len(found) == 1, sends
    return found[0]


def fill(state: AccountState, order_id: str, qty: str, price: str, done: bool = False) -> list[Send]:
    return run(state, OrderUpdate(order_id, "A1", VenueEventKind.TRADE, D(qty), D(price), None, "SIM", NOW, done))


def venue_event(state: AccountState, order_id: str, kind: VenueEventKind, reason: str | None = None) -> list[Send]:
    return run(state, OrderUpdate(order_id, "A1", kind, 0, None, reason, "SIM", NOW))


def account(state: AccountState):  # type: ignore[no-untyped-def]
    return state.accounts["A1"]


def seed_position(state: AccountState, qty: str, price: str = "150.00") -> None:
    routed = run(state, order("seed", qty=qty, price=price))
    fill(state, only_report(routed).order_id, qty, price)


def routed(sends: list[Send]) -> list[Send]:
    return [s for s in sends if s.kind == INSTRUMENT and isinstance(s.message, RouteOrder)]
