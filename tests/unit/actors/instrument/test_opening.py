"""The open in the InstrumentActor core: netting, blocks, allocation back to every order."""

from __future__ import annotations

from fractions import Fraction

from actors.instrument.core import InstrumentState
from actors.runtime.outputs import ACCOUNT, DROP_COPY, GATEWAY, VENUE, Send
from model import fixed
from model.config import VenueSection
from model.enums import AssetClass, OrderType, Reason, Side, TimeInForce, VenueEventKind
from model.instruments import Instrument
from tests.unit.actors.instrument.support import as_updates
from model.messages import (
    AdminCancelAll,
    AllocationReport,
    CancelRoute,
    OpenMarket,
    OrderUpdate,
    QuoteEvent,
    RouteOrder,
    SetTradingStatus,
    StrikeNav,
    VenueCancel,
    VenueNewOrder,
    VenueQuote,
    VenueReport,
)
from model.orders import OrderSpec

D = fixed.parse
IBM = Instrument("IBM", AssetClass.EQUITY, D("0.01"), D("0.000001"), D("150"))
OPT = Instrument("IBM-C150", AssetClass.OPTION, D("0.01"), fixed.SCALE, D("2.50"), multiplier=100)
FUND = Instrument("VFIAX", AssetClass.MUTUAL_FUND, D("0.01"), D("0.001"), D("400"))
NOW = 1_700_000_000 * 1_000_000_000


def make_state() -> InstrumentState:
    return InstrumentState("instrument-0", [IBM, OPT, FUND], [VenueSection(name="SIM")])


def run(state: InstrumentState, message: object, now: int = NOW) -> list[Send]:
    state.apply(message, now)  # type: ignore[arg-type]
    sends = as_updates(as_updates(state.out.drain()))
    state.check_invariants()
    return sends


def opg(
    order_id: str,
    side: Side,
    qty: str | None = None,
    notional: str | None = None,
    account: str = "A1",
    symbol: str = "IBM",
    order_type: OrderType = OrderType.MARKET,
    price: str | None = None,
    qty_cap: str | None = None,
) -> RouteOrder:
    return RouteOrder(
        order_id,
        account,
        OrderSpec(
            symbol,
            side,
            order_type,
            TimeInForce.OPG,
            D(qty) if qty else None,
            D(notional) if notional else None,
            D(price) if price else None,
            None,
        ),
        D(qty_cap) if qty_cap else None,
    )


def of_type(sends: list[Send], kind: type) -> list:  # type: ignore[type-arg]
    return [s.message for s in sends if isinstance(s.message, kind)]


def trade(child_id: str, qty: str, price: str, done: bool = False) -> VenueReport:
    return VenueReport("SIM", child_id, VenueEventKind.TRADE, D(qty), D(price), None, NOW, done)


def booked(updates: list[OrderUpdate]) -> dict[str, tuple[int, int]]:
    """order id → (qty, cash) over its trades."""
    result: dict[str, tuple[int, int]] = {}
    for update in updates:
        if update.kind is VenueEventKind.TRADE:
            qty, cash = result.get(update.order_id, (0, 0))
            assert update.cash is not None
            result[update.order_id] = (qty + update.last_qty, cash + update.cash)
    return result


def test_orders_for_the_open_wait_until_the_open_then_go_as_one_netted_block() -> None:
    state = make_state()
    for index, (side, qty) in enumerate([(Side.BUY, "0.3"), (Side.BUY, "1.3"), (Side.SELL, "0.5"), (Side.BUY, "10")]):
        assert run(state, opg(f"o{index}", side, qty)) == []
    sends = run(state, OpenMarket([]))
    [block] = of_type(sends, VenueNewOrder)
    assert (block.spec.side, block.spec.qty, block.spec.order_type) == (Side.BUY, D("11.1"), OrderType.MARKET)  # 11.6 bought, 0.5 sold
    assert of_type(sends, OrderUpdate) == []  # nothing is booked before the block is done


def test_a_block_filled_in_parts_at_several_prices_is_allocated_exactly_at_its_average_price() -> None:
    state = make_state()
    asks = {"b1": "0.3", "b2": "1.3", "b3": "2", "s1": "0.5"}
    for order_id, qty in asks.items():
        run(state, opg(order_id, Side.SELL if order_id.startswith("s") else Side.BUY, qty, account=order_id.upper()))
    [block] = of_type(run(state, OpenMarket([])), VenueNewOrder)
    assert block.spec.qty == D("3.1")
    run(state, trade(block.child_id, "1", "150.00"))
    sends = run(state, trade(block.child_id, "2.1", "150.07"))
    updates = of_type(sends, OrderUpdate)
    fills = booked(updates)
    average = Fraction(D("1") * D("150.00") + D("2.1") * D("150.07"), D("3.1"))  # per share, in nano-dollars
    # every order filled completely: the buys from the block plus the netted sell, at the block's average
    assert {order_id: qty for order_id, (qty, _) in fills.items()} == {k: D(v) for k, v in asks.items()}
    buy_cash = sum(cash for order_id, (_, cash) in fills.items() if order_id.startswith("b"))
    sell_cash = fills["s1"][1]
    exact_buys = average * D("3.6") / fixed.SCALE
    assert buy_cash == -(-exact_buys // fixed.CENT) * fixed.CENT  # buyers pay the value rounded up to the cent
    assert sell_cash == (average * D("0.5") / fixed.SCALE) // fixed.CENT * fixed.CENT  # the seller gets it rounded down
    assert all(cash % fixed.CENT == 0 for _, cash in fills.values())
    assert all(update.last_price == int(average) for update in updates if update.kind is VenueEventKind.TRADE)
    reports = of_type(sends, AllocationReport)
    assert [(r.side, sum(r.qtys)) for r in reports] == [(Side.BUY, D("3.6")), (Side.SELL, D("0.5"))]
    assert state.blocks == {}


def test_what_a_block_did_not_fill_expires_and_a_cancel_after_the_open_is_too_late() -> None:
    state = make_state()
    run(state, opg("b1", Side.BUY, "3", account="A"))
    run(state, opg("b2", Side.BUY, "1", account="B"))
    [block] = of_type(run(state, OpenMarket([])), VenueNewOrder)
    refused = of_type(run(state, CancelRoute("b1", "A", "IBM")), OrderUpdate)
    assert [u.kind for u in refused] == [VenueEventKind.CANCEL_REJECTED]
    run(state, trade(block.child_id, "2", "150"))
    sends = run(state, VenueReport("SIM", block.child_id, VenueEventKind.CANCELED, 0, None, "user_canceled", NOW))
    updates = of_type(sends, OrderUpdate)
    fills = booked(updates)
    assert fills == {"b1": (D("1.5"), D("225")), "b2": (D("0.5"), D("75"))}
    expired = [u.order_id for u in updates if u.kind is VenueEventKind.EXPIRED]
    assert expired == ["b1", "b2"] and all(u.reason == Reason.NOT_FILLED_AT_OPEN.value for u in updates if u.kind is VenueEventKind.EXPIRED)


def test_buys_and_sells_that_net_to_nothing_cross_at_the_reference_price_without_a_venue() -> None:
    state = make_state()
    run(state, opg("b1", Side.BUY, "2", account="A"))
    run(state, opg("s1", Side.SELL, "2", account="B"))
    sends = run(state, OpenMarket(["IBM"]))
    assert of_type(sends, VenueNewOrder) == []
    assert booked(of_type(sends, OrderUpdate)) == {"b1": (D("2"), D("300")), "s1": (D("2"), D("300"))}


def test_notional_orders_go_as_a_cash_block_and_never_cost_more_than_their_cash() -> None:
    state = make_state()
    cash = {"n1": "100.00", "n2": "33.33", "n3": "0.05"}
    for order_id, amount in cash.items():
        run(state, opg(order_id, Side.BUY, notional=amount, account=order_id.upper()))
    [block] = of_type(run(state, OpenMarket([])), VenueNewOrder)
    assert block.spec.notional == D("133.38") and block.spec.qty is None
    run(state, trade(block.child_id, "0.5", "150.01"))
    sends = run(state, trade(block.child_id, "0.389", "150.02", done=True))
    fills = booked(of_type(sends, OrderUpdate))
    assert sum(qty for qty, _ in fills.values()) == D("0.889")
    block_value = D("0.5") * D("150.01") + D("0.389") * D("150.02")
    assert sum(c for _, c in fills.values()) == -(-block_value // (fixed.CENT * fixed.SCALE)) * fixed.CENT
    for order_id, (_qty, paid) in fills.items():
        assert paid <= D(cash[order_id]), order_id
    [report] = of_type(sends, AllocationReport)
    assert sum(report.qtys) + state.residuals.get("IBM", [0, 0])[0] == D("0.889")


def test_an_order_for_the_open_routed_after_the_open_waits_for_the_next_one() -> None:
    # Too late for today's open is decided by the account shard, as the order's first report
    # (``open_passed``); what it let through (``late_orders = "next"``) waits here, never rejected.
    queued = make_state()
    run(queued, OpenMarket([]))
    assert run(queued, opg("late", Side.BUY, "1")) == []
    assert [m.spec.qty for m in of_type(run(queued, OpenMarket([])), VenueNewOrder)] == [D("1")]


def test_options_allocate_whole_contracts_with_the_multiplier_in_cash() -> None:
    state = make_state()
    run(state, opg("b1", Side.BUY, "3", account="A", symbol="IBM-C150"))
    run(state, opg("b2", Side.BUY, "2", account="B", symbol="IBM-C150"))
    [block] = of_type(run(state, OpenMarket([])), VenueNewOrder)
    fills = booked(of_type(run(state, trade(block.child_id, "5", "2.55")), OrderUpdate))
    assert fills == {"b1": (D("3"), D("765")), "b2": (D("2"), D("510"))}


def test_mutual_fund_orders_are_never_routed_and_fill_at_the_nav_struck() -> None:
    state = make_state()
    sends = run(state, RouteOrder("f1", "A", OrderSpec("VFIAX", Side.BUY, OrderType.MARKET, TimeInForce.DAY, None, D("1000.00"), None, None)))
    sends += run(state, RouteOrder("f2", "B", OrderSpec("VFIAX", Side.SELL, OrderType.MARKET, TimeInForce.DAY, D("2.5"), None, None, None)))
    sends += run(state, OpenMarket([]))
    assert [s for s in sends if s.kind == VENUE] == []
    updates = of_type(run(state, StrikeNav("VFIAX", D("401.23"))), OrderUpdate)
    assert [(u.order_id, u.last_qty, u.last_price) for u in updates] == [("f1", D("2.492"), D("401.23")), ("f2", D("2.5"), D("401.23"))]
    assert D("2.492") * D("401.23") <= D("1000.00") * fixed.SCALE < D("2.493") * D("401.23")


def test_a_fund_has_no_bid_or_ask_its_quote_is_the_last_nav_struck() -> None:
    state = make_state()
    stray = VenueQuote("SIM", "VFIAX", D("449.00"), D("10"), D("451.00"), D("10"), NOW)  # a venue that should not quote it
    assert [s for s in run(state, stray) if s.kind == GATEWAY] == []
    assert of_type(run(state, SetTradingStatus("VFIAX", True)), QuoteEvent) == []  # no NAV yet: nothing to show
    run(state, SetTradingStatus("VFIAX", False))
    sends = run(state, StrikeNav("VFIAX", D("401.23")))
    [quote] = of_type(sends, QuoteEvent)
    assert (quote.bid, quote.bid_size, quote.ask, quote.ask_size, quote.nav) == (None, 0, None, 0, D("401.23"))
    [market] = state.take_marks()
    assert (market.bid, market.ask, market.reference) == (None, None, D("401.23"))
    [equity] = of_type(run(state, VenueQuote("SIM", "IBM", D("149.99"), D("5"), D("150.01"), D("5"), NOW)), QuoteEvent)
    assert (equity.bid, equity.ask, equity.nav) == (D("149.99"), D("150.01"), None)


def test_an_operator_cancel_all_pulls_the_block_and_allocates_what_it_filled() -> None:
    state = make_state()
    run(state, opg("b1", Side.BUY, "4"))
    [block] = of_type(run(state, OpenMarket([])), VenueNewOrder)
    assert [m.child_id for m in of_type(run(state, AdminCancelAll(symbol="IBM")), VenueCancel)] == [block.child_id]
    assert of_type(run(state, AdminCancelAll(account="A1")), VenueCancel) == []  # one account cannot pull a block


def test_the_open_is_deterministic() -> None:
    def day() -> tuple[str, list[Send]]:
        state = make_state()
        for index in range(50):
            side = Side.BUY if index % 3 else Side.SELL
            run(state, opg(f"o{index:03d}", side, f"{index % 7 + 1}.{index:02d}", account=f"A{index}"))
        [block] = of_type(run(state, OpenMarket([])), VenueNewOrder)
        run(state, trade(block.child_id, "10", "150.01"))
        sends = run(state, trade(block.child_id, fixed.format(block.spec.qty - D("10")), "150.03"))
        return state.state_hash(), [s for s in sends if s.kind in (ACCOUNT, DROP_COPY)]

    assert day() == day()


def test_the_open_waits_for_its_marker_from_every_account_shard() -> None:
    state = InstrumentState("instrument-0", [IBM, OPT, FUND], [VenueSection(name="SIM")], shards=2)
    run(state, opg("o1", Side.BUY, "1"))
    assert run(state, OpenMarket([], open_id=1, shard="account-0")) == []
    assert run(state, OpenMarket([], open_id=1, shard="account-0")) == []  # a repeat counts once
    run(state, opg("o2", Side.BUY, "2"))  # routed by account-1 before its marker: in this open
    [block] = of_type(run(state, OpenMarket([], open_id=1, shard="account-1")), VenueNewOrder)
    assert block.spec.qty == D("3") and state.opens_done == {1: [1, 2]}
