"""The market-making desk wired into the InstrumentActor: its quotes are orders of its own
account, entered by a real account shard core, resting in the internal book; they follow
the NBBO within the refresh tolerance, skew with the inventory, never pass max_position
(counting every working and canceling quote's leaves), and a loss stop pulls them all."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.account.core import AccountState
from actors.account.risk import RiskLimits
from actors.instrument.core import InstrumentState
from actors.instrument.internal import INTERNAL
from actors.instrument.quoting import MAX_LOSS, REFUSED, VENUE_LEVEL
from actors.runtime.outputs import ACCOUNT, GATEWAY, INSTRUMENT, Send
from model.config import AccountSeed, VenueSection
from model.desk import DeskParams, DeskSetup
from model.enums import OrderType, Side, TimeInForce
from model.liquidity import MS, LiquidityPolicy
from model.messages import DeskControl, ExecutionReport, NewOrder, SetDesk, SetKill, SetLiquidity, VenueNewOrder, VenueQuote
from model.orders import OrderSpec
from model.routes import RouteState
from tests.unit.actors.instrument.support import IBM, D

NOW = 1_764_460_800_000_000_000  # 2025-11-30 00:00 UTC
SETUP = DeskSetup("D1", False, "UTC")
PARAMS = DeskParams("IBM", size=D("10"), spread_bps=2, levels=1, refresh_tolerance_bps=2, max_position=D("50"), max_loss=D("1000"))
LIMITS = RiskLimits(max_order_qty=D("100000"), max_order_notional=D("100000000"), price_band=D("0.10"), market_collar=D("0.05"))


class Market:
    """An InstrumentActor core and a real account shard core holding the desk's account D1
    and a client's A1, wired to each other the way their shells' links wire them."""

    def __init__(self, params: DeskParams = PARAMS, at_venues: bool = False, cash: str = "10000000") -> None:
        self.inst = InstrumentState("instrument-0", [IBM], [VenueSection(name="A")])
        self.shard = AccountState("account-0", [IBM], LIMITS)
        self.shard.open_account(AccountSeed("D1", "desk", D(cash), allow_short=True))
        self.shard.open_account(AccountSeed("A1", "client", D(cash), allow_short=True))
        self.reports: list[ExecutionReport] = []
        self.venue: list[Send] = []
        self.now = NOW
        setup = msgspec.structs.replace(SETUP, at_venues=at_venues, params=(params,))
        self.turn(SetLiquidity(LiquidityPolicy(enabled=True, max_quote_age_ns=3_600_000 * MS)), SetDesk(setup))

    def turn(self, *messages: object, shard: object | None = None) -> None:
        """One record's inputs at the InstrumentActor (or ``shard``'s at the shard), then
        every message between the two until neither has anything for the other."""
        for message in messages:
            self.inst.apply(message, self.now)  # type: ignore[arg-type]
        if shard is not None:
            self.shard.apply(shard, self.now)  # type: ignore[arg-type]
            self._from_shard()
        self.inst.end_turn(self.now)
        self.inst.check_invariants()
        while self._from_instrument():
            if not self._from_shard():
                break
        self.shard.check_invariants()

    def _from_instrument(self) -> bool:
        for mark in self.inst.take_marks():
            self.shard.apply(mark, self.now)
        sends = self.inst.out.drain()
        self.venue += [s for s in sends if isinstance(s.message, VenueNewOrder)]
        to_shard = [s.message for s in sends if s.kind == ACCOUNT]
        for message in to_shard:
            self.shard.apply(message, self.now)
        return bool(to_shard)

    def _from_shard(self) -> bool:
        sends = self.shard.out.drain()
        self.reports += [s.message for s in sends if s.kind == GATEWAY and isinstance(s.message, ExecutionReport)]
        to_inst = [s.message for s in sends if s.kind == INSTRUMENT]
        for message in to_inst:
            self.inst.apply(message, self.now)
        self.inst.end_turn(self.now)
        self.inst.check_invariants()
        return bool(to_inst)

    def quote(self, bid: str, ask: str) -> None:
        self.now += MS
        self.turn(VenueQuote("A", "IBM", D(bid), D("100"), D(ask), D("100"), self.now))

    def quote_around(self, mid: int) -> None:
        self.now += MS
        self.turn(VenueQuote("A", "IBM", mid - D("0.05"), D("100"), mid + D("0.05"), D("100"), self.now))

    def start(self) -> None:
        self.turn(DeskControl("IBM", "start"))

    def client(self, cloid: str, side: Side, qty: str, price: str | None = None) -> None:
        order_type = OrderType.LIMIT if price else OrderType.MARKET
        spec = OrderSpec("IBM", side, order_type, TimeInForce.DAY, D(qty), None, D(price) if price else None, None)
        self.turn(shard=NewOrder("A1", cloid, spec))

    @property
    def desk(self):  # type: ignore[no-untyped-def]
        return self.inst.desks["IBM"]

    def working(self) -> list[tuple[str, str, str]]:
        """The desk's quotes resting or working now: (side, price, leaves)."""
        return [(q["side"], q["price"], q["leaves"]) for q in self.inst.desk_view("IBM")[0]["quotes"] if not q["canceling"]]

    def position(self, account: str) -> int:
        held = self.shard.accounts[account].positions.get("IBM")
        return 0 if held is None else held.qty


def test_a_stopped_desk_quotes_nothing_and_a_started_one_rests_two_sided_quotes_in_the_internal_book() -> None:
    market = Market()
    market.quote("149.95", "150.05")
    assert market.working() == [] and market.desk.book.stopped == "stopped"
    market.start()
    assert market.working() == [("buy", "149.97", "10"), ("sell", "150.03", "10")]  # mid 150.00 ± 2 bps, whole ticks
    resting = market.inst.internal["IBM"]
    assert [(r.account, r.spec.side, r.state) for r in resting] == [("D1", Side.BUY, RouteState.INTERNAL), ("D1", Side.SELL, RouteState.INTERNAL)]
    assert [r.status.value for r in market.reports if r.account == "D1"] == ["new", "new"]  # the account's orders, reported like a client's
    assert market.venue == []


def test_quotes_stay_within_the_refresh_tolerance_and_follow_the_nbbo_beyond_it() -> None:
    market = Market()
    market.quote("149.95", "150.05")
    market.start()
    first = {r.order_id for r in market.inst.internal["IBM"]}
    market.quote("149.96", "150.06")  # mid up 1 cent: 0.7 bps, within the 2 bps tolerance
    assert {r.order_id for r in market.inst.internal["IBM"]} == first
    market.quote("150.45", "150.55")  # mid up 50 cents: far beyond it
    assert market.working() == [("buy", "150.46", "10"), ("sell", "150.54", "10")]
    assert not first & {r.order_id for r in market.inst.internal["IBM"]}  # the old quotes were canceled through the shard
    canceled = [r for r in market.reports if r.account == "D1" and r.exec_type.value == "canceled"]
    assert len(canceled) == 2


def test_a_client_order_crosses_a_desk_quote_internally_and_both_accounts_are_booked() -> None:
    market = Market()
    market.quote("149.95", "150.05")
    market.start()
    market.client("take", Side.BUY, "4")  # a market buy meets the desk's offer at 150.03 (inside the NBBO)
    trades = [r for r in market.reports if r.exec_type.value == "trade"]
    assert sorted((r.account, r.venue, r.last_qty, r.last_price) for r in trades) == [("A1", INTERNAL, D("4"), D("150.03")), ("D1", INTERNAL, D("4"), D("150.03"))]
    assert market.position("A1") == D("4") and market.position("D1") == -D("4")
    assert market.desk.book.position == -D("4")
    assert market.shard.accounts["D1"].cash == D("10000000") + D("4") * D("150.03") // 10**9


def test_inventory_skew_moves_the_wired_quotes_the_stated_way() -> None:
    skewed = msgspec.structs.replace(PARAMS, size=D("10"), skew_range=D("20"), skew_bps=4, max_position=D("100"), refresh_tolerance_bps=0)
    market = Market(skewed)
    market.quote("149.95", "150.05")
    market.start()
    flat = dict((side, (price, leaves)) for side, price, leaves in market.working())
    market.client("sell", Side.SELL, "10")  # the desk buys 10: long, half-way to the edge of its range
    assert market.desk.book.position == D("10")
    market.quote("149.95", "150.05")
    long = dict((side, (price, leaves)) for side, price, leaves in market.working())
    assert D(long["buy"][1]) < D(flat["buy"][1]) and D(long["sell"][1]) > D(flat["sell"][1])  # bids less, offers more
    assert D(long["buy"][0]) < D(flat["buy"][0]) and D(long["sell"][0]) < D(flat["sell"][0])  # both prices lower


def test_max_position_is_never_passed_counting_working_and_canceling_leaves() -> None:
    tight = msgspec.structs.replace(PARAMS, size=D("30"), levels=2, level_spread_bps=1, max_position=D("40"))
    market = Market(tight)
    market.quote("149.95", "150.05")
    market.start()
    bids = [D(leaves) for side, _, leaves in market.working() if side == "buy"]
    assert sum(bids) == D("40")  # 30 at level 1, 10 at level 2: the limit, not 60
    market.client("hit", Side.SELL, "30")  # fills the level-1 bid: long 30
    assert market.desk.book.position == D("30")
    long_bids = sum(D(leaves) for side, _, leaves in market.working() if side == "buy")
    assert market.desk.book.position + long_bids <= D("40")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(-40, 40), st.sampled_from(["buy", "sell", "none"]), st.integers(1, 25)), min_size=1, max_size=12))
def test_no_sequence_of_quotes_and_client_orders_takes_the_desk_past_max_position(steps: list[tuple[int, str, int]]) -> None:
    params = msgspec.structs.replace(PARAMS, size=D("8"), levels=3, level_spread_bps=1, level_size_step=D("2"), skew_range=D("15"), skew_bps=3, max_position=D("20"), max_loss=0)
    market = Market(params)
    market.quote("149.95", "150.05")
    market.start()
    for n, (move, side, qty) in enumerate(steps):
        mid = D("150.00") + move * D("0.01")
        market.quote_around(mid)
        if side != "none":
            market.client(f"c{n}", Side.BUY if side == "buy" else Side.SELL, str(qty))
        book = market.desk.book
        exposure = {True: book.position, False: -book.position}
        for quote in market.desk.quotes:
            exposure[quote.buy] += market.inst._working(quote).leaves
        assert abs(book.position) <= D("20") and exposure[True] <= D("20") and exposure[False] <= D("20")
        assert market.position("D1") == book.position  # the shard booked exactly what the desk counts


def test_the_loss_limit_pulls_every_quote_and_the_desk_stays_stopped() -> None:
    params = msgspec.structs.replace(PARAMS, size=D("100"), max_position=D("1000"), max_loss=D("20"))
    market = Market(params)
    market.quote("149.95", "150.05")
    market.start()
    market.client("hit", Side.SELL, "100")  # the desk buys 100 at 149.97
    market.quote("149.65", "149.75")  # the mid falls 30 cents: 100 × 0.27 = 27 lost, past 20
    assert market.desk.book.stopped == MAX_LOSS and market.working() == [] and market.inst.internal["IBM"] == []
    view = market.inst.desk_view("IBM")[0]
    assert view["stopped_by_loss"] and view["day_pnl"] == "-27"
    market.quote("149.95", "150.05")  # the market comes back: still stopped, nothing quoted
    assert market.desk.book.stopped == MAX_LOSS and market.working() == []
    market.quote("149.65", "149.75")
    market.start()  # the day's loss is still past the limit: an operator's start does not lift it
    assert market.desk.book.stopped == MAX_LOSS and market.working() == []


def test_a_refused_quote_stops_the_desk_and_pulls_the_rest() -> None:
    market = Market()
    market.quote("149.95", "150.05")
    market.turn(shard=SetKill("D1", True))
    market.start()
    assert market.desk.book.stopped == REFUSED and market.desk.refused and market.working() == []
    assert market.inst.internal.get("IBM", []) == []


def test_with_at_venues_each_level_also_goes_to_a_venue_within_the_same_limit() -> None:
    params = msgspec.structs.replace(PARAMS, size=D("10"), max_position=D("15"))
    market = Market(params, at_venues=True)
    market.quote("149.95", "150.05")
    market.start()
    at_venue = [s.message.spec for s in market.venue]
    assert [(spec.side, spec.qty) for spec in at_venue] == [(Side.BUY, D("5")), (Side.SELL, D("5"))]  # what the limit leaves
    assert [q.level for q in market.desk.quotes] == [0, 0, VENUE_LEVEL, VENUE_LEVEL]


def test_a_snapshot_and_replay_give_the_same_desk() -> None:
    market = Market()
    market.quote("149.95", "150.05")
    market.start()
    market.client("take", Side.BUY, "4")
    restored = InstrumentState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(market.inst.snapshot()), type=InstrumentState.snapshot_type))
    assert restored.state_hash() == market.inst.state_hash()
    restored.check_invariants()
    assert restored.desks["IBM"].book.position == -D("4") and len(restored.desks["IBM"].quotes) == 2


def test_a_stop_pulls_every_quote_through_the_shard() -> None:
    market = Market()
    market.quote("149.95", "150.05")
    market.start()
    market.turn(DeskControl("IBM", "stop"))
    assert market.working() == [] and market.inst.internal["IBM"] == []
    cancels = [r for r in market.reports if r.account == "D1" and r.exec_type.value == "canceled"]
    assert len(cancels) == 2 and market.desk.quotes == []


def test_the_desk_day_turns_at_local_midnight_and_follows_a_new_time_zone_at_once() -> None:
    market = Market()  # [open] timezone UTC; NOW is midnight UTC
    market.now = NOW - 2 * MS
    market.quote("149.95", "150.05")  # 23:59:59.999
    market.start()
    assert market.desk.book.day == "2025-11-29"
    market.now = NOW - 1
    market.turn(SetDesk(msgspec.structs.replace(SETUP, timezone="Asia/Tokyo", params=(PARAMS,))))  # the same second, in Tokyo: 08:59
    assert market.desk.book.day == "2025-11-30"
    market.turn(SetDesk(msgspec.structs.replace(SETUP, params=(PARAMS,))))
    assert market.desk.book.day == "2025-11-29"
    market.now = NOW
    market.turn()  # the first ns of the next day
    assert market.desk.book.day == "2025-11-30"
