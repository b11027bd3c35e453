"""Lots moved between accounts (``model/lots.py`` take_lots/put_lots): by each method and by
named lots, split exactly, received with their cost and acquisition time under new ids; and a
property: whatever is moved, both books stay consistent and cost is conserved across them."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model import fixed
from model.lots import (
    Books,
    Fill,
    Lot,
    LotError,
    LotMethod,
    book_fill,
    consistency,
    day_start_ns,
    held,
    open_lots,
    open_position,
    put_lots,
    take_lots,
)

D = fixed.parse
TZ = "America/New_York"
DAY = 86_400 * 10**9
T0 = day_start_ns(date(2024, 3, 4).toordinal(), TZ)


def three_lots() -> Books:
    """10 @ 1,000.00 (day 0), 10 @ 3,000.00 (day 1), 10 @ 2,000.00 (day 2): ids 1, 2, 3."""
    books = Books()
    for day, cost in enumerate(("1000", "3000", "2000")):
        open_position(books, "IBM", D("10"), D(cost), T0 + day * DAY)
    return books


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        (LotMethod.FIFO, [(1, "10", "1000"), (2, "5", "1500")]),
        (LotMethod.LIFO, [(3, "10", "2000"), (2, "5", "1500")]),
        (LotMethod.HIFO, [(2, "10", "3000"), (3, "5", "1000")]),
        (LotMethod.AVERAGE, [(1, "10", "2000"), (2, "5", "1000")]),  # every lot re-averaged to 200.00 a share first
    ],
)
def test_each_method_takes_the_lots_a_sale_would_close(method: LotMethod, expected: list[tuple[int, str, str]]) -> None:
    books = three_lots()
    moved = take_lots(books, "IBM", D("15"), method)
    assert [(lot.lot_id, lot.qty, lot.cost) for lot in moved] == [(i, D(q), D(c)) for i, q, c in expected]
    assert held(books, "IBM") == (D("15"), D("6000") - sum(lot.cost for lot in moved))
    assert books.opened_cost == D("6000") - sum(lot.cost for lot in moved)
    assert consistency(books, {"IBM": D("15")}) == []


def test_named_lots_go_first_then_first_opened_first() -> None:
    books = three_lots()
    moved = take_lots(books, "IBM", D("12"), LotMethod.SPECIFIC, [(3, D("4")), (99, D("1"))])  # lot 99 is not open: passed over
    assert [(lot.lot_id, lot.qty) for lot in moved] == [(3, D("4")), (1, D("8"))]
    assert [(lot.lot_id, lot.qty) for lot in open_lots(books, "IBM")] == [(1, D("2")), (2, D("10")), (3, D("6"))]


def test_a_part_of_a_lot_takes_its_part_of_the_cost_and_adjustment_exactly() -> None:
    books = Books()
    open_position(books, "IBM", D("3"), D("100.00"), T0)
    moved = take_lots(books, "IBM", D("1"), LotMethod.FIFO)
    [left] = open_lots(books, "IBM")
    assert moved[0].cost == D("100.00") // 3 and moved[0].cost + left.cost == D("100.00")


def test_more_than_the_long_lots_hold_is_refused_and_changes_nothing() -> None:
    books = three_lots()
    before = (dict(books.lots), books.opened_cost, bytes(books.lots["IBM"]))
    for qty in (D("30.000001"), 0, -D("1")):
        with pytest.raises(LotError) as error:
            take_lots(books, "IBM", qty, LotMethod.FIFO)
        assert error.value.code == "insufficient_position"
    with pytest.raises(LotError):
        take_lots(books, "XYZ", D("1"), LotMethod.FIFO)
    assert (dict(books.lots), books.opened_cost, bytes(books.lots["IBM"])) == before


def test_short_lots_are_never_taken() -> None:
    books = Books()
    open_position(books, "IBM", -D("10"), -D("1500"), T0)
    with pytest.raises(LotError):
        take_lots(books, "IBM", D("1"), LotMethod.FIFO)


def test_received_lots_keep_cost_and_acquisition_under_new_ids_in_acquisition_order() -> None:
    source, target = three_lots(), Books()
    open_position(target, "IBM", D("1"), D("50"), T0 + DAY // 2)  # its lot 1, acquired between the first and second
    opened = put_lots(target, "IBM", take_lots(source, "IBM", D("30"), LotMethod.FIFO))
    assert [(lot.lot_id, lot.qty, lot.cost, lot.acquired) for lot in opened] == [
        (2, D("10"), D("1000"), T0), (3, D("10"), D("3000"), T0 + DAY), (4, D("10"), D("2000"), T0 + 2 * DAY)
    ]
    assert [lot.lot_id for lot in open_lots(target, "IBM")] == [2, 1, 3, 4]
    assert "IBM" not in source.lots and source.opened_cost == 0
    assert target.opened_cost == D("6050") and consistency(target, {"IBM": D("31")}) == []


def test_long_lots_do_not_join_a_short_position() -> None:
    target = Books()
    open_position(target, "IBM", -D("1"), -D("150"), T0)
    with pytest.raises(LotError) as error:
        put_lots(target, "IBM", [Lot(7, D("1"), D("100"), T0, 0, 0)])
    assert error.value.code == "short_position" and len(open_lots(target, "IBM")) == 1


@settings(max_examples=150, deadline=None)
@given(
    buys=st.lists(st.tuples(st.integers(1, 50), st.integers(100, 20000)), min_size=1, max_size=6),
    sells=st.lists(st.integers(1, 30), max_size=3),
    moves=st.lists(st.tuples(st.integers(1, 60), st.sampled_from(list(LotMethod))), min_size=1, max_size=4),
)
def test_moves_keep_both_books_consistent_and_conserve_cost(
    buys: list[tuple[int, int]], sells: list[int], moves: list[tuple[int, LotMethod]]
) -> None:
    source, target = Books(), Books()
    position = 0
    for day, (qty, cents) in enumerate(buys):
        book_fill(source, Fill("IBM", True, qty * fixed.SCALE, cents * fixed.CENT, qty * cents * fixed.CENT, T0 + day * DAY, f"account-0-{day + 1}"), TZ)
        position += qty * fixed.SCALE
    for number, qty in enumerate(sells):
        q = min(qty * fixed.SCALE, position)
        if q:
            book_fill(source, Fill("IBM", False, q, D("1"), q // fixed.SCALE * fixed.CENT * 100, T0 + 40 * DAY, f"account-0-s{number}"), TZ)
            position -= q
    moved_in = 0
    for qty, method in moves:
        q = min(qty * fixed.SCALE, position)
        if not q:
            continue
        opened_before = source.opened_cost + target.opened_cost
        moved = take_lots(source, "IBM", q, method, [(1, q // 2)] if method is LotMethod.SPECIFIC else None)
        assert sum(lot.qty for lot in moved) == q
        put_lots(target, "IBM", moved)
        assert source.opened_cost + target.opened_cost == opened_before  # cost only moved
        position -= q
        moved_in += q
    assert consistency(source, {"IBM": position}) == [] and consistency(target, {"IBM": moved_in}) == []
