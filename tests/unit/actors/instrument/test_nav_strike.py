"""A mutual fund's NAV strike as a marker through every account shard: the cut-off of an
order is the moment the marker passes its shard, whatever order the hops deliver in."""

from __future__ import annotations

from typing import Any

from actors.account.core import AccountState
from actors.account.risk import RiskLimits
from actors.instrument.core import InstrumentState
from actors.runtime.outputs import ACCOUNT, ALL, GATEWAY, INSTRUMENT, Send
from actors.supervisor.core import SupervisorState
from model import fixed
from model.config import AccountSeed, VenueSection
from model.enums import AssetClass, ExecType, OrderStatus, OrderType, Reason, Side, TimeInForce, VenueEventKind
from model.instruments import Instrument
from model.messages import (
    CancelOrder,
    CancelRoute,
    ExecutionReport,
    NewOrder,
    OrderUpdate,
    ReplaceRoute,
    Reply,
    RequestRejected,
    RouteOrder,
    StrikeNav,
)
from model.orders import OrderSpec

D = fixed.parse
NOW = 1_700_000_000 * 1_000_000_000
FUND = Instrument("VFIAX", AssetClass.MUTUAL_FUND, D("0.01"), D("0.001"), D("450"))
IBM = Instrument("IBM", AssetClass.EQUITY, D("0.01"), D("0.000001"), D("150"))
LIMITS = RiskLimits(max_order_qty=D("1000"), max_order_notional=D("1000000"), price_band=D("0.10"), market_collar=D("0.05"))
REPLY = Reply("gateway-0", 1, b"7")
OWNER = {"A0": "account-0", "A1": "account-1"}  # which shard owns which account


class Cores:
    """A supervisor, two account shards and the fund's InstrumentActor, wired by hand: each
    core's outputs wait in its own outbox until the test delivers them, in whatever order
    it chooses (the hops keep each sender's order, but not an order across senders)."""

    def __init__(self) -> None:
        self.supervisor = SupervisorState(["VFIAX", "IBM"])
        self.shards = {name: AccountState(name, [FUND, IBM], LIMITS) for name in ("account-0", "account-1")}
        for account, shard in OWNER.items():
            self.shards[shard].open_account(AccountSeed(account, "trader", D("100000.00")))
        self.instrument = InstrumentState("instrument-0", [FUND, IBM], [VenueSection(name="SIM")], shards=2)
        self.outbox: dict[str, list[Send]] = {"supervisor": [], "instrument-0": [], **{name: [] for name in self.shards}}
        self.reports: list[ExecutionReport] = []

    def apply(self, core: str, message: Any, now: int = NOW) -> None:
        target = self.supervisor if core == "supervisor" else self.instrument if core == "instrument-0" else self.shards[core]
        target.apply(message, now)
        self.outbox[core] += target.out.drain()

    def deliver(self, sender: str, kind: str | None = None) -> None:
        """Everything ``sender`` sent so far (only to ``kind`` when given), in its order."""
        keep, sends = [], self.outbox[sender]
        for send in sends:
            if kind is not None and send.kind != kind:
                keep.append(send)
            elif send.kind == INSTRUMENT:
                self.apply("instrument-0", send.message)
            elif send.kind == ACCOUNT:
                for shard in self.shards if send.key == ALL else [OWNER[send.key]]:
                    self.apply(shard, send.message)
            elif send.kind == GATEWAY and isinstance(send.message, ExecutionReport):
                self.reports.append(send.message)
        self.outbox[sender] = keep

    def settle(self) -> None:
        while any(self.outbox.values()):
            for sender in list(self.outbox):
                self.deliver(sender)

    def order(self, account: str, cloid: str, qty: str = "1") -> ExecutionReport:
        """A fund buy, answered by its shard; its route stays in the shard's outbox."""
        shard = OWNER[account]
        self.apply(shard, NewOrder(account, cloid, OrderSpec("VFIAX", Side.BUY, OrderType.MARKET, TimeInForce.DAY, D(qty), None, None, None)))
        [report] = [s.message for s in self.outbox[shard] if isinstance(s.message, ExecutionReport)]
        self.outbox[shard] = [s for s in self.outbox[shard] if s.kind != GATEWAY]
        assert report.exec_type is ExecType.NEW
        return report

    def status(self, account: str, cloid: str) -> tuple[OrderStatus, int | None]:
        shard = self.shards[OWNER[account]]
        order = shard.orders[shard.accounts[account].orders[cloid]]
        return order.status, order.cum_value // order.cum_qty if order.cum_qty else None


def test_an_order_acknowledged_before_the_strike_fills_at_it_even_when_the_strike_reaches_the_fund_first() -> None:
    cores = Cores()
    cores.order("A0", "before")  # acknowledged `new`; its route has not left the shard yet
    cores.apply("supervisor", StrikeNav("VFIAX", D("401.23")))
    # Adversarial: whatever the supervisor sends to the InstrumentActor arrives first, then
    # what it sends to the shards, and only then what the shards routed.
    cores.deliver("supervisor", INSTRUMENT)
    cores.deliver("supervisor", ACCOUNT)
    cores.deliver("account-1")
    cores.deliver("account-0")
    cores.settle()
    assert cores.status("A0", "before") == (OrderStatus.FILLED, D("401.23"))
    assert [(r.client_order_id, r.last_price) for r in cores.reports if r.exec_type is ExecType.TRADE] == [("before", D("401.23"))]


def test_an_order_acknowledged_after_the_marker_passed_its_shard_waits_for_the_next_nav_even_when_it_arrives_first() -> None:
    cores = Cores()
    cores.order("A1", "slow-shard")  # account-1 acknowledged it before the marker passed account-1
    cores.apply("supervisor", StrikeNav("VFIAX", D("401.23")))
    cores.deliver("supervisor")
    cores.deliver("account-0")  # account-0's marker is at the fund; account-1's is not yet
    cores.order("A0", "after-cut-off")  # acknowledged after the marker passed account-0 ...
    cores.deliver("account-0")  # ... and at the fund before the strike happens
    assert cores.instrument.navs_struck == {}
    cores.deliver("account-1")  # account-1's route, then its marker: the strike
    assert cores.instrument.navs_struck == {"VFIAX": [1]}
    cores.settle()
    assert cores.status("A1", "slow-shard") == (OrderStatus.FILLED, D("401.23"))
    assert cores.status("A0", "after-cut-off") == (OrderStatus.NEW, None)
    cores.apply("supervisor", StrikeNav("VFIAX", D("402.00")))
    cores.settle()
    assert cores.status("A0", "after-cut-off") == (OrderStatus.FILLED, D("402.00"))
    assert cores.instrument.navs_struck == {"VFIAX": [1, 1]}
    assert cores.supervisor.nav_strikes == {"VFIAX": 2}


def test_a_cancel_sent_after_the_cut_off_is_too_late_and_the_order_fills() -> None:
    cores = Cores()
    cores.order("A0", "locked")
    cores.order("A0", "canceled-in-time")
    cores.apply("account-0", CancelOrder("A0", "canceled-in-time"))  # before the marker: it is canceled
    cores.apply("supervisor", StrikeNav("VFIAX", D("401.23")))
    cores.deliver("supervisor")
    cores.apply("account-0", CancelOrder("A0", "locked", REPLY))  # after the marker passed account-0
    cores.deliver("account-0")
    cores.deliver("instrument-0")
    [refused] = [s.message for s in cores.outbox["account-0"] if isinstance(s.message, RequestRejected)]
    assert (refused.reply, refused.code, refused.message) == (REPLY, "cancel_rejected", Reason.TOO_LATE_TO_CANCEL.value)
    assert cores.status("A0", "locked")[0] is OrderStatus.NEW  # the strike is still to come
    assert cores.status("A0", "canceled-in-time")[0] is OrderStatus.CANCELED
    cores.settle()
    assert cores.status("A0", "locked") == (OrderStatus.FILLED, D("401.23"))


def test_markers_count_once_and_strikes_of_a_fund_happen_in_their_order() -> None:
    fund = InstrumentState("instrument-0", [FUND], [VenueSection(name="SIM")], shards=2)

    def route(order_id: str) -> RouteOrder:
        return RouteOrder(order_id, "A", OrderSpec("VFIAX", Side.BUY, OrderType.MARKET, TimeInForce.DAY, D("1"), None, None, None))

    def fills(message: Any) -> list[tuple[str, int | None]]:
        fund.apply(message, NOW)
        return [(m.order_id, m.last_price) for m in (s.message for s in fund.out.drain()) if isinstance(m, OrderUpdate)]

    assert fills(route("account-0-1")) == fills(route("account-1-1")) == []
    assert fills(StrikeNav("VFIAX", D("401.00"), 1, "account-0")) == []
    assert fills(StrikeNav("VFIAX", D("401.00"), 1, "account-0")) == []  # a repeat counts once
    assert fills(StrikeNav("VFIAX", D("402.00"), 2, "account-0")) == []  # account-0 is a strike ahead
    assert fills(route("account-0-2")) == []  # after account-0's second marker: for the third strike
    assert fills(route("account-1-2")) == []  # before account-1's first marker: for the first
    assert fills(StrikeNav("VFIAX", D("401.00"), 1, "account-1")) == [
        ("account-0-1", D("401.00")),
        ("account-1-1", D("401.00")),
        ("account-1-2", D("401.00")),
    ]
    assert fills(StrikeNav("VFIAX", D("402.00"), 2, "account-1")) == []  # struck at 402.00, nothing held for it
    assert fills(StrikeNav("VFIAX", D("402.00"), 2, "account-1")) == []
    assert fund.navs_struck == {"VFIAX": [3, 0]} and fund.books["VFIAX"].nav == D("402.00")
    assert [r.nav_strike for r in fund.routes.values()] == [3]
    # a replace of an order not yet bound to a strike is applied; of a bound one, too late
    fund.apply(ReplaceRoute("account-0-2", "account-0-3", "A", "VFIAX", D("2"), None, None), NOW)
    [replaced] = [s.message for s in fund.out.drain() if isinstance(s.message, OrderUpdate)]
    assert replaced.kind is VenueEventKind.REPLACED and fund.routes["account-0-3"].nav_strike == 3
    fills(StrikeNav("VFIAX", D("403.00"), 3, "account-0"))
    fund.apply(CancelRoute("account-0-3", "A", "VFIAX"), NOW)
    [refused] = [s.message for s in fund.out.drain() if isinstance(s.message, OrderUpdate)]
    assert (refused.kind, refused.reason) == (VenueEventKind.CANCEL_REJECTED, Reason.TOO_LATE_TO_CANCEL.value)
    assert fills(StrikeNav("VFIAX", D("403.00"), 3, "account-1")) == [("account-0-3", D("403.00"))]


def test_the_strike_is_deterministic_so_replay_gives_the_same_states() -> None:
    def day() -> tuple[str, str, str, str]:
        cores = Cores()
        cores.order("A1", "o1")
        cores.apply("supervisor", StrikeNav("VFIAX", D("401.23")))
        cores.deliver("supervisor")
        cores.deliver("account-0")
        cores.order("A0", "o2")
        cores.settle()
        return (
            cores.supervisor.state_hash(),
            cores.shards["account-0"].state_hash(),
            cores.shards["account-1"].state_hash(),
            cores.instrument.state_hash(),
        )

    assert day() == day()
