"""Statements from an account's entries: balances walked back from now, the period's
entries, the identity that ties them, and the two file formats."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from model import fixed
from model.statements import (
    GAINS_HEADER,
    STATEMENT_CSV_HEADER,
    Balances,
    CashEntry,
    GainEntry,
    MoveEntry,
    TradeEntry,
    build,
    day_bounds,
    gains_rows,
    parse_day,
    statement_csv_rows,
    statement_json,
)

TZ = "America/New_York"
D = fixed.parse


def at(day: str, hour: int = 12) -> int:
    start, _ = day_bounds(date.fromisoformat(day), date.fromisoformat(day), TZ)
    return start + hour * 3_600 * 1_000_000_000


def test_a_local_day_is_bounded_by_local_midnights() -> None:
    start, end = day_bounds(date(2026, 3, 2), date(2026, 3, 2), TZ)
    assert end - start == 24 * 3_600 * 1_000_000_000
    assert start == 1_772_427_600 * 1_000_000_000  # 2026-03-02 00:00 in New York is 05:00 UTC


def test_opening_and_closing_are_now_less_what_came_after_and_the_period_adds_up() -> None:
    trades = [
        TradeEntry(at("2026-03-02"), "account-0-1", "IBM", "buy", D("10"), D("100"), D("1000.00")),
        TradeEntry(at("2026-03-05"), "account-0-2", "IBM", "sell", D("4"), D("110"), D("440.00")),
        TradeEntry(at("2026-03-09"), "account-0-3", "IBM", "buy", D("1"), D("120"), D("120.00")),
    ]
    cash = [CashEntry(at("2026-03-04"), "T1", "deposit", D("500.00")), CashEntry(at("2026-03-10"), "T2", "withdrawal", D("-50.00"))]
    moves = [MoveEntry(at("2026-03-06"), "J1", "IBM", D("-2"))]
    now = Balances(D("10000") - D("1000") + D("440") - D("120") + D("500") - D("50"), {"IBM": D("5")})
    gains = [GainEntry(1, "IBM", D("4"), at("2026-03-02"), at("2026-03-05"), D("440.00"), D("400.00"), 0, D("40.00"), False, "account-0-2")]
    statement = build("A1", "trader1", "default", date(2026, 3, 3), date(2026, 3, 6), TZ, now, trades, cash, moves, gains)
    assert statement.opening == Balances(D("9000"), {"IBM": D("10")})
    assert statement.closing == Balances(D("9940"), {"IBM": D("4")})
    assert [t.order_id for t in statement.trades] == ["account-0-2"] and [c.reference for c in statement.cash] == ["T1"]
    assert [m.reference for m in statement.moves] == ["J1"] and len(statement.gains) == 1
    assert statement.check() == []
    body = statement_json(statement)
    assert body["opening"] == {"cash": "9000.00", "positions": [{"symbol": "IBM", "qty": "10"}]}
    assert body["trades"][0]["amount"] == "440.00" and body["trades"][0]["time"].startswith("2026-03-05T12:00:00-05:00")
    assert body["totals"]["sold"] == "440.00" and body["totals"]["cash_in"] == "500.00" and body["totals"]["realized_short"] == "40.00"
    rows = list(statement_csv_rows(statement))
    assert all(len(row) == len(STATEMENT_CSV_HEADER) for row in rows)
    assert [row[0] for row in rows][:2] == ["opening_cash", "opening_position"] and rows[-1][0] == "total"


def test_gains_rows_are_the_lots_sold_in_the_year_with_their_term() -> None:
    gains = [
        GainEntry(1, "IBM", D("4"), at("2025-01-02"), at("2026-01-05"), D("440.00"), D("400.00"), 0, D("40.00"), True, "account-0-2"),
        GainEntry(2, "IBM", D("-1"), at("2026-12-30"), at("2027-01-04"), D("100.00"), D("90.00"), 0, D("10.00"), False, "account-0-9"),
    ]
    rows = list(gains_rows("A1", gains, 2026, TZ))
    assert len(rows) == 1 and len(rows[0]) == len(GAINS_HEADER)
    assert rows[0][:6] == ["A1", "4 IBM", "IBM", "4", "2025-01-02", "2026-01-05"] and rows[0][10] == "long"


def test_a_day_must_be_an_iso_date() -> None:
    assert parse_day("2026-02-28") == date(2026, 2, 28)
    for bad in ("2026-02-30", "26-02-28", "2026-2-8", "", "2026-02-28T00:00"):
        try:
            parse_day(bad)
        except ValueError as error:
            assert "YYYY-MM-DD" in str(error)
        else:
            raise AssertionError(bad)


@given(
    st.lists(st.tuples(st.integers(0, 40), st.booleans(), st.integers(1, 50), st.integers(1, 500)), max_size=30),
    st.lists(st.tuples(st.integers(0, 40), st.integers(-500, 500)), max_size=10),
    st.integers(0, 40),
    st.integers(0, 40),
)
def test_any_period_of_any_book_adds_up(fills: list[tuple[int, bool, int, int]], transfers: list[tuple[int, int]], a: int, b: int) -> None:
    first, last = sorted((a, b))
    day = lambda n: date.fromordinal(date(2026, 1, 1).toordinal() + n)  # noqa: E731
    trades = [TradeEntry(at(day(n).isoformat()), f"o{i}", "IBM", "buy" if buy else "sell", D(str(q)), D(str(p)), D(str(q * p))) for i, (n, buy, q, p) in enumerate(fills)]
    cash = [CashEntry(at(day(n).isoformat()), f"T{i}", "deposit" if x > 0 else "withdrawal", D(str(x))) for i, (n, x) in enumerate(transfers) if x]
    qty = sum(t.qty if t.side == "buy" else -t.qty for t in trades)
    money = D("1000000") + sum(-t.cash if t.side == "buy" else t.cash for t in trades) + sum(c.amount for c in cash)
    now = Balances(money, {"IBM": qty} if qty else {})
    statement = build("A1", "o", "default", day(first), day(last), TZ, now, trades, cash, [], [])
    assert statement.check() == []
    everything = build("A1", "o", "default", day(0), day(40), TZ, now, trades, cash, [], [])
    assert everything.opening == Balances(D("1000000"), {}) and everything.closing == now
