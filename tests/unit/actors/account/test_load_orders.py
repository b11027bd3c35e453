"""A basket's chunk at the account shard (the pure core): each order entered as a
``new_order`` would be, in one turn, the chunk answered with its counts; idempotent."""

from __future__ import annotations

from actors.account.core import AccountState
from actors.runtime.outputs import ALL, GATEWAY, INSTRUMENT, Send
from model.enums import ExecType, OrderStatus, OrderType, Reason, Side, TimeInForce
from model.messages import ExecutionReport, LoadOrders, NewOrder, OrderColumns, OrdersLoaded, Reply, RouteOrder
from model.orders import OrderSpec
from tests.unit.actors.account.support import NOW, D, make_state, run

ANSWER_TO = Reply("gateway-0", 0, b"")

Row = tuple[str, str, str, Side, OrderType, TimeInForce, int | None, int | None, int | None]


def row(cloid: str, qty: str | None = "1", *, side: Side = Side.BUY, notional: str | None = None, account: str = "A1",
        price: str | None = None, tif: TimeInForce = TimeInForce.OPG) -> Row:
    order_type = OrderType.LIMIT if price else OrderType.MARKET
    return (account, cloid, "IBM", side, order_type, tif, D(qty) if qty else None, D(notional) if notional else None, D(price) if price else None)


def chunk(*rows: Row, load: int = 1, number: int = 0) -> LoadOrders:
    columns = OrderColumns(*(list(column) for column in zip(*rows, strict=True)))  # type: ignore[arg-type]
    return LoadOrders(load, number, columns, ANSWER_TO)


def answer(sends: list[Send]) -> OrdersLoaded:
    [found] = [send for send in sends if isinstance(send.message, OrdersLoaded)]
    assert (found.kind, found.key) == (GATEWAY, ANSWER_TO.gateway)
    assert isinstance(found.message, OrdersLoaded)
    return found.message


def test_a_chunk_enters_every_order_reports_it_to_the_followers_routes_it_and_answers_with_counts() -> None:
    state = make_state()
    sends = run(state, chunk(row("c1", "0.5"), row("c2", None, notional="100.00"), row("c3", "2", price="149.00", tif=TimeInForce.DAY)))
    reports = [send for send in sends if isinstance(send.message, ExecutionReport)]
    assert [(s.kind, s.key, s.message.exec_type, s.message.reply) for s in reports] == [(GATEWAY, ALL, ExecType.NEW, None)] * 3
    routes = [send.message for send in sends if send.kind == INSTRUMENT]
    assert [(r.order_id, r.spec.qty, r.spec.notional, r.spec.price) for r in routes if isinstance(r, RouteOrder)] == [
        ("account-0-1", D("0.5"), None, None),
        ("account-0-2", None, D("100.00"), None),
        ("account-0-3", D("2"), None, D("149.00")),
    ]
    done = answer(sends)
    assert (done.load, done.chunk, done.rows, done.accepted, done.already, done.rejected) == (1, 0, 3, 3, 0, {})
    assert [o.status for o in state.orders.values()] == [OrderStatus.NEW] * 3
    assert state.orders.hot() == 1  # the two queued for the open are at rest, kept as their encodings; the DAY order is hot


def test_a_chunk_leaves_the_shard_exactly_as_the_same_new_orders_do() -> None:
    rows = [row("c1", "0.5"), row("c2", "900", price="150.00"), row("c3", "5", side=Side.SELL), row("c4", None, notional="10.00")]
    by_chunk, one_by_one = make_state(), make_state()
    chunk_sends = run(by_chunk, chunk(*rows))
    single_sends = []
    for account, cloid, symbol, side, order_type, tif, qty, notional, price in rows:
        single_sends += run(one_by_one, NewOrder(account, cloid, OrderSpec(symbol, side, order_type, tif, qty, notional, price), None))
    assert by_chunk.state_hash() == one_by_one.state_hash()
    assert [s for s in chunk_sends if not isinstance(s.message, OrdersLoaded)] == single_sends


def test_risk_refusals_are_rejected_orders_counted_by_reason() -> None:
    state = make_state(cash="1000.00")
    sends = run(state, chunk(row("c1", "1"), row("c2", "2000"), row("c3", "100"), row("c4", "5", side=Side.SELL)))
    done = answer(sends)
    assert (done.accepted, done.already) == (1, 0)
    assert done.rejected == {"insufficient_buying_power": 1, "insufficient_position": 1, "max_order_size": 1}
    rejected = [s.message for s in sends if isinstance(s.message, ExecutionReport) and s.message.exec_type is ExecType.REJECTED]
    assert sorted(r.reason or "" for r in rejected) == sorted(done.rejected)


def test_the_same_chunk_again_changes_nothing_and_counts_every_order_as_already_there() -> None:
    state = make_state()
    first = chunk(row("c1", "0.5"), row("c2", "1"))
    run(state, first)
    before = state.state_hash()
    sends = run(state, chunk(row("c1", "0.5"), row("c2", "1"), number=1))
    assert [type(s.message) for s in sends] == [OrdersLoaded]  # no report, no route: a resend's answer has no asker here
    done = answer(sends)
    assert (done.accepted, done.already, done.rejected) == (0, 2, {})
    assert state.state_hash() == before


def test_an_id_used_with_other_terms_is_a_duplicate_and_changes_nothing_but_the_refusal_count() -> None:
    state = make_state()
    run(state, chunk(row("c1", "0.5")))
    orders_before = state.orders.as_dict()
    sends = run(state, chunk(row("c1", "0.6"), row("c2", "1")))
    assert answer(sends).rejected == {Reason.DUPLICATE_CLIENT_ORDER_ID.value: 1}
    assert answer(sends).accepted == 1 and state.rejected_requests == 1
    assert state.orders["account-0-1"] == orders_before["account-0-1"] and len(state.orders) == 2


def test_an_account_the_shard_does_not_have_is_counted_forbidden() -> None:
    state: AccountState = make_state()
    done = answer(run(state, chunk(row("c1"), row("c2", account="ZZ"))))
    assert (done.accepted, done.rejected) == (1, {"forbidden": 1})


def test_a_chunk_survives_the_journal_encoding_unchanged() -> None:
    from model.messages import Batch, decode_batch, encode_batch

    message = chunk(row("c1", "0.000001"), row("c2", None, notional="12345.67"), row("c3", "3", price="150.05"))
    assert decode_batch(encode_batch(Batch("gateway-0~1", 1, NOW, [message]))).messages == [message]
