"""Tax lots (``model/lots.py``): each method, short lots, wash sales, terms; and properties
against a small independent oracle (plain lists of dicts)."""

from __future__ import annotations

from datetime import date

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model import fixed
from model.lots import (
    CLOSING,
    Books,
    Fill,
    Lot,
    LotError,
    LotMethod,
    book_closing,
    book_fill,
    book_opening,
    book_pending,
    check_specific,
    closing_rows,
    closings_array,
    consistency,
    day_start_ns,
    held,
    is_long_term,
    open_lots,
    open_position,
    put_lots,
    split,
    take_lots,
)

D = fixed.parse
TZ = "America/New_York"
DAY = 86_400 * 10**9
T0 = day_start_ns(date(2025, 1, 6).toordinal(), TZ) + 10 * 3600 * 10**9  # a Monday, 10:00 local


def buy(books: Books, qty: str, price: str, at: int, order: str = "account-0-1", **kw: object) -> list[int]:
    q, p = D(qty), D(price)
    return book_fill(books, Fill("IBM", True, q, p, fixed.buy_cost(q, p), at, order), TZ, **kw)  # type: ignore[arg-type]


def sell(books: Books, qty: str, price: str, at: int, order: str = "account-0-2", **kw: object) -> list[int]:
    q, p = D(qty), D(price)
    return book_fill(books, Fill("IBM", False, q, p, fixed.sell_proceeds(q, p), at, order), TZ, **kw)  # type: ignore[arg-type]


def three_lots() -> Books:
    books = Books()
    buy(books, "10", "100", T0)
    buy(books, "10", "120", T0 + 40 * DAY)
    buy(books, "10", "110", T0 + 80 * DAY)
    return books


def closed(books: Books) -> list[tuple[int, int]]:
    return [(c.lot_id, c.qty) for c in closing_rows(books, closings_array(books))]


def test_split_gives_every_part_but_the_last_its_floor_and_sums_exactly() -> None:
    assert split(100, [1, 1, 1]) == [33, 33, 34]
    assert split(-100, [1, 2]) == [-34, -66]
    assert sum(split(D("10.01"), [3, 7, 11])) == D("10.01")


def test_fifo_closes_the_first_opened_and_realizes_the_exact_gain() -> None:
    books = three_lots()
    sell(books, "15", "130", T0 + 120 * DAY)
    assert closed(books) == [(1, D("10")), (2, D("5"))]
    (first, second) = closing_rows(books, closings_array(books))
    assert (first.proceeds, first.cost, first.gain) == (D("1300"), D("1000"), D("300"))
    assert second.cost == D("600") and second.proceeds == D("650")
    assert [(lot.lot_id, lot.qty, lot.cost) for lot in open_lots(books, "IBM")] == [(2, D("5"), D("600")), (3, D("10"), D("1100"))]
    assert first.order_id == "account-0-2" and not first.long_term


def test_lifo_and_hifo_close_the_lots_they_say() -> None:
    books = three_lots()
    sell(books, "15", "130", T0 + 120 * DAY, method=LotMethod.LIFO)
    assert closed(books) == [(3, D("10")), (2, D("5"))]
    books = three_lots()
    sell(books, "15", "130", T0 + 120 * DAY, method=LotMethod.HIFO)
    assert closed(books) == [(2, D("10")), (3, D("5"))]


@pytest.mark.parametrize(("method", "first", "second"), [(LotMethod.FIFO, 1, 2), (LotMethod.LIFO, 3, 2)])
def test_a_sale_the_lot_closed_first_covers_closes_that_lot_alone_and_one_it_does_not_goes_on(method: LotMethod, first: int, second: int) -> None:
    """The lot a method closes first: part of it (the rest stays open at its share of the
    cost), all of it (gone), then more than it holds (the next lot in the method's order)."""
    books = three_lots()
    sell(books, "4", "130", T0 + 120 * DAY, method=method)
    assert closed(books) == [(first, D("4"))]
    assert [lot.qty for lot in open_lots(books, "IBM") if lot.lot_id == first] == [D("6")]
    sell(books, "6", "130", T0 + 121 * DAY, method=method)
    assert closed(books)[1:] == [(first, D("6"))]
    assert first not in [lot.lot_id for lot in open_lots(books, "IBM")]
    sell(books, "12", "130", T0 + 122 * DAY, method=method)
    assert closed(books)[2:] == [(second, D("10")), (6 - first - second, D("2"))]
    assert consistency(books, {"IBM": D("8")}) == []


def test_specific_lots_close_what_the_order_names_then_fifo() -> None:
    books = three_lots()
    wanted = [[3, D("4")], [2, D("6")]]
    sell(books, "12", "130", T0 + 120 * DAY, method=LotMethod.SPECIFIC, specific=wanted)
    assert closed(books) == [(3, D("4")), (2, D("6")), (1, D("2"))]
    assert wanted == [[3, 0], [2, 0]]


def test_check_specific_refuses_unknown_lots_too_much_and_repeats() -> None:
    books = three_lots()
    check_specific(books, "IBM", [(1, D("10")), (2, D("1"))])
    for wanted, code in (([(9, D("1"))], "unknown_lot"), ([(1, D("11"))], "lot_qty_exceeded"), ([(1, 1), (1, 1)], "invalid_lots")):
        try:
            check_specific(books, "IBM", wanted)
        except LotError as error:
            assert error.code == code
        else:
            raise AssertionError(wanted)
    try:
        check_specific(books, "AAPL", [(1, 1)])
    except LotError as error:
        assert error.code == "unknown_lot"


def test_average_cost_closes_at_the_average_and_reaverages_exactly() -> None:
    books = three_lots()  # 30 shares, cost 3300.00: 110 a share
    sell(books, "15", "130", T0 + 120 * DAY, method=LotMethod.AVERAGE)
    assert sum(c.cost for c in closing_rows(books, closings_array(books))) == D("1650")
    assert [lot.cost for lot in open_lots(books, "IBM")] == [D("550"), D("1100")]
    assert consistency(books, {"IBM": D("15")}) == []


def test_short_sale_opens_a_short_lot_and_a_buy_covers_it() -> None:
    books = Books()
    sell(books, "10", "100", T0)
    assert [(lot.qty, lot.cost) for lot in open_lots(books, "IBM")] == [(-D("10"), -D("1000"))]
    buy(books, "15", "90", T0 + 40 * DAY)  # covers 10, opens 5 long
    (cover,) = closing_rows(books, closings_array(books))
    assert (cover.qty, cover.proceeds, cover.cost, cover.gain) == (-D("10"), -D("900"), -D("1000"), D("100"))
    assert [(lot.qty, lot.cost) for lot in open_lots(books, "IBM")] == [(D("5"), D("450"))]


def test_long_term_is_the_day_after_the_anniversary() -> None:
    bought = day_start_ns(date(2024, 3, 1).toordinal(), TZ) + 3600 * 10**9
    assert not is_long_term(bought, day_start_ns(date(2025, 3, 1).toordinal(), TZ) + 3600 * 10**9, TZ)
    assert is_long_term(bought, day_start_ns(date(2025, 3, 2).toordinal(), TZ), TZ)
    leap = day_start_ns(date(2024, 2, 29).toordinal(), TZ)
    assert is_long_term(leap, day_start_ns(date(2025, 3, 1).toordinal(), TZ), TZ)


def test_wash_sale_with_a_purchase_before_carries_the_loss_into_it() -> None:
    books = Books()
    buy(books, "10", "100", T0)
    buy(books, "10", "90", T0 + 50 * DAY)
    sell(books, "10", "80", T0 + 60 * DAY)  # FIFO: lot 1 at a loss of 200; lot 2 bought 10 days before
    (loss,) = closing_rows(books, closings_array(books))
    assert loss.wash and loss.disallowed == D("200") and loss.gain == 0
    (replacement,) = open_lots(books, "IBM")
    assert replacement.cost == D("1100") and replacement.adjust == D("200")
    assert replacement.acquired == T0 + 50 * DAY - 60 * DAY  # the sold lot's 60 days tacked on
    assert consistency(books, {"IBM": D("10")}) == []


def test_wash_sale_with_a_purchase_after_and_a_partial_replacement() -> None:
    books = Books()
    buy(books, "10", "100", T0)
    sell(books, "10", "80", T0 + 40 * DAY)  # loss 200
    buy(books, "4", "85", T0 + 60 * DAY)  # 20 days later: replaces 4 of the 10 shares
    (loss,) = closing_rows(books, closings_array(books))
    assert loss.wash and loss.disallowed == D("80")
    buy(books, "10", "85", T0 + 65 * DAY)  # replaces the other 6 (split off as their own lot)
    (loss,) = closing_rows(books, closings_array(books))
    assert loss.disallowed == D("200")
    lots = open_lots(books, "IBM")
    assert [(lot.lot_id, lot.qty, lot.cost) for lot in lots] == [(2, D("4"), D("420")), (3, D("4"), D("340")), (4, D("6"), D("630"))]
    buy(books, "1", "85", T0 + 100 * DAY)  # outside the window: no adjustment
    assert open_lots(books, "IBM")[-1].adjust == 0
    assert consistency(books, {"IBM": D("15")}) == []


def test_no_wash_sale_for_a_gain_or_the_rest_of_the_lot_sold() -> None:
    books = Books()
    buy(books, "10", "100", T0)
    sell(books, "5", "80", T0 + 5 * DAY)  # the other 5 of the same purchase are no replacement
    assert not closing_rows(books, closings_array(books))[0].wash
    buy(books, "1", "100", T0 + 6 * DAY)
    sell(books, "1", "120", T0 + 7 * DAY)  # FIFO closes 1 of lot 1 at a gain: nothing to wash
    assert [c.wash for c in closing_rows(books, closings_array(books))] == [True, False]  # lot 2 (bought day 6) replaced the first loss


def test_a_loaded_position_is_one_lot() -> None:
    books = Books()
    open_position(books, "IBM", D("10"), D("1400"), T0)
    assert held(books, "IBM") == (D("10"), D("1400"))


# --- properties against an oracle -------------------------------------------------------------


def oracle_close(lots: list[dict], qty: int, method: str, specific: list[list[int]]) -> list[tuple[int, int]]:  # type: ignore[type-arg]
    """Which lots (id, qty) a sale closes, by a plain reading of each method."""
    order = list(range(len(lots)))
    if method == "lifo":
        order.reverse()
    elif method == "hifo":
        order.sort(key=lambda i: -(lots[i]["cost"] * fixed.SCALE // lots[i]["qty"]))
    taken: dict[int, int] = {}
    out = []
    if method == "specific":
        for lot_id, want in specific:
            for i, lot in enumerate(lots):
                if lot["id"] == lot_id and qty:
                    take = min(qty, want, lot["qty"])
                    out.append((lot_id, take))
                    taken[i] = take
                    qty -= take
    for i in (range(len(lots)) if method in ("specific", "average") else order):
        take = min(qty, lots[i]["qty"] - taken.get(i, 0))
        if take > 0:
            out.append((lots[i]["id"], take))
            qty -= take
    return out


step = st.tuples(st.booleans(), st.integers(1, 40), st.integers(50, 150))


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(step, max_size=25), method=st.sampled_from(["fifo", "lifo", "hifo", "average", "specific"]), pick=st.randoms())
def test_each_method_closes_what_the_oracle_says_and_books_stay_exact(steps: list[tuple[bool, int, int]], method: str, pick) -> None:  # type: ignore[no-untyped-def]
    """Trades 40 days apart (no wash sale): the lots closed are the oracle's, open lots sum to
    the position, cost is conserved, realized + unrealized = market value − net cash."""
    books, lots, position, net_cash, next_id = Books(), [], 0, 0, 0
    for n, (is_buy, units, price) in enumerate(steps):
        qty, px, at = units * fixed.SCALE, price * fixed.SCALE, T0 + n * 40 * DAY
        if not is_buy and qty > position:
            qty = position
        if not qty:
            continue
        cash = fixed.buy_cost(qty, px) if is_buy else fixed.sell_proceeds(qty, px)
        before = len(closings_array(books))
        specific = [[lot["id"], pick.randint(1, lot["qty"] // fixed.SCALE) * fixed.SCALE] for lot in pick.sample(lots, len(lots))] if lots else []
        expected = [] if is_buy else oracle_close(lots, qty, method, [list(s) for s in specific])
        book_fill(books, Fill("IBM", is_buy, qty, px, cash, at, "s-1"), TZ, LotMethod(method), specific)
        got = [(c.lot_id, c.qty) for c in closing_rows(books, closings_array(books)[before:])]
        assert got == expected
        if is_buy:
            next_id += 1
            lots.append({"id": next_id, "qty": qty, "cost": cash})
            position, net_cash = position + qty, net_cash + cash
        else:
            position, net_cash = position - qty, net_cash - cash
            lots = [{**lot, "qty": lot["qty"] - sum(q for i, q in got if i == lot["id"])} for lot in lots]
            lots = [lot for lot in lots if lot["qty"]]
            costs = {lot.lot_id: lot.cost for lot in open_lots(books, "IBM")}
            lots = [{**lot, "cost": costs[lot["id"]]} for lot in lots]
        assert [(lot.lot_id, lot.qty) for lot in open_lots(books, "IBM")] == [(lot["id"], lot["qty"]) for lot in lots]
        assert consistency(books, {"IBM": position}) == []
        assert_value_identity(books, position, net_cash, px)


def assert_value_identity(books: Books, position: int, net_cash: int, mark: int) -> None:
    realized = sum(c.gain for c in closing_rows(books, closings_array(books)))
    open_cost = held(books, "IBM")[1]
    market_value = position * mark // fixed.SCALE
    assert realized + (market_value - open_cost) == market_value - net_cash


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.tuples(st.booleans(), st.integers(1, 40), st.integers(50, 150), st.integers(0, 20)), max_size=30))
def test_with_wash_sales_and_shorts_quantity_cost_and_value_hold(steps: list[tuple[bool, int, int, int]]) -> None:
    """Dense trades (wash sales, short lots, covers): the invariants hold after every fill."""
    books, position, net_cash, at = Books(), 0, 0, T0
    for is_buy, units, price, gap in steps:
        qty, px = units * fixed.SCALE, price * fixed.SCALE
        at += gap * DAY
        cash = fixed.buy_cost(qty, px) if is_buy else fixed.sell_proceeds(qty, px)
        book_fill(books, Fill("IBM", is_buy, qty, px, cash, at, "s-1"), TZ)
        position += qty if is_buy else -qty
        net_cash += cash if is_buy else -cash
        assert consistency(books, {"IBM": position}) == []
        assert_value_identity(books, position, net_cash, px)
        assert all(c.disallowed >= 0 and c.disallowed <= max(0, c.cost - c.proceeds) for c in closing_rows(books, closings_array(books)))


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(st.tuples(st.booleans(), st.integers(1, 40), st.integers(50, 150), st.integers(0, 400)), max_size=40),
    hours=st.integers(0, 23),
)
def test_the_fast_paths_write_exactly_the_rows_of_the_general_ones(steps: list[tuple[bool, int, int, int]], hours: int) -> None:
    """Fills that close nothing through ``book_opening``, recent losses read one by one, and
    the dates decided from the nanoseconds where they are sure: the same bytes as
    ``book_fill`` with every date computed and the ledger searched in columns. Gaps run
    from none to over a year, at any hour (the windows' and the anniversary's edges)."""
    import model.lots as lots_module

    def run(fast: bool) -> Books:
        books, position, at = Books(), 0, T0 + hours * 3600 * 10**9
        saved = (lots_module._SCANNED_BACK, lots_module._SURELY_SHORT_NS, lots_module._SURELY_LONG_NS, lots_module._SURELY_WITHIN_NS, lots_module._SURELY_OUTSIDE_NS)
        if not fast:  # never sure: every date computed, every search in columns
            lots_module._SCANNED_BACK, lots_module._SURELY_SHORT_NS, lots_module._SURELY_LONG_NS = 0, -1, 2**62
            lots_module._SURELY_WITHIN_NS, lots_module._SURELY_OUTSIDE_NS = -1, 2**62
        try:
            for index, (is_buy, units, price, gap) in enumerate(steps):
                qty, px = units * fixed.SCALE, price * fixed.SCALE
                at += gap * 3 * 3600 * 10**9  # gaps of three hours each: up to 50 days a step
                cash = fixed.buy_cost(qty, px) if is_buy else fixed.sell_proceeds(qty, px)
                order = f"account-0-{index + 1}"
                if fast and (position == 0 or (position > 0) == is_buy):
                    book_opening(books, "IBM", is_buy, qty, px, cash, at, order, TZ)
                else:
                    book_fill(books, Fill("IBM", is_buy, qty, px, cash, at, order), TZ, position=position if fast else None)
                position += qty if is_buy else -qty
        finally:
            (lots_module._SCANNED_BACK, lots_module._SURELY_SHORT_NS, lots_module._SURELY_LONG_NS, lots_module._SURELY_WITHIN_NS, lots_module._SURELY_OUTSIDE_NS) = saved
        return books

    fast, general = run(True), run(False)
    book_pending(fast)  # the lots its fills left pending (``Books.pending``), as a snapshot does
    assert msgspec.msgpack.encode(fast) == msgspec.msgpack.encode(general)


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(st.tuples(st.booleans(), st.integers(1, 40), st.integers(50, 150), st.integers(0, 400)), max_size=40),
    method=st.sampled_from([None, *LotMethod]),
    account_method=st.sampled_from([LotMethod.FIFO.value, LotMethod.LIFO.value, LotMethod.HIFO.value]),
)
def test_a_sale_from_the_one_lot_closed_first_writes_what_book_fill_writes(
    steps: list[tuple[bool, int, int, int]], method: LotMethod | None, account_method: str
) -> None:
    """``book_closing`` (falling back on ``book_fill`` where it books nothing) against
    ``book_fill`` alone: the same bytes, and the cost it returns is what the open lots'
    cost changed by. Losses within the wash window, shorts covered, whole and partial lots."""

    def run(fast: bool) -> tuple[Books, int]:
        books, position, at, cost = Books(method=account_method), 0, T0, 0
        for index, (is_buy, units, price, gap) in enumerate(steps):
            qty, px = units * fixed.SCALE, price * fixed.SCALE
            at += gap * 3 * 3600 * 10**9
            cash = fixed.buy_cost(qty, px) if is_buy else fixed.sell_proceeds(qty, px)
            order = f"account-0-{index + 1}"
            changed = book_closing(books, "IBM", is_buy, qty, px, cash, at, order, TZ, method, position) if fast and position else None
            if changed is None:
                book_pending(books)
                opened, closings = books.opened_cost, len(books.closings)
                book_fill(books, Fill("IBM", is_buy, qty, px, cash, at, order), TZ, method, None, position)
                changed = books.opened_cost - opened - sum(c.cost for c in closing_rows(books, closings_array(books)[closings // CLOSING.size :]))
            cost += changed
            position += qty if is_buy else -qty
            assert cost == held(books, "IBM")[1], (index, cost)
        return books, cost

    (fast, fast_cost), (general, general_cost) = run(True), run(False)
    assert msgspec.msgpack.encode(fast) == msgspec.msgpack.encode(general)
    assert fast_cost == general_cost


def test_a_sale_of_part_of_the_first_lot_is_booked_by_book_closing_and_others_are_left_to_book_fill() -> None:
    books = three_lots()
    cash = fixed.sell_proceeds(D("4"), D("130"))  # a gain: the cost closed is all the lots lose
    assert book_closing(books, "IBM", False, D("4"), D("130"), cash, T0 + 90 * DAY, "account-0-9", TZ, None, D("30")) == -D("400")
    assert closed(books) == [(1, D("4"))]
    # more than the first lot holds, a method it does not take, a buy into a long position: nothing written
    before = msgspec.msgpack.encode(books)
    assert book_closing(books, "IBM", False, D("7"), D("90"), cash, T0 + 90 * DAY, "account-0-9", TZ, None, D("26")) is None
    assert book_closing(books, "IBM", False, D("1"), D("90"), cash, T0 + 90 * DAY, "account-0-9", TZ, LotMethod.HIFO, D("26")) is None
    assert book_closing(books, "IBM", True, D("1"), D("90"), cash, T0 + 90 * DAY, "account-0-9", TZ, None, D("26")) is None
    assert msgspec.msgpack.encode(books) == before


lazy_step = st.one_of(
    st.tuples(st.just("fill"), st.sampled_from(["IBM", "XYZ"]), st.booleans(), st.integers(1, 40), st.integers(50, 150), st.integers(0, 300)),
    st.tuples(st.just("load"), st.sampled_from(["IBM", "XYZ"]), st.integers(-20, 20), st.integers(100, 5_000)),
    st.tuples(st.just("read"), st.sampled_from(["IBM", "XYZ"]), st.sampled_from(["open_lots", "held", "consistency", "closings", "check"])),
    st.tuples(st.just("take"), st.sampled_from(["IBM", "XYZ"]), st.integers(1, 30)),
    st.tuples(st.just("put"), st.sampled_from(["IBM", "XYZ"]), st.integers(1, 30), st.integers(100, 5_000)),
)


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(lazy_step, max_size=60))
def test_pending_lots_are_the_eager_ones_whatever_is_read_or_moved_in_between(steps: list[tuple]) -> None:  # type: ignore[type-arg]
    """The same fills, loaded positions, securities moves and reads into two books: one
    books every fill eagerly (``book_fill``), the other leaves the lots of fills that close
    nothing pending (``book_opening``). Every read answers the same in both, and once the
    pending rows are booked the two encode to the same bytes (what ``state_hash`` and a
    snapshot see), wash sales and short lots included."""
    eager, lazy = Books(), Books()
    position = {"IBM": 0, "XYZ": 0}
    at = T0
    for index, step in enumerate(steps):
        kind, symbol = step[0], step[1]
        if kind == "fill":
            _, _, is_buy, units, price, gap = step
            at += gap * 3 * 3600 * 10**9
            qty, px = units * fixed.SCALE, price * fixed.SCALE
            cash = fixed.buy_cost(qty, px) if is_buy else fixed.sell_proceeds(qty, px)
            order = f"account-0-{index + 1}"
            book_fill(eager, Fill(symbol, is_buy, qty, px, cash, at, order), TZ)
            before = position[symbol]
            if before == 0 or (before > 0) == is_buy:
                book_opening(lazy, symbol, is_buy, qty, px, cash, at, order, TZ)
            else:
                book_fill(lazy, Fill(symbol, is_buy, qty, px, cash, at, order), TZ, position=before)
            position[symbol] += qty if is_buy else -qty
        elif kind == "load":
            _, _, units, dollars = step
            if units and (position[symbol] == 0 or (position[symbol] > 0) == (units > 0)):
                cost = dollars * fixed.SCALE if units > 0 else -dollars * fixed.SCALE
                for books in (eager, lazy):
                    open_position(books, symbol, units * fixed.SCALE, cost, at)
                position[symbol] += units * fixed.SCALE
        elif kind == "read":
            read = step[2]
            answers = []
            for books in (eager, lazy):
                if read == "open_lots":
                    answers.append(open_lots(books, symbol))
                elif read == "held":
                    answers.append(held(books, symbol))
                elif read == "consistency":
                    answers.append(consistency(books, position))
                elif read == "closings":
                    answers.append(closing_rows(books, closings_array(books)))
                else:
                    try:
                        check_specific(books, symbol, [(1, fixed.SCALE)])
                        answers.append("ok")
                    except LotError as error:
                        answers.append(error.code)
            assert answers[0] == answers[1], (read, answers)
        elif kind == "take":
            units = step[2]
            if position[symbol] >= units * fixed.SCALE:
                taken = [take_lots(books, symbol, units * fixed.SCALE, LotMethod.FIFO) for books in (eager, lazy)]
                assert taken[0] == taken[1]
                position[symbol] -= units * fixed.SCALE
        else:  # a journal's lots received
            _, _, units, dollars = step
            if position[symbol] >= 0:
                moved = [Lot(0, units * fixed.SCALE, dollars * fixed.SCALE, at - DAY, 0, 0)]
                assert put_lots(eager, symbol, moved) == put_lots(lazy, symbol, moved)
                position[symbol] += units * fixed.SCALE
    assert consistency(lazy, position) == [] == consistency(eager, position)
    book_pending(lazy)
    assert lazy.pending == 0 and msgspec.msgpack.encode(lazy) == msgspec.msgpack.encode(eager)


@pytest.mark.parametrize("timezone", ["America/New_York", "Asia/Tokyo", "Australia/Lord_Howe", "UTC"])
def test_dates_decided_from_nanoseconds_agree_with_the_calendar_at_every_hour_near_the_edges(timezone: str) -> None:
    """The term and the wash-sale window are said from the gap alone only where a local day's
    23 to 25 hours cannot change the answer; near the edges the dates are computed. Every
    hour around the anniversary and the window's ends, across daylight-saving changes and a
    leap day, against the dates themselves."""
    from model.calendar import trading_day
    from model.lots import WASH_WINDOW_DAYS, _within_wash_window

    hour = 3600 * 10**9
    for start_day in (date(2024, 2, 29), date(2025, 3, 8), date(2025, 10, 31), date(2025, 6, 15)):
        bought = day_start_ns(start_day.toordinal(), timezone) + 13 * hour
        day_of_buy = date.fromordinal(trading_day(bought, timezone))
        anniversary = day_of_buy.replace(year=day_of_buy.year + 1) if (day_of_buy.month, day_of_buy.day) != (2, 29) else date(day_of_buy.year + 1, 2, 28)
        for hours in range(360 * 24, 370 * 24):
            sold = bought + hours * hour
            assert is_long_term(bought, sold, timezone) == (trading_day(sold, timezone) > anniversary.toordinal()), (start_day, hours)
        for hours in range(26 * 24, 34 * 24):
            later = bought + hours * hour
            expected = abs(trading_day(later, timezone) - trading_day(bought, timezone)) <= WASH_WINDOW_DAYS
            assert _within_wash_window(bought, later, timezone) == expected == _within_wash_window(later, bought, timezone), (start_day, hours)


def test_staged_rows_peeked_per_account_are_what_take_gives_and_nothing_is_taken() -> None:
    """``StagedTrades.peek_all``: each account's rows in order — those indexed before (not
    taken) first, then the rest — exactly what ``take`` then gives; an account taken before
    has none; nothing leaves the columns."""
    from model.lots import StagedTrades

    staged = StagedTrades()
    for number, account in enumerate(["A", "B", "A"]):
        staged.add(account, f"account-0-{number}", "IBM", True, 10 + number, 100, 1000 + number, number)
    assert staged.has("A")  # indexes rows 0-2
    assert [row[0] for row in staged.take("B")] == ["account-0-1"]
    for number, account in enumerate(["A", "C", "A"], start=3):
        staged.add(account, f"account-0-{number}", "XYZ", number % 2 == 0, 10 + number, 100, 1000 + number, number)
    rows = staged.peek_all(["A", "B", "C", "D"])
    peeked = {account: rows(account) for account in "ABCD"}
    assert [row[0] for row in peeked["A"]] == ["account-0-0", "account-0-2", "account-0-3", "account-0-5"]
    assert peeked["B"] == [] and peeked["D"] == [] and [row[0] for row in peeked["C"]] == ["account-0-4"]
    assert peeked["A"] == list(staged.take("A")) and peeked["C"] == list(staged.take("C"))  # nothing was taken by peeking


BIG = D("30000000")  # shares of one fill: some $4.5B at 150, a lot's cost near what 64 bits hold (9.2 × 10^18)


def round_trips(books: Books, long: bool, count: int, at: int = T0) -> tuple[int, int]:
    """``count`` round trips of ``BIG`` (a long account: buy, then sell at a loss — half from the
    first lot by ``book_closing``, half by ``book_fill`` — each buy within the wash window of
    the last loss; a short account: sell short, cover the same ways), each through the
    function the shard calls; returns the time of the last and the open lots' cost as the
    changes returned say, checked at every step against the lots and the books' checks."""
    cost, position = 0, 0
    half = BIG // 2
    for _ in range(count):
        at += DAY
        price = D("150")
        cash = fixed.buy_cost(BIG, price) if long else fixed.sell_proceeds(BIG, price)
        cost += book_opening(books, "IBM", long, BIG, price, cash, at, "account-0-1", TZ)
        position += BIG if long else -BIG
        assert cost == held(books, "IBM")[1] and consistency(books, {"IBM": position}) == []
        price = D("149") if long else D("151")  # a loss either way
        cash = fixed.sell_proceeds(half, price) if long else fixed.buy_cost(half, price)
        changed = book_closing(books, "IBM", not long, half, price, cash, at + 1, "account-0-2", TZ, None, position)
        assert changed is not None
        cost += changed
        position += -half if long else half
        assert cost == held(books, "IBM")[1] and consistency(books, {"IBM": position}) == []
        opened, closings = books.opened_cost, len(books.closings)
        book_fill(books, Fill("IBM", not long, half, price, cash, at + 2, "account-0-3"), TZ, LotMethod.HIFO, None, position)
        # what the shard adds: the change of ``opened_cost``, wrapped (two readings of a wrapping value)
        cost += (books.opened_cost - opened + 2**63) % 2**64 - 2**63 - sum(c.cost for c in closing_rows(books, closings_array(books)[closings // CLOSING.size :]))
        position += -half if long else half
        assert cost == held(books, "IBM")[1] == 0 and consistency(books, {"IBM": position}) == []
        assert -(2**63) <= books.opened_cost < 2**63
    return at, cost


@pytest.mark.parametrize("long", [True, False])
def test_a_lifetime_of_round_trips_past_64_bits_keeps_the_books_consistent_and_encodable(long: bool) -> None:
    """``Books.opened_cost`` wraps (the module): past Σ 2^64 of purchases (or -2^63 of short
    sales) the books still encode, decode to the same and pass their checks, and every change
    the booking functions return is the lots' exactly."""
    books = Books()
    round_trips(books, long, 6)
    closed = closings_array(books)["cost"].tolist()
    assert sum(closed) > 2**64 if long else sum(closed) < -(2**63)  # the lifetime total: past what 64 bits hold
    restored = msgspec.msgpack.decode(msgspec.msgpack.encode(books), type=Books)
    assert msgspec.msgpack.encode(restored) == msgspec.msgpack.encode(books)
    assert consistency(restored, {"IBM": 0}) == []


def test_an_old_snapshot_of_opened_cost_past_2_63_restores_as_it_was_and_wraps_at_its_next_change() -> None:
    """Before it wrapped, ``opened_cost`` could reach [2^63, 2^64) (msgpack encodes it unsigned):
    such books restore byte for byte, pass the check (congruent), and their next change
    wraps the value, the change returned exact."""
    books = Books()
    at, _ = round_trips(books, True, 4)  # Σ some $18B of purchases: below 2^64, past 2^63
    old = msgspec.structs.replace(books, opened_cost=books.opened_cost % 2**64)  # what it was before it wrapped
    assert old.opened_cost >= 2**63
    encoded = msgspec.msgpack.encode(old)
    restored = msgspec.msgpack.decode(encoded, type=Books)
    assert msgspec.msgpack.encode(restored) == encoded and restored.opened_cost == old.opened_cost
    assert consistency(restored, {}) == []
    cost = book_opening(restored, "IBM", True, BIG, D("150"), fixed.buy_cost(BIG, D("150")), at + DAY, "account-0-4", TZ)
    assert cost == held(restored, "IBM")[1] > 0 and restored.opened_cost == old.opened_cost + cost - 2**64  # wrapped
    assert consistency(restored, {"IBM": BIG}) == []
    msgspec.msgpack.encode(restored)
