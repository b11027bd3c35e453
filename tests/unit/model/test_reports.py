"""The compliance reports' builders (``model/reports.py``) on fixed records: the columns, the
CAT linkages, the best-execution arithmetic against a hand computation, exact decimals."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from model import fixed
from model.audit import AuditKind, Record, encode_body
from model.audit_bodies import AdminCommand, Allocation, Canceled, Fill, Login, OrderAccepted, OrderRejected, Replaced, Routed
from model.reports import (
    ADMIN_COLUMNS,
    BEST_EX_COLUMNS,
    CAT_COLUMNS,
    REPORTS,
    TRADES_COLUMNS,
    ReportError,
    admin_actions,
    best_ex,
    cat,
    day_range,
    local_time,
    median_ns,
    order_key,
    ratio,
    trades,
)

ZONE = "America/New_York"
T0 = 1_735_828_200 * 10**9  # 2025-01-02 09:30:00 in New York
MS = 1_000_000
KINDS = {
    OrderAccepted: AuditKind.ORDER_ACCEPTED,
    OrderRejected: AuditKind.ORDER_REJECTED,
    Routed: AuditKind.ROUTED,
    Replaced: AuditKind.REPLACED,
    Canceled: AuditKind.CANCELED,
    Fill: AuditKind.FILL,
    Allocation: AuditKind.ALLOCATION,
    AdminCommand: AuditKind.ADMIN_COMMAND,
    Login: AuditKind.LOGIN,
}


def d(text: str) -> int:
    return fixed.parse(text)


class Log:
    """Records as writers would append them: each writer's sequence counts from 1."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.seqs: dict[str, int] = {}

    def add(self, writer: str, time_ns: int, body: msgspec.Struct) -> str:
        seq = self.seqs[writer] = self.seqs.get(writer, 0) + 1
        self.records.append(Record(writer, seq, time_ns, KINDS[type(body)].value, seq, 0, encode_body(body), b"\0" * 32))
        return f"{writer}:{seq}"


def accepted(order_id: str, side: str = "buy", qty: str | None = "100", bid: str | None = "10", ask: str | None = "10.02", **extra: Any) -> OrderAccepted:
    fields: dict[str, Any] = {
        "account": "A1", "order_id": order_id, "client_order_id": f"c-{order_id}", "symbol": "IBM", "side": side,
        "order_type": "limit", "tif": "day", "qty": None if qty is None else d(qty), "notional": None, "price": d("10.05"),
        "stop_price": None, "bid": None if bid is None else d(bid), "ask": None if ask is None else d(ask),
    }  # fmt: skip
    fields.update(extra)
    return OrderAccepted(**fields)


def fill(order_id: str, qty: str, price: str, venue: str = "SIM", exec_id: str = "E", account: str = "A1", side: str = "buy") -> Fill:
    return Fill(account, order_id, exec_id, venue, "IBM", side, d(qty), d(price), -fixed.buy_cost(d(qty), d(price)))


def as_dicts(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    assert all(len(row) == len(columns) for row in rows)
    return [dict(zip(columns, row, strict=True)) for row in rows]


# --- dates --------------------------------------------------------------------------------------------


def test_a_day_range_is_the_local_days_inclusive_and_a_bad_one_is_refused() -> None:
    start, end = day_range("2025-01-02", "2025-01-02", ZONE)
    assert (start, end) == (1_735_794_000 * 10**9, 1_735_880_400 * 10**9)  # 05:00 UTC to 05:00 UTC
    assert day_range("2025-03-09", "2025-03-09", ZONE)[1] - day_range("2025-03-09", "2025-03-09", ZONE)[0] == 23 * 3600 * 10**9  # DST starts
    with pytest.raises(ReportError, match="'20250102' is not a date"):
        day_range("20250102", "2025-01-03", ZONE)
    with pytest.raises(ReportError, match="'2025-02-30' is not a date"):
        day_range("2025-01-01", "2025-02-30", ZONE)
    with pytest.raises(ReportError, match="FROM 2025-01-03 is after TO 2025-01-02"):
        day_range("2025-01-03", "2025-01-02", ZONE)
    with pytest.raises(ReportError, match="more than"):
        day_range("1990-01-01", "2025-01-02", ZONE)


def test_local_time_keeps_every_nanosecond_and_the_offset() -> None:
    assert local_time(T0 + 1, ZONE) == "2025-01-02T09:30:00.000000001-05:00"
    assert local_time(T0 + 182 * 86_400 * 10**9 + 999_999_999, ZONE) == "2025-07-03T10:30:00.999999999-04:00"


def test_ratio_rounds_half_to_even_and_median_takes_the_middle() -> None:
    assert [ratio(n, 2) for n in (1, 3, 5, -1)] == [0, 2, 2, 0]
    assert ratio(2, 3) == 1 and ratio(1, 3) == 0
    assert median_ns([]) is None and median_ns([5, 1, 3]) == 3 and median_ns([4, 1, 2, 3]) == 2  # (2 + 3) // 2


# --- the trade blotter -----------------------------------------------------------------------------


def test_trades_lists_every_fill_and_allocation_with_exact_decimals() -> None:
    log = Log()
    log.add("account-0", T0, accepted("account-0-1"))
    log.add("account-0", T0 + 1, fill("account-0-1", "0.1", "187.123456789", exec_id="X1"))
    log.add("account-0", T0 + 2, fill("account-0-1", "0.2", "187.1", exec_id="X2"))
    log.add("account-1", T0 + 3, Allocation("instrument-0-B1", "A2", "account-1-7", "IBM", "sell", d("1.000000001"), d("10"), d("10")))
    rows = as_dicts(TRADES_COLUMNS, list(trades(log.records, ZONE)))
    assert rows == [
        {"time": "2025-01-02T09:30:00.000000001-05:00", "time_ns": T0 + 1, "event_id": "account-0:2", "kind": "fill", "account": "A1",
         "order_id": "account-0-1", "symbol": "IBM", "side": "buy", "qty": "0.1", "price": "187.123456789", "cash": "-18.72",
         "venue": "SIM", "block": None, "exec_id": "X1"},
        {"time": "2025-01-02T09:30:00.000000002-05:00", "time_ns": T0 + 2, "event_id": "account-0:3", "kind": "fill", "account": "A1",
         "order_id": "account-0-1", "symbol": "IBM", "side": "buy", "qty": "0.2", "price": "187.1", "cash": "-37.42",
         "venue": "SIM", "block": None, "exec_id": "X2"},
        {"time": "2025-01-02T09:30:00.000000003-05:00", "time_ns": T0 + 3, "event_id": "account-1:1", "kind": "allocation", "account": "A2",
         "order_id": "account-1-7", "symbol": "IBM", "side": "sell", "qty": "1.000000001", "price": "10", "cash": "10.00",
         "venue": None, "block": "instrument-0-B1", "exec_id": None},
    ]  # fmt: skip


def test_no_records_no_rows() -> None:
    for spec in REPORTS.values():
        assert list(spec.build([], ZONE)) == []


def test_a_body_that_does_not_decode_is_named_not_skipped() -> None:
    broken = Record("account-0", 4, T0, AuditKind.FILL.value, 4, 0, encode_body({"order_id": "x"}), b"")
    with pytest.raises(ReportError, match=r"audit record account-0:4 \(fill\): its body does not decode"):
        list(trades([broken], ZONE))


# --- CAT --------------------------------------------------------------------------------------------------


def test_cat_links_each_event_to_the_one_before_it_and_names_the_user_of_the_connection() -> None:
    log = Log()
    login = log.add("gateway-0", T0, Login("alice", "key-a", "10.0.0.5", "gateway-0", 7, "ok"))
    log.add("gateway-0", T0 + 1, Login("mallory", "key-m", "10.0.0.6", "gateway-0", 8, "bad_secret", "wrong secret"))
    new = log.add("account-0", T0 + 10, accepted("account-0-1", qty="1.5", gateway="gateway-0", conn=7))
    route = log.add("instrument-0", T0 + 20, Routed("A1", "account-0-1", "SIM", "instrument-0-1", "IBM", "buy", d("1.5"), d("10.05")))
    modify = log.add("account-0", T0 + 30, Replaced("A1", "account-0-1", "c2", d("1.25"), d("10.04"), None))
    execute = log.add("account-0", T0 + 40, fill("account-0-1", "0.5", "10.03", exec_id="SIM-9"))
    cancel = log.add("account-0", T0 + 50, Canceled("A1", "account-0-1", d("0.75"), "client"))
    reject = log.add("account-0", T0 + 60, OrderRejected("A1", "c9", "IBM", "buy", "limit", d("5"), None, d("1"), "buying_power", "not enough", "gateway-0", 8))
    # a block at the open: the orders, its route and fill, and the allocations to them
    opg = log.add("account-0", T0 + 70, accepted("account-0-2", qty="3", tif="opg", gateway="gateway-0", conn=7))
    block_route = log.add("instrument-0", T0 + 80, Routed("", "instrument-0-B1", "SIM", "instrument-0-2", "IBM", "buy", d("3"), None))
    block_fill = log.add("instrument-0", T0 + 90, fill("instrument-0-B1", "3", "10.01", account="", exec_id="SIM-10"))
    allocate = log.add("account-0", T0 + 100, Allocation("instrument-0-B1", "A1", "account-0-2", "IBM", "buy", d("3"), d("10.01"), -d("30.03")))
    child = log.add("account-0", T0 + 110, accepted("account-0-3", qty="1", parent="account-0-2"))
    rows = as_dicts(CAT_COLUMNS, list(cat(log.records, ZONE)))
    by_id = {row["event_id"]: row for row in rows}
    assert login not in by_id and [row["event"] for row in rows] == [
        "new", "route", "modify", "execute", "cancel", "reject", "new", "route", "execute", "allocate", "new",
    ]  # fmt: skip
    links = {row["event_id"]: (row["event"], row["linked_event_id"], row["order_event_id"]) for row in rows}
    assert links == {
        new: ("new", None, None),
        route: ("route", new, new),
        modify: ("modify", new, new),
        execute: ("execute", route, new),
        cancel: ("cancel", modify, new),
        reject: ("reject", None, None),
        opg: ("new", None, None),
        block_route: ("route", None, None),
        block_fill: ("execute", block_route, None),
        allocate: ("allocate", block_fill, opg),
        child: ("new", opg, None),
    }
    assert by_id[new] | {"time": None} == {
        "event_id": new, "time": None, "time_ns": T0 + 10, "event": "new", "linked_event_id": None, "order_event_id": None,
        "account": "A1", "order_id": "account-0-1", "client_order_id": "c-account-0-1", "parent_order_id": None,
        "child_order_id": None, "block": None, "symbol": "IBM", "side": "buy", "order_type": "limit", "tif": "day", "qty": "1.5",
        "notional": None, "price": "10.05", "stop_price": None, "venue": None, "exec_id": None, "leaves": None, "reason": None,
        "gateway": "gateway-0", "conn": 7, "user": "alice", "key_id": "key-a",
    }  # fmt: skip
    assert (by_id[route]["child_order_id"], by_id[route]["parent_order_id"], by_id[route]["venue"]) == ("instrument-0-1", "account-0-1", "SIM")
    assert (by_id[modify]["client_order_id"], by_id[modify]["qty"], by_id[modify]["price"]) == ("c2", "1.25", "10.04")
    assert (by_id[cancel]["leaves"], by_id[cancel]["reason"], by_id[cancel]["user"]) == ("0.75", "client", "alice")
    assert (by_id[execute]["exec_id"], by_id[execute]["user"], by_id[execute]["key_id"]) == ("SIM-9", "alice", "key-a")
    # a refused login names nobody: the reject on that connection has no user
    assert (by_id[reject]["reason"], by_id[reject]["user"], by_id[reject]["conn"]) == ("buying_power: not enough", None, 8)
    assert (by_id[block_route]["block"], by_id[block_route]["account"], by_id[block_fill]["block"]) == ("instrument-0-B1", None, "instrument-0-B1")
    assert (by_id[allocate]["block"], by_id[allocate]["user"]) == ("instrument-0-B1", "alice")


def test_the_reader_order_puts_a_login_before_the_order_of_the_same_nanosecond() -> None:
    log = Log()
    log.add("account-0", T0, accepted("account-0-1", gateway="gateway-0", conn=1))
    log.add("gateway-0", T0, Login("bob", "key-b", "::1", "gateway-0", 1, "ok"))
    ordered = sorted(log.records, key=order_key)
    assert [record.kind for record in ordered] == ["login", "order_accepted"]
    assert as_dicts(CAT_COLUMNS, list(cat(ordered, ZONE)))[0]["user"] == "bob"


# --- best execution ----------------------------------------------------------------------------------


def test_best_ex_against_a_hand_computation() -> None:
    """IBM at SIM: a buy of 100 (quote 10.00 × 10.02) filled 60 @ 10.01 after 1 ms and 40 @ 10.02
    after 3 ms; a sell of 50 (10.00 × 10.04) filled 50 @ 10.03 after 2 ms; a buy of 10 with no
    quote filled 5 @ 10.05 after 5 ms. By hand:
    improvement: buy 60 × (10.02 − 10.01) + 40 × 0 = 0.6; sell 50 × (10.03 − 10.00) = 1.5;
                 (0.6 + 1.5) / 150 = 0.014 (the unquoted order is not weighed)
    effective spread: 60 × 2|10.01 − 10.01| + 40 × 2|10.02 − 10.01| = 0.8; 50 × 2|10.03 − 10.02| = 1.0;
                 1.8 / 150 = 0.012
    fill rate 155 / 160 = 0.96875; first fill 1, 2, 5 ms → 2 ms; complete 3, 2 ms → 2.5 ms."""
    log = Log()
    log.add("account-0", T0, accepted("o1", qty="100", bid="10.00", ask="10.02"))
    log.add("account-0", T0, accepted("o2", side="sell", qty="50", bid="10.00", ask="10.04"))
    log.add("account-0", T0, accepted("o3", qty="10", bid=None, ask="10.03"))
    log.add("instrument-0", T0 + 1, Routed("A1", "o1", "SIM", "c1", "IBM", "buy", d("100"), None))
    log.add("account-0", T0 + 1 * MS, fill("o1", "60", "10.01"))
    log.add("account-0", T0 + 2 * MS, fill("o2", "50", "10.03", side="sell"))
    log.add("account-0", T0 + 3 * MS, fill("o1", "40", "10.02", venue="SIM"))
    log.add("account-0", T0 + 5 * MS, fill("o3", "5", "10.05"))
    # another venue and a notional order: their own row
    log.add("account-0", T0, accepted("o4", qty=None, notional=d("1000"), bid="10", ask="10.02"))
    log.add("account-0", T0 + 7 * MS, fill("o4", "99.5", "10.05", venue="ARCA"))
    rows = as_dicts(BEST_EX_COLUMNS, best_ex(log.records, ZONE))
    assert rows == [
        {"symbol": "IBM", "venue": "ARCA", "orders": 1, "orders_quoted": 1, "ordered_qty": "0", "filled_qty": "0", "fill_rate": None,
         "orders_filled": 1, "orders_complete": 0, "quoted_executed_qty": "99.5", "avg_price_improvement": "-0.03",
         "avg_effective_spread": "0.08", "median_time_to_first_fill_s": "0.007", "median_time_to_complete_s": None},
        {"symbol": "IBM", "venue": "SIM", "orders": 3, "orders_quoted": 2, "ordered_qty": "160", "filled_qty": "155", "fill_rate": "0.96875",
         "orders_filled": 3, "orders_complete": 2, "quoted_executed_qty": "150", "avg_price_improvement": "0.014",
         "avg_effective_spread": "0.012", "median_time_to_first_fill_s": "0.002", "median_time_to_complete_s": "0.0025"},
    ]  # fmt: skip


def test_best_ex_is_exact_with_fractional_quantities_and_counts_allocations_at_the_blocks_venue() -> None:
    """0.1 + 0.2 shares is 0.3 exactly; an average of thirds is rounded to 10^-9 half to even."""
    log = Log()
    log.add("account-0", T0, accepted("o1", qty="0.3", bid="10", ask="10.01"))
    log.add("account-0", T0 + 1, fill("o1", "0.1", "10"))
    log.add("account-0", T0 + 2, fill("o1", "0.2", "10.01"))
    log.add("account-0", T0, accepted("o2", qty="3", bid="20", ask="20.01", tif="opg"))
    log.add("instrument-0", T0 + 5, Routed("", "instrument-0-B1", "IEX", "instrument-0-9", "IBM", "buy", d("3"), None))
    log.add("instrument-0", T0 + 6, fill("instrument-0-B1", "3", "20", account="", venue="IEX"))  # the block's own fill: no order of it
    log.add("account-0", T0 + 7, Allocation("instrument-0-B1", "A1", "o2", "IBM", "buy", d("3"), d("20"), -d("60")))
    rows = {row["venue"]: row for row in as_dicts(BEST_EX_COLUMNS, best_ex(log.records, ZONE))}
    sim, iex = rows["SIM"], rows["IEX"]
    assert (sim["ordered_qty"], sim["filled_qty"], sim["fill_rate"], sim["orders_complete"]) == ("0.3", "0.3", "1", 1)
    # improvement: 0.1 × 0.01 + 0.2 × 0 over 0.3 = 0.00333...; spread: 0.1 × 0.01 + 0.2 × 0.01 over 0.3 = 0.01
    assert (sim["avg_price_improvement"], sim["avg_effective_spread"]) == ("0.003333333", "0.01")
    assert (sim["median_time_to_first_fill_s"], sim["median_time_to_complete_s"]) == ("0.000000001", "0.000000002")
    assert (iex["orders"], iex["filled_qty"], iex["avg_price_improvement"], iex["avg_effective_spread"]) == (1, "3", "0.01", "0.01")


def test_an_order_replaced_to_a_smaller_size_is_complete_at_its_new_size() -> None:
    log = Log()
    log.add("account-0", T0, accepted("o1", qty="10"))
    log.add("account-0", T0 + 1, Replaced("A1", "o1", "c2", d("4"), None, None))
    log.add("account-0", T0 + 2, fill("o1", "4", "10"))
    (row,) = as_dicts(BEST_EX_COLUMNS, best_ex(log.records, ZONE))
    assert (row["ordered_qty"], row["fill_rate"], row["orders_complete"]) == ("4", "1", 1)


def test_best_ex_shows_internal_executions_in_their_own_row() -> None:
    """o1 (buy 10, quote 10.00 × 10.02) crossed in full at the mid 10.01; o2 (buy 10, same
    quote) crossed 4 at 10.01 and was routed for 6, filled 6 @ 10.02 at SIM: the INTERNAL row
    holds o1 and o2's 4, with an improvement of 0.01 each; SIM holds o2's routed 6 at 0."""
    log = Log()
    log.add("account-0", T0, accepted("o1", qty="10", bid="10.00", ask="10.02"))
    log.add("account-0", T0, accepted("o2", qty="10", bid="10.00", ask="10.02"))
    log.add("instrument-0", T0 + 1, Routed("A1", "o2", "SIM", "c1", "IBM", "buy", d("6"), None))
    log.add("account-0", T0 + 2, fill("o1", "10", "10.01", venue="INTERNAL"))
    log.add("account-0", T0 + 2, fill("o2", "4", "10.01", venue="INTERNAL"))
    log.add("account-0", T0 + 3, fill("o2", "6", "10.02", venue="SIM"))
    rows = {row["venue"]: row for row in as_dicts(BEST_EX_COLUMNS, best_ex(log.records, ZONE))}
    internal, sim = rows["INTERNAL"], rows["SIM"]
    assert (internal["orders"], internal["ordered_qty"], internal["filled_qty"], internal["orders_complete"]) == (2, "14", "14", 2)
    assert (internal["avg_price_improvement"], internal["avg_effective_spread"]) == ("0.01", "0")
    assert (sim["orders"], sim["ordered_qty"], sim["filled_qty"], sim["orders_complete"], sim["avg_price_improvement"]) == (1, "6", "6", 1, "0")


# --- admin actions -----------------------------------------------------------------------------------


def test_admin_actions_lists_commands_and_logins_with_who_and_the_outcome() -> None:
    log = Log()
    log.add("gateway-0", T0, Login("ops", "key-ops", "10.0.0.1", "gateway-0", 3, "ok"))
    log.add("gateway-0", T0 + 1, Login("ops", "key-ops", "10.0.0.9", "gateway-0", 4, "locked_out", "too many failures"))
    log.add("supervisor", T0 + 2, AdminCommand("ops", "key-ops", "10.0.0.1", "transfer", ["reject", "account-0-t4", "no funds here"], "ok"))
    log.add("supervisor", T0 + 3, AdminCommand("ops", "key-ops", "10.0.0.1", "halt", ["IBM"], "admin_failed", "not a symbol"))
    log.add("account-0", T0 + 4, accepted("o1"))  # not an admin action
    rows = as_dicts(ADMIN_COLUMNS, list(admin_actions(log.records, ZONE)))
    assert [(row["event"], row["event_id"], row["outcome"], row["text"]) for row in rows] == [
        ("login", "gateway-0:1", "ok", None),
        ("login", "gateway-0:2", "locked_out", "too many failures"),
        ("admin_command", "supervisor:1", "ok", None),
        ("admin_command", "supervisor:2", "admin_failed", "not a symbol"),
    ]
    assert (rows[0]["gateway"], rows[0]["conn"], rows[0]["address"], rows[0]["command"]) == ("gateway-0", 3, "10.0.0.1", None)
    assert (rows[2]["command"], rows[2]["args"], rows[2]["conn"]) == ("transfer", "reject account-0-t4 'no funds here'", None)


def test_a_replaced_orders_later_events_under_its_successors_id_link_to_the_order() -> None:
    """A replace goes on as a new order record (``new_order_id``): its fills and cancel carry
    that id, and still link to the order's route and count in its best execution."""
    log = Log()
    new = log.add("account-0", T0, accepted("account-0-1", qty="10"))
    route = log.add("instrument-0", T0 + 1, Routed("A1", "account-0-1", "SIM", "instrument-0-1", "IBM", "buy", d("10"), d("10.05")))
    modify = log.add("account-0", T0 + 2, Replaced("A1", "account-0-1", "c2", d("4"), d("10.04"), None, "account-0-2"))
    execute = log.add("account-0", T0 + 3, fill("account-0-2", "4", "10"))
    links = {row["event_id"]: (row["linked_event_id"], row["order_event_id"]) for row in as_dicts(CAT_COLUMNS, list(cat(log.records, ZONE)))}
    assert links[modify] == (new, new) and links[execute] == (route, new)
    (row,) = as_dicts(BEST_EX_COLUMNS, best_ex(log.records, ZONE))
    assert (row["ordered_qty"], row["fill_rate"], row["orders_complete"]) == ("4", "1", 1)
