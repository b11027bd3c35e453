"""The shard's books (``actors/account/books.py``): fills into lots, the order's lot choice,
loaded positions, the admin lot method, get_lots / get_gains / get_account P&L, snapshots."""

from __future__ import annotations

from datetime import date

import msgspec
import pytest

from actors.account.core import AccountState
from model import fixed, lots
from model.calendar import trading_day
from model.config import AccountSeed
from model.enums import OrderStatus, Side
from model.messages import (
    AccountReply,
    GainsReply,
    LotsReply,
    MarketUpdate,
    NewLotOrder,
    QueryAccount,
    QueryGains,
    QueryLots,
    RequestRejected,
    SetLotMethod,
)
from tests.unit.actors.account.support import DAY, IBM, LIMITS, NOW, OPT, REPLY, XYZ, D, account, fill, make_state, only_report, order, run

TZ = LIMITS.open_timezone


def buy(state: AccountState, cloid: str, qty: str, price: str, now: int = NOW) -> str:
    order_id = only_report(run(state, order(cloid, qty=qty, price=price), now)).order_id
    run(state, _trade(order_id, qty, price, now), now)
    return order_id


def _trade(order_id: str, qty: str, price: str, now: int):  # type: ignore[no-untyped-def]
    from model.enums import VenueEventKind
    from model.messages import OrderUpdate

    return OrderUpdate(order_id, "A1", VenueEventKind.TRADE, D(qty), D(price), None, "SIM", now, False)


def sell(state: AccountState, cloid: str, qty: str, price: str, now: int = NOW, **lot_fields: object) -> str:
    new = order(cloid, side=Side.SELL, qty=qty, price=price)
    message = NewLotOrder(new.account, new.client_order_id, new.spec, new.reply, **lot_fields) if lot_fields else new  # type: ignore[arg-type]
    report = only_report(run(state, message, now))
    if report.status is not OrderStatus.NEW:
        return report.order_id
    run(state, _trade(report.order_id, qty, price, now), now)
    return report.order_id


def answer(state: AccountState, message: object, now: int = NOW) -> object:
    (send,) = run(state, message, now)
    return send.message


def test_fills_open_and_close_lots_and_the_position_cost_is_the_open_lots() -> None:
    state = make_state()
    buy(state, "b1", "10", "140", NOW)
    buy(state, "b2", "10", "150", NOW + DAY)
    sell(state, "s1", "15", "160", NOW + 2 * DAY)
    books = account(state).books
    assert [(lot.lot_id, lot.qty, lot.cost) for lot in lots.open_lots(books, "IBM")] == [(2, D("5"), D("750"))]
    assert account(state).positions["IBM"].cost == D("750") * fixed.SCALE
    gains = answer(state, QueryGains("A1", REPLY, 1, 10**6, 10), NOW + 2 * DAY)
    assert isinstance(gains, GainsReply) and [(c.lot_id, c.qty, c.gain) for c in gains.closings] == [(1, D("10"), D("200")), (2, D("5"), D("50"))]
    assert (gains.count, gains.short_term, gains.long_term, gains.next_cursor) == (2, D("250"), 0, None)


def test_an_order_names_its_lots_or_its_method() -> None:
    state = make_state()
    for n, price in enumerate(("140", "160", "150")):
        buy(state, f"b{n}", "10", price, NOW + n * DAY)
    sell(state, "s1", "12", "155", NOW + 5 * DAY, lot_method="specific", lots=((3, D("4")), (2, D("8"))))
    sell(state, "s2", "1", "155", NOW + 5 * DAY, lot_method="lifo")
    closed = [(c.lot_id, c.qty) for c in lots.closing_rows(account(state).books, lots.closings_array(account(state).books))]
    assert closed == [(3, D("4")), (2, D("8")), (3, D("1"))]


def test_a_sell_naming_a_lot_it_may_not_close_is_rejected_and_changes_nothing() -> None:
    state = make_state()
    buy(state, "b1", "10", "150")
    other = make_state()  # lot 1 of another account is no lot of this one
    for lot_choice, reason in (((7, D("1")),), "unknown_lot"), (((1, D("11")),), "lot_qty_exceeded"):
        before = msgspec.msgpack.encode(account(state).books)
        new = order(f"s{reason}", side=Side.SELL, qty="1", price="150")
        report = only_report(run(state, NewLotOrder("A1", new.client_order_id, new.spec, REPLY, "specific", lot_choice), NOW))
        assert report.status is OrderStatus.REJECTED and report.reason == reason
        assert msgspec.msgpack.encode(account(state).books) == before
    assert other.accounts["A1"].books is not None and not other.accounts["A1"].books.lots
    xyz = order("sx", side=Side.SELL, qty="1", price="25", symbol="XYZ")
    report = only_report(run(state, NewLotOrder("A1", "sx", xyz.spec, REPLY, "specific", ((1, D("1")),)), NOW))
    assert report.reason in ("insufficient_position", "unknown_lot")  # lot 1 is IBM's, not XYZ's


def test_the_admin_lot_method_is_the_account_default() -> None:
    state = make_state()
    buy(state, "b1", "10", "140")
    buy(state, "b2", "10", "160")
    run(state, SetLotMethod("A1", "hifo"))
    sell(state, "s1", "5", "150")
    assert lots.closing_rows(account(state).books, lots.closings_array(account(state).books))[0].lot_id == 2
    run(state, SetLotMethod("A1", "specific"))  # not an account's method: refused, nothing changed
    run(state, SetLotMethod("NOPE", "lifo"))
    assert account(state).books.method == "hifo" and len(state.anomalies) == 2


def test_get_lots_marks_at_the_mid_and_get_account_shows_pnl() -> None:
    state = make_state()
    buy(state, "b1", "10", "150")
    run(state, MarketUpdate("IBM", D("159"), D("161"), D("160"), False, NOW))
    reply = answer(state, QueryLots("A1", REPLY))
    assert isinstance(reply, LotsReply) and reply.method == "fifo"
    (lot,) = reply.lots
    assert (lot.symbol, lot.mark, lot.unrealized, lot.long_term) == ("IBM", D("160"), D("100"), False)
    sell(state, "s1", "4", "155", NOW + DAY)
    view = answer(state, QueryAccount("A1", REPLY), NOW + DAY)
    assert isinstance(view, AccountReply)
    (position,) = view.positions
    assert (position.qty, position.avg_cost, position.mark, position.unrealized) == (D("6"), D("150"), D("160"), D("60"))
    assert (view.realized_today, view.realized_ytd) == (D("20"), D("20"))
    later = answer(state, QueryAccount("A1", REPLY), NOW + 2 * DAY)
    assert isinstance(later, AccountReply) and later.realized_today == 0 and later.realized_ytd == D("20")


def test_get_gains_pages_with_totals_of_the_whole_range_and_refuses_bad_cursors() -> None:
    state = make_state()
    for n in range(5):
        buy(state, f"b{n}", "1", "150", NOW + n * DAY)
    for n in range(5):
        sell(state, f"s{n}", "1", str(151 + n), NOW + (10 + n) * DAY)
    first_day = trading_day(NOW + 11 * DAY, LIMITS.open_timezone)
    page = answer(state, QueryGains("A1", REPLY, first_day, first_day + 2, 2))
    assert isinstance(page, GainsReply) and [c.gain for c in page.closings] == [D("2"), D("3")]
    assert (page.count, page.short_term, page.next_cursor) == (3, D("9"), 2)
    rest = answer(state, QueryGains("A1", REPLY, first_day, first_day + 2, 2, page.next_cursor))
    assert isinstance(rest, GainsReply) and [c.gain for c in rest.closings] == [D("4")] and rest.next_cursor is None
    refused = answer(state, QueryGains("A1", REPLY, first_day, first_day, 2, 99))
    assert isinstance(refused, RequestRejected) and refused.code == "invalid_request"
    unknown = answer(state, QueryGains("B9", REPLY, first_day, first_day, 2))
    assert isinstance(unknown, RequestRejected) and unknown.code == "forbidden"
    assert isinstance(answer(state, QueryLots("B9", REPLY)), RequestRejected)


def test_loaded_positions_are_lots_at_the_given_cost_and_date_or_the_reference() -> None:
    state = AccountState("account-0", [IBM, XYZ, OPT], LIMITS)
    day = date(2024, 3, 1).toordinal()
    seed = AccountSeed("A1", "t", D("1000"), False, (("IBM", D("10")), ("OPT", D("2"))), basis=(("IBM", D("1400"), day),))
    state.open_account(seed, NOW)
    books = account(state).books
    (ibm,) = lots.open_lots(books, "IBM")
    assert ibm.cost == D("1400") and ibm.acquired == lots.day_start_ns(day, LIMITS.open_timezone)
    (opt,) = lots.open_lots(books, "OPT")
    assert opt.cost == D("1500") and opt.acquired == NOW  # 2 contracts × 7.50 × 100
    state.check_invariants()


def test_snapshot_keeps_the_books_and_an_old_record_gets_lots_from_its_positions() -> None:
    state = make_state()
    buy(state, "b1", "3", "150.005")
    sell(state, "s1", "1", "151")
    restored = AccountState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(state.snapshot()), type=type(state.snapshot())))
    assert restored.state_hash() == state.state_hash()
    restored.check_invariants()
    old = account(restored)
    old.books = None
    old.positions["IBM"].cost = D("2") * D("150.005")  # as kept before lots: Σ qty × price per unit
    migrated = AccountState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(restored.snapshot()), type=type(state.snapshot())))
    (lot,) = lots.open_lots(account(migrated).books, "IBM")
    assert (lot.qty, lot.cost) == (D("2"), D("300.01"))
    migrated.check_invariants()


def test_get_orders_shows_the_gain_each_order_realized_and_nothing_for_one_that_closed_none() -> None:
    from model.messages import OrdersReply, QueryOrders
    from model.views import orders_view
    from server.gateway import protocol

    state = make_state()
    first = buy(state, "b1", "10", "140", NOW)
    buy(state, "b2", "10", "150", NOW + DAY)
    sale = sell(state, "s1", "15", "160", NOW + 2 * DAY)  # 10 from lot 1 (+200), 5 from lot 2 (+50)
    loss = sell(state, "s2", "5", "149", NOW + 3 * DAY)  # the rest of lot 2: −5
    page = answer(state, QueryOrders("A1", False, REPLY), NOW + 3 * DAY)
    assert isinstance(page, OrdersReply) and page.realized == {sale: D("250"), loss: D("-5")}
    views = {view["order_id"]: view for view in orders_view(page)}
    assert (views[sale]["realized"], views[loss]["realized"], "realized" in views[first]) == ("250.00", "-5.00", False)
    framed = msgspec.json.decode(protocol.orders_reply(page))
    assert {o["order_id"]: o.get("realized") for o in framed["orders"]} == {o: v.get("realized") for o, v in views.items()}


BIG_LIMITS = msgspec.structs.replace(LIMITS, max_order_qty=D("100000000"), max_order_notional=D("9000000000"))


@pytest.mark.parametrize("long", [True, False])
def test_round_trips_past_what_64_bits_hold_keep_snapshots_the_hash_and_the_checks_working(long: bool) -> None:
    """Σ the cost of every lot an account ever opened passes 2^64 (or, selling short, -2^63)
    by legal round trips of some $4.5B: the shard still snapshots, restores to the same hash,
    and passes its checks, and the position's cost is its lots'."""
    state = make_state("5000000000.00", allow_short=not long, limits=BIG_LIMITS)
    for trip in range(6):
        now = NOW + trip * DAY
        if long:
            buy(state, f"b{trip}", "30000000", "150", now)
            sell(state, f"s{trip}a", "10000000", "149", now)  # from the first lot (``book_closing``)
            sell(state, f"s{trip}b", "20000000", "149", now, lot_method="hifo")  # (``book_fill``)
        else:
            sell(state, f"s{trip}", "30000000", "150", now)
            buy(state, f"b{trip}a", "10000000", "151", now)
            buy(state, f"b{trip}b", "20000000", "151", now)
        (buy if long else sell)(state, f"x{trip}", "1", "150", now)  # a lot left open
        position = account(state).positions["IBM"]
        assert position.qty == (trip + 1) * D("1" if long else "-1")
        assert position.cost == lots.held(account(state).books, "IBM")[1] * fixed.SCALE
    closed = lots.closings_array(account(state).books)["cost"].tolist()
    assert sum(closed) > 2**64 if long else sum(closed) < -(2**63)
    restored = AccountState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(state.snapshot()), type=type(state.snapshot())))
    assert restored.state_hash() == state.state_hash()
    restored.check_invariants()
    assert account(restored).positions["IBM"].cost == lots.held(account(restored).books, "IBM")[1] * fixed.SCALE
