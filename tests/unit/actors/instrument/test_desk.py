"""The market-making desk's quoting rules: spread and levels, inventory skew, the position
and loss limits, the refresh tolerance."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.instrument.desk import DeskBook, DeskParams, Quote, Working, loss_of_day, on_fill, refresh, start_day, wanted
from model import fixed

D = fixed.parse
TICK, INC = D("0.01"), D("1")
BID, ASK = D("149.90"), D("150.10")  # mid 150.00
PARAMS = DeskParams("IBM", size=D("100"), spread_bps=10, levels=2, level_spread_bps=10, max_position=D("1000"), max_loss=D("500"))


def started(position: str = "0") -> DeskBook:
    book = DeskBook(position=D(position), stopped="")
    start_day(book, "2026-11-30", D("150"))
    return book


def test_two_sided_levels_around_the_mid_at_the_target() -> None:
    quotes = wanted(PARAMS, started(), BID, ASK, TICK, INC)
    assert quotes == [Quote(True, 0, D("149.85"), D("100")), Quote(True, 1, D("149.70"), D("100")),
                      Quote(False, 0, D("150.15"), D("100")), Quote(False, 1, D("150.30"), D("100"))]  # fmt: skip


def test_inventory_skew_bids_less_and_offers_more_above_the_target_and_moves_prices_down() -> None:
    params = DeskParams("IBM", size=D("100"), spread_bps=10, target_position=D("200"), skew_range=D("400"), skew_bps=20, max_position=D("10000"))
    at, long, short = (wanted(params, started(p), BID, ASK, TICK, INC) for p in ("200", "400", "0"))
    bid_at, ask_at = at
    bid_long, ask_long = long
    bid_short, ask_short = short
    assert (bid_long.qty, ask_long.qty) == (D("50"), D("150"))  # half-way to the edge: ×0.5 and ×1.5
    assert bid_long.price < bid_at.price and ask_long.price < ask_at.price  # both lower: sell the inventory down
    assert (bid_short.qty, ask_short.qty) == (D("150"), D("50"))
    assert bid_short.price > bid_at.price and ask_short.price > ask_at.price
    edge = wanted(params, started("600"), BID, ASK, TICK, INC)
    assert [q.buy for q in edge] == [False] and edge[0].qty == D("200")  # no bid at all at the edge


def test_no_quote_through_the_market_or_without_one() -> None:
    wide = DeskParams("IBM", size=D("100"), spread_bps=1, max_position=D("1000"))
    quotes = wanted(wide, started(), D("150.00"), D("150.01"), TICK, INC)
    assert all(q.price < D("150.01") for q in quotes if q.buy) and all(q.price > D("150.00") for q in quotes if not q.buy)
    assert wanted(PARAMS, started(), None, ASK, TICK, INC) == [] and wanted(PARAMS, started(), ASK, BID, TICK, INC) == []
    assert wanted(PARAMS, DeskBook(), BID, ASK, TICK, INC) == []  # never started


def test_the_desk_stops_at_its_loss_limit_for_the_day() -> None:
    book = started()
    on_fill(book, PARAMS, True, D("100"), D("152.00"), D("150"))  # bought 2.00 over the mid: 200 lost
    assert book.stopped == "" and loss_of_day(book, D("150")) == D("200")
    on_fill(book, PARAMS, True, D("100"), D("153.00"), D("150"))  # 300 more: 500, the limit
    assert book.stopped == "max_loss" and wanted(PARAMS, book, BID, ASK, TICK, INC) == []
    start_day(book, "2026-12-01", D("150"))  # a new day counts afresh, but the desk stays stopped until started
    assert loss_of_day(book, D("150")) == 0 and book.stopped == "max_loss"


def test_a_falling_mark_stops_the_desk_too() -> None:
    book = started("500")
    assert wanted(PARAMS, book, BID, ASK, TICK, INC)
    assert wanted(PARAMS, book, D("148.90"), D("149.00"), TICK, INC) == []  # 500 × 1.05 lost at the new mid
    assert book.stopped == "max_loss"


def test_refresh_keeps_quotes_within_tolerance_and_replaces_the_rest() -> None:
    quotes = wanted(PARAMS, started(), BID, ASK, TICK, INC)
    working = [Working("q1", True, 0, D("149.86"), D("100")), Working("q2", False, 0, D("150.40"), D("100"))]
    cancel, place = refresh(PARAMS, started(), working, quotes, D("150"), INC)
    assert cancel == ["q2"]  # 0.25 from where it is wanted; q1 is 0.01 off, within 2 bps (0.03)
    assert [(q.buy, q.level) for q in place] == [(True, 1), (False, 0), (False, 1)]


@settings(max_examples=300, deadline=None)
@given(position=st.integers(-1200, 1200), working=st.lists(st.tuples(st.booleans(), st.integers(1, 400)), max_size=6),
       size=st.integers(1, 600), levels=st.integers(1, 4), target=st.integers(-500, 500), skew=st.integers(0, 800))
def test_never_quotes_past_its_position_limit(position: int, working: list[tuple[bool, int]], size: int, levels: int, target: int, skew: int) -> None:
    params = DeskParams("IBM", size=D(str(size)), levels=levels, target_position=D(str(target)), skew_range=D(str(skew)), max_position=D("1000"))
    book = started(str(position))
    works = [Working(f"w{i}", buy, i, D("149"), D(str(qty))) for i, (buy, qty) in enumerate(working)]
    quotes = wanted(params, book, BID, ASK, TICK, INC)
    assert sum(q.qty for q in quotes if q.buy) <= max(0, params.max_position - book.position)
    assert sum(q.qty for q in quotes if not q.buy) <= max(0, params.max_position + book.position)
    _, place = refresh(params, book, works, quotes, D("150"), INC)
    for buy, sign in ((True, 1), (False, -1)):
        exposure = sign * book.position + sum(w.leaves for w in works if w.buy is buy)
        placed = sum(q.qty for q in place if q.buy is buy)
        assert placed == 0 or exposure + placed <= params.max_position
