"""The FIX market-maker simulator (``python -m adapters.fix.simulator``) as its own process,
traded with over loopback by a quickfix initiator logging on as brokerd would; and, at
the end, its pure core (``MarketMaker``) driven directly with ``now``."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import quickfix as fix
import quickfix44 as fix44

from adapters.fix.simulator.config import SimulatorSettings, load_settings
from adapters.fix.simulator.core import MarketMaker
from adapters.fix.simulator.messages import (
    CancelOrder,
    CancelRejected,
    ExecutionReport,
    MarketDataRejected,
    MarketDataRequest,
    MarketDataSent,
    NewOrder,
    QuoteSent,
    Terms,
)
from adapters.fix.tags import CxlRejReason, ExecTypeCode, SubscriptionRequestType
from model import fixed
from model.enums import OrderStatus, OrderType, Side, TimeInForce
from tests.conftest import ROOT
from tests.integration.fixtools import SessionApp, free_port, ready_line, session_config, utc_timestamp

CONFIG = ROOT / "conf" / "fix" / "mmsim.cfg"
SETTINGS = ROOT / "conf" / "fix" / "mmsim.toml"
SYMBOLS = ("IBM", "AAPL", "XYZ")
RESEND_ON_LOGON = 2
INCREMENT = Decimal("0.000001")
CENT = Decimal("0.01")
WAIT_S = 5.0

_ids = itertools.count(1)


def cloid(prefix: str = "c") -> str:
    return f"{prefix}-{time.monotonic_ns()}-{next(_ids)}"


def configured_password(target: str) -> str:
    settings = fix.SessionSettings(str(CONFIG))
    for session_id in settings.getSessions():
        if session_id.getTargetCompID().getValue() == target:
            return str(settings.get(session_id).getString("Password"))
    raise KeyError(target)


class Received:
    """One FIX message as (tag, value) pairs, groups flattened."""

    def __init__(self, raw: str) -> None:
        self.fields = [(int(tag), value) for tag, _, value in (part.partition("=") for part in raw.split("\x01") if part)]

    def get(self, tag: int) -> str | None:
        return next((value for key, value in self.fields if key == tag), None)

    def all(self, tag: int) -> list[str]:
        return [value for key, value in self.fields if key == tag]

    def decimal(self, tag: int) -> Decimal:
        value = self.get(tag)
        assert value is not None, f"tag {tag} missing in {self}"
        return Decimal(value)

    @property
    def msg_type(self) -> str | None:
        return self.get(35)

    def __repr__(self) -> str:
        return "|".join(f"{tag}={value}" for tag, value in self.fields)


class Counterparty(SessionApp):
    """brokerd's side of a venue session, recording everything it receives."""

    def __init__(self, password: str | None) -> None:
        super().__init__(password)
        self.session_id: fix.SessionID | None = None
        self.received: list[Received] = []  # application messages
        self.admin: list[Received] = []
        self._changed = threading.Condition()

    def onCreate(self, sessionID: fix.SessionID) -> None:
        self.session_id = sessionID

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        self._keep(self.admin, message)

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        self._keep(self.received, message)

    def _keep(self, into: list[Received], message: fix.Message) -> None:
        with self._changed:
            into.append(Received(message.toString()))
            self._changed.notify_all()

    def wait_until(self, done: Callable[[], bool], timeout: float = WAIT_S) -> None:
        with self._changed:
            assert self._changed.wait_for(done, timeout), "timed out"

    def wait_for(self, predicate: Callable[[Received], bool], admin: bool = False, timeout: float = WAIT_S) -> Received:
        messages = self.admin if admin else self.received
        self.wait_until(lambda: any(predicate(message) for message in messages), timeout)
        return next(message for message in messages if predicate(message))

    def reports(self, cl_ord_id: str) -> list[Received]:
        with self._changed:
            return [m for m in self.received if m.msg_type == "8" and cl_ord_id in (m.get(11), m.get(41))]

    def final_report(self, cl_ord_id: str) -> Received:
        """The report that ends the order (filled, canceled or rejected)."""
        return self.wait_for(lambda m: m.msg_type == "8" and m.get(11) == cl_ord_id and m.get(39) in ("2", "4", "8"))

    def latest_quote(self, symbol: str) -> Received:
        self.wait_for(lambda m: m.msg_type == "S" and m.get(55) == symbol)
        with self._changed:
            return next(m for m in reversed(self.received) if m.msg_type == "S" and m.get(55) == symbol)

    def send(self, msg_type: str, fields: list[tuple[int, str]], header: Sequence[tuple[int, str]] = ()) -> None:
        message = fix.Message()
        message.getHeader().setField(35, msg_type)
        for tag, value in header:
            message.getHeader().setField(tag, value)
        for tag, value in fields:
            message.setField(tag, value)
        self.send_message(message)

    def send_message(self, message: fix.Message) -> None:
        assert fix.Session.sendToTarget(message, self.session_id)


class Connection:
    """A quickfix SocketInitiator for ``sender`` → MM1 with its store and logs under ``home``."""

    def __init__(self, home: Path, port: int, sender: str, password: str | None) -> None:
        config = session_config(
            home, "client.cfg", sender, "MM1",
            "ConnectionType=initiator", "SocketConnectHost=127.0.0.1", f"SocketConnectPort={port}", "ReconnectInterval=1", "NonStopSession=Y",
        )  # fmt: skip
        self.app = Counterparty(password)
        self._settings = fix.SessionSettings(str(config))
        self._store = fix.FileStoreFactory(self._settings)
        self._logs = fix.FileLogFactory(self._settings)
        self._initiator = fix.SocketInitiator(self.app, self._store, self._settings, self._logs)

    def start(self) -> None:
        self._initiator.start()

    def stop(self) -> None:
        self._initiator.stop()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mmsim")


@pytest.fixture(scope="module")
def simulator(data_dir: Path) -> Iterator[int]:
    """The simulator on a free port; yields the port. Stopping it with SIGTERM must exit 0."""
    data = data_dir
    port = free_port()
    command = [
        sys.executable, "-m", "adapters.fix.simulator", "--config", str(CONFIG), "--port", str(port), "--data-dir", str(data),
        "--symbols", ",".join(SYMBOLS), "--fill-parts", "3", "--latency-ms", "5", "--quote-interval-ms", "20", "--seed", "7",
        "--resend-on-logon", str(RESEND_ON_LOGON),
    ]  # fmt: skip
    with (data / "stderr.log").open("w") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        assert ready_line(process).startswith(f"mmsim ready port={port} ")
        yield port
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def client(simulator: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Connection]:
    connection = Connection(tmp_path_factory.mktemp("brokerd"), simulator, "BROKERD", configured_password("BROKERD"))
    connection.start()
    try:
        assert connection.app.logged_on.wait(10), "BROKERD did not log on"
        yield connection
    finally:
        connection.stop()


def new_order(
    party: Counterparty, cl_ord_id: str, symbol: str, side: str, *, qty: str | None = None, cash: str | None = None,
    price: str | None = None, tif: str | None = None, header: Sequence[tuple[int, str]] = (),
) -> None:  # fmt: skip
    fields = [(11, cl_ord_id), (55, symbol), (54, side), (60, utc_timestamp()), (40, "1" if price is None else "2")]
    fields += [(tag, value) for tag, value in ((38, qty), (152, cash), (44, price), (59, tif)) if value is not None]
    party.send("D", fields, header)


def trades(reports: list[Received]) -> list[Received]:
    return [report for report in reports if report.get(150) == "F"]


# --- sessions -------------------------------------------------------------------------------


def test_a_logged_on_counterparty_receives_quotes_for_every_symbol(client: Connection) -> None:
    for symbol in SYMBOLS:
        quote = client.app.latest_quote(symbol)
        assert quote.get(117)
        assert 0 < quote.decimal(132) < quote.decimal(133)
        assert quote.decimal(134) > 0 and quote.decimal(135) > 0


def test_a_bad_password_is_refused(simulator: int, tmp_path: Path) -> None:
    intruder = Connection(tmp_path, simulator, "BROKERD2", "not-the-password")
    intruder.start()
    try:
        logout = intruder.app.wait_for(lambda m: m.msg_type == "5", admin=True)
        assert "password" in (logout.get(58) or "")
        assert not intruder.app.logged_on.is_set()
    finally:
        intruder.stop()


def test_a_logon_without_a_password_or_from_an_unknown_comp_id_is_refused(simulator: int, tmp_path: Path) -> None:
    no_password = Connection(tmp_path / "none", simulator, "BROKERD2", None)
    stranger = Connection(tmp_path / "stranger", simulator, "BROKERX", configured_password("BROKERD"))
    no_password.start()
    stranger.start()
    try:
        assert "Password(554)" in (no_password.app.wait_for(lambda m: m.msg_type == "5", admin=True).get(58) or "")
        assert not stranger.app.logged_on.wait(1.5)
        assert not no_password.app.logged_on.is_set()
    finally:
        no_password.stop()
        stranger.stop()


# --- orders -------------------------------------------------------------------------------


def test_a_market_order_is_acknowledged_then_filled_in_parts_summing_to_its_qty(client: Connection) -> None:
    party = client.app
    order = cloid()
    new_order(party, order, "IBM", "1", qty="10")
    final = party.final_report(order)
    reports = party.reports(order)
    assert [r.get(150) for r in reports] == ["0", "F", "F", "F"]
    assert [r.get(39) for r in reports] == ["0", "1", "1", "2"]
    fills = trades(reports)
    assert sum(fill.decimal(32) for fill in fills) == Decimal("10")
    assert [fill.decimal(14) for fill in fills] == list(itertools.accumulate(fill.decimal(32) for fill in fills))
    assert [fill.decimal(151) for fill in fills] == [Decimal("10") - fill.decimal(14) for fill in fills]
    value = sum((fill.decimal(32) * fill.decimal(31) for fill in fills), Decimal(0))
    assert abs(final.decimal(6) - value / 10) < Decimal("0.000000001")
    assert len({r.get(17) for r in reports}) == len(reports) and len({r.get(37) for r in reports}) == 1
    assert all(r.get(11) == order and r.get(55) == "IBM" and r.get(54) == "1" for r in reports)


def test_a_fractional_sell_fills_exactly_its_qty_in_whole_increments(client: Connection) -> None:
    party = client.app
    order = cloid()
    new_order(party, order, "AAPL", "2", qty="0.3")
    assert party.final_report(order).get(39) == "2"
    fills = trades(party.reports(order))
    assert len(fills) == 3 and sum(fill.decimal(32) for fill in fills) == Decimal("0.3")
    assert all(fill.decimal(32) % INCREMENT == 0 for fill in fills)


def test_a_notional_buy_costs_at_most_its_cash_and_leaves_less_than_one_increment(client: Connection) -> None:
    party = client.app
    order = cloid()
    new_order(party, order, "IBM", "1", cash="100.00")
    final = party.final_report(order)
    assert final.get(39) == "2" and final.decimal(151) == 0 and final.get(152) == "100.00"
    fills = trades(party.reports(order))
    cost = sum((fill.decimal(32) * fill.decimal(31) for fill in fills), Decimal(0))
    assert cost.quantize(CENT, rounding="ROUND_CEILING") <= Decimal("100.00")
    assert Decimal("100.00") - cost < fills[-1].decimal(31) * INCREMENT
    assert all(fill.decimal(32) % INCREMENT == 0 for fill in fills)
    assert final.decimal(14) == sum(fill.decimal(32) for fill in fills)


def resting_limit(party: Counterparty, order: str, qty: str = "5") -> Decimal:
    """A buy limit 5 % under the bid (it rests); its price."""
    price = (party.latest_quote("IBM").decimal(132) * Decimal("0.95")).quantize(CENT)
    new_order(party, order, "IBM", "1", qty=qty, price=str(price))
    party.wait_for(lambda m: m.get(11) == order and m.get(150) == "0")
    return price


def test_a_resting_limit_is_canceled_and_a_second_cancel_is_too_late(client: Connection) -> None:
    party = client.app
    order, cancel, again = cloid(), cloid("x"), cloid("x")
    resting_limit(party, order)
    time.sleep(0.1)
    assert trades(party.reports(order)) == []
    party.send("F", [(41, order), (11, cancel), (55, "IBM"), (54, "1"), (60, utc_timestamp()), (38, "5")])
    canceled = party.final_report(cancel)
    assert (canceled.get(150), canceled.get(39), canceled.get(41), canceled.decimal(151)) == ("4", "4", order, 0)
    party.send("F", [(41, order), (11, again), (55, "IBM"), (54, "1"), (60, utc_timestamp()), (38, "5")])
    refused = party.wait_for(lambda m: m.msg_type == "9" and m.get(11) == again)
    assert (refused.get(434), refused.get(102), refused.get(39)) == ("1", "0", "4")


def test_a_cancel_of_an_unknown_order_is_refused(client: Connection) -> None:
    party = client.app
    cancel = cloid("x")
    party.send("F", [(41, "no-such-order"), (11, cancel), (55, "IBM"), (54, "1"), (60, utc_timestamp()), (38, "1")])
    refused = party.wait_for(lambda m: m.msg_type == "9" and m.get(11) == cancel)
    assert (refused.get(434), refused.get(102), refused.get(39), refused.get(37)) == ("1", "1", "8", "NONE")


def test_a_replace_changes_qty_and_price_then_a_marketable_one_fills(client: Connection) -> None:
    party = client.app
    order, first, second = cloid(), cloid("r"), cloid("r")
    price = resting_limit(party, order)
    lower = price - CENT
    party.send("G", [(41, order), (11, first), (55, "IBM"), (54, "1"), (60, utc_timestamp()), (38, "7"), (40, "2"), (44, str(lower))])
    replaced = party.wait_for(lambda m: m.msg_type == "8" and m.get(11) == first)
    assert (replaced.get(150), replaced.get(39), replaced.get(41)) == ("5", "0", order)
    assert (replaced.decimal(38), replaced.decimal(44), replaced.decimal(151)) == (7, lower, 7)
    marketable = (party.latest_quote("IBM").decimal(133) * Decimal("1.01")).quantize(CENT)
    party.send("G", [(41, first), (11, second), (55, "IBM"), (54, "1"), (60, utc_timestamp()), (38, "8"), (40, "2"), (44, str(marketable))])
    filled = party.final_report(second)
    assert filled.get(39) == "2" and filled.decimal(14) == 8
    assert filled.get(37) == replaced.get(37)
    assert sum(fill.decimal(32) for fill in trades(party.reports(second))) == 8


def test_a_replace_of_an_unknown_order_is_refused(client: Connection) -> None:
    party = client.app
    replace = cloid("r")
    party.send("G", [(41, "no-such-order"), (11, replace), (55, "IBM"), (54, "1"), (60, utc_timestamp()), (38, "2"), (40, "1")])
    refused = party.wait_for(lambda m: m.msg_type == "9" and m.get(11) == replace)
    assert (refused.get(434), refused.get(102)) == ("2", "1")


def test_an_order_status_request_reports_the_order_or_an_unknown_order(client: Connection) -> None:
    party = client.app
    order = cloid()
    new_order(party, order, "XYZ", "1", qty="3")
    assert party.final_report(order).get(39) == "2"
    party.send("H", [(11, order), (55, "XYZ"), (54, "1"), (790, "status-1")])
    status = party.wait_for(lambda m: m.get(790) == "status-1")
    assert (status.get(150), status.get(39), status.decimal(14), status.decimal(151), status.get(11)) == ("I", "2", 3, 0, order)
    party.send("H", [(11, "never-sent"), (55, "XYZ"), (54, "1"), (790, "status-2")])
    unknown = party.wait_for(lambda m: m.get(790) == "status-2")
    assert (unknown.get(150), unknown.get(39), unknown.get(37)) == ("I", "8", "NONE") and "unknown order" in (unknown.get(58) or "")


def market_data_request(request_id: str, symbols: list[str]) -> fix.Message:
    message = fix44.MarketDataRequest()
    message.setField(262, request_id)
    message.setField(263, "0")  # snapshot
    message.setField(264, "1")  # top of book
    entry_type = fix44.MarketDataRequest.NoMDEntryTypes()
    for value in ("0", "1"):
        entry_type.setField(269, value)
        message.addGroup(entry_type)
    related = fix44.MarketDataRequest.NoRelatedSym()
    for symbol in symbols:
        related.setField(55, symbol)
        message.addGroup(related)
    return message


def test_market_data_request_is_answered_with_a_snapshot_per_symbol(client: Connection) -> None:
    party = client.app
    request = cloid("md")
    party.send_message(market_data_request(request, ["IBM", "AAPL"]))
    party.wait_until(lambda: len([m for m in party.received if m.msg_type == "W" and m.get(262) == request]) == 2)
    snapshots = [m for m in party.received if m.msg_type == "W" and m.get(262) == request]
    assert sorted(m.get(55) or "" for m in snapshots) == ["AAPL", "IBM"]
    for snapshot in snapshots:
        assert snapshot.all(269) == ["0", "1"] and Decimal(snapshot.all(270)[0]) < Decimal(snapshot.all(270)[1])
    unknown = cloid("md")
    party.send_message(market_data_request(unknown, ["NOPE"]))
    assert party.wait_for(lambda m: m.msg_type == "Y" and m.get(262) == unknown).get(281) == "0"


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "qty", "cash", "price", "reason"),
    [
        ("IBM", "-5", None, None, "13"),  # negative qty
        ("IBM", "0", None, None, "13"),  # zero qty
        ("IBM", "0.0000001", None, None, "13"),  # finer than the increment
        ("IBM", "5000000", None, None, "3"),  # absurd qty
        ("IBM", "1", None, "999999.00", "99"),  # absurd price
        ("IBM", "1", None, "150.001", "99"),  # off the tick
        ("NOPE", "1", None, None, "1"),  # unknown symbol
        ("IBM", "1", "100.00", None, "13"),  # both qty and cash
        ("IBM", None, None, None, "13"),  # neither
    ],
)
def test_a_bad_order_is_rejected_with_a_reason(
    client: Connection, symbol: str, qty: str | None, cash: str | None, price: str | None, reason: str
) -> None:
    party = client.app
    order = cloid("bad")
    new_order(party, order, symbol, "1", qty=qty, cash=cash, price=price)
    rejected = party.final_report(order)
    assert (rejected.get(150), rejected.get(39), rejected.get(103)) == ("8", "8", reason)
    assert rejected.get(58)


def test_malformed_messages_are_rejected_and_the_session_stays_up(client: Connection) -> None:
    party = client.app
    bad_side, bad_qty = cloid("bad"), cloid("bad")
    new_order(party, bad_side, "IBM", "Z", qty="1")  # not a Side value at all: quickfix's session Reject
    new_order(party, bad_qty, "IBM", "1", qty="ten")  # not a number: session Reject
    party.wait_until(lambda: len([m for m in party.admin if m.msg_type == "3" and m.get(372) == "D"]) >= 2)
    party.send("q", [(11, cloid("mass")), (530, "7"), (60, utc_timestamp())])  # OrderMassCancelRequest: not supported
    assert party.wait_for(lambda m: m.msg_type == "j").get(380) == "3"
    new_order(party, bad_side, "IBM", "5", qty="1")  # sell short: a FIX side this market maker does not take
    assert party.wait_for(lambda m: m.msg_type == "j" and m.get(379) == bad_side).get(380) == "0"
    assert client.app.logged_on.is_set()
    order = cloid()
    new_order(party, order, "IBM", "1", qty="1")
    assert party.final_report(order).get(39) == "2"


def test_a_repeated_cl_ord_id_is_never_executed_twice(client: Connection) -> None:
    party = client.app
    order = cloid()
    new_order(party, order, "IBM", "1", qty="2")
    assert party.final_report(order).get(39) == "2"
    new_order(party, order, "IBM", "1", qty="2", header=[(97, "Y")])  # PossResend: ignored
    new_order(party, order, "IBM", "1", qty="2")  # a plain repeat: rejected as a duplicate
    duplicate = party.wait_for(lambda m: m.get(11) == order and m.get(150) == "8")
    assert (duplicate.get(103), duplicate.get(37)) == ("6", "NONE")
    time.sleep(0.1)
    reports = party.reports(order)
    assert [r.get(150) for r in reports].count("0") == 1 and sum(fill.decimal(32) for fill in trades(reports)) == 2


def test_a_resend_request_gap_fills_the_quotes_and_resends_the_reports(client: Connection, data_dir: Path) -> None:
    party = client.app
    order = cloid()
    new_order(party, order, "IBM", "2", qty="1")
    exec_id = party.final_report(order).get(17)
    party.send("2", [(7, "1"), (16, "0")])  # everything from the start
    sent = data_dir / "log" / "FIX.4.4-MM1-BROKERD.messages.current.log"

    def resent() -> list[Received]:
        lines = sent.read_text().splitlines()
        return [Received(line.partition(" : ")[2]) for line in lines if "\x0143=Y\x01" in line]

    deadline = time.monotonic() + WAIT_S
    while not any(m.get(17) == exec_id for m in resent()) and time.monotonic() < deadline:
        time.sleep(0.05)
    messages = resent()
    assert any(m.get(17) == exec_id and m.msg_type == "8" for m in messages)
    assert any(m.msg_type == "4" and m.get(123) == "Y" for m in messages)  # the quotes: gap fills
    assert not any(m.msg_type == "S" for m in messages)
    assert party.logged_on.is_set()


def test_after_a_reconnect_the_last_reports_are_resent_with_poss_dup(client: Connection) -> None:
    party = client.app
    order = cloid()
    new_order(party, order, "AAPL", "1", qty="1")
    assert party.final_report(order).get(39) == "2"
    time.sleep(0.1)
    with party._changed:
        sent = [m.get(17) for m in party.received if m.msg_type == "8" and m.get(150) != "I"][-RESEND_ON_LOGON:]
    client.stop()
    assert not party.logged_on.is_set()
    client.start()
    assert party.logged_on.wait(10)
    party.wait_until(lambda: len([m for m in party.received if m.get(43) == "Y" and m.msg_type == "8"]) >= RESEND_ON_LOGON)
    resent = [m for m in party.received if m.get(43) == "Y" and m.msg_type == "8"]
    assert [m.get(17) for m in resent] == sent
    assert all(m.get(122) for m in resent)


def test_with_cancel_on_disconnect_a_logout_cancels_the_sessions_resting_orders(tmp_path: Path) -> None:
    """Its own simulator with the option, and BROKERD2 (the module's client holds BROKERD):
    the cancel reaches the counterparty when it logs on again, resent with PossDupFlag=Y."""
    port = free_port()
    command = [sys.executable, "-m", "adapters.fix.simulator", "--config", str(CONFIG), "--port", str(port), "--data-dir", str(tmp_path / "mm"),
               "--symbols", "IBM", "--quote-interval-ms", "20", "--cancel-on-disconnect"]  # fmt: skip
    with (tmp_path / "stderr.log").open("w") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
    connection = Connection(tmp_path / "brokerd2", port, "BROKERD2", configured_password("BROKERD2"))
    try:
        assert ready_line(process).startswith(f"mmsim ready port={port} ")
        connection.start()
        party = connection.app
        assert party.logged_on.wait(10)
        bid = party.latest_quote("IBM").decimal(132)
        resting = cloid()
        new_order(party, resting, "IBM", "1", qty="1", price=str(bid - 2))
        party.wait_for(lambda m: m.msg_type == "8" and m.get(11) == resting and m.get(150) == "0")
        connection.stop()
        connection.start()
        assert party.logged_on.wait(10)
        canceled = party.final_report(resting)
        assert (canceled.get(150), canceled.get(39), canceled.get(58), canceled.get(43)) == ("4", "4", "cancel on disconnect", "Y")
    finally:
        connection.stop()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


# --- the pure core ------------------------------------------------------------------------

T0 = 1_700_000_000 * 1_000_000_000
MS = 1_000_000


def core_settings(**overrides: object) -> SimulatorSettings:
    return load_settings(SETTINGS, **{"symbols": ["IBM"], "latency_ms": 5, "fill_parts": 3, **overrides})


def order(cl_ord_id: str, *, qty: str | None = "10", cash: str | None = None, price: str | None = None, tif: TimeInForce = TimeInForce.DAY,
          side: Side = Side.BUY, poss_dup: bool = False) -> NewOrder:  # fmt: skip
    terms = Terms(
        symbol="IBM", side=side, order_type=OrderType.MARKET if price is None else OrderType.LIMIT, tif=tif,
        qty=None if qty is None else fixed.parse(qty), cash=None if cash is None else fixed.parse(cash),
        price=None if price is None else fixed.parse(price),
    )  # fmt: skip
    return NewOrder(session="S", cl_ord_id=cl_ord_id, terms=terms, poss_dup=poss_dup)


def run(core: MarketMaker, until: int) -> list[ExecutionReport]:
    reports: list[ExecutionReport] = []
    while core.next_wakeup() <= until:
        reports += [event for event in core.advance(core.next_wakeup()) if isinstance(event, ExecutionReport)]
        core.check_invariants()
    return reports


def test_core_same_inputs_give_the_same_events_and_state() -> None:
    def session() -> tuple[list[object], str]:
        core = MarketMaker(core_settings(), "T", T0)
        events: list[object] = [*core.logged_on("S"), *core.submit(order("a"), T0), *core.submit(order("b", cash="50"), T0)]
        events += run(core, T0 + 500 * MS)
        return [msgspec.to_builtins(event) for event in events], core.state_hash()

    assert session() == session()


def test_core_ioc_fills_what_is_shown_and_cancels_the_rest() -> None:
    core = MarketMaker(core_settings(), "T", T0)
    core.submit(order("ioc", qty="100000", tif=TimeInForce.IOC), T0)
    reports = run(core, T0 + 100 * MS)
    fills = [r for r in reports if r.kind is ExecTypeCode.TRADE]
    assert len(fills) == 3 and 0 < fills[-1].cum_qty < fixed.parse("100000")
    assert reports[-1].kind is ExecTypeCode.CANCELED and reports[-1].status is OrderStatus.CANCELED and reports[-1].leaves_qty == 0


def test_core_fok_fills_all_at_once_or_nothing() -> None:
    core = MarketMaker(core_settings(), "T", T0)
    core.submit(order("small", qty="10", tif=TimeInForce.FOK), T0)
    core.submit(order("large", qty="100000", tif=TimeInForce.FOK), T0)
    reports = run(core, T0 + 100 * MS)
    small = [(r.kind, r.details.last_qty) for r in reports if r.cl_ord_id == "small"]
    large = [(r.kind, r.cum_qty) for r in reports if r.cl_ord_id == "large"]
    assert small == [(ExecTypeCode.TRADE, fixed.parse("10"))] and large == [(ExecTypeCode.CANCELED, 0)]


def test_core_a_resting_limit_fills_when_the_walk_crosses_it() -> None:
    core = MarketMaker(core_settings(quote_interval_ms=1), "T", T0)
    ask = core.quote("IBM").ask
    core.submit(order("limit", price=fixed.format(ask - fixed.parse("0.05"))), T0)
    assert [r for r in run(core, T0 + 10 * MS) if r.kind is ExecTypeCode.TRADE] == []
    fills = [r for r in run(core, T0 + 60_000 * MS) if r.kind is ExecTypeCode.TRADE]
    assert fills and fills[-1].status is OrderStatus.FILLED
    assert all(r.details.last_price is not None and r.details.last_price <= ask - fixed.parse("0.05") for r in fills)


def test_core_a_poss_dup_copy_is_ignored_and_a_cancel_after_the_fill_is_too_late() -> None:
    core = MarketMaker(core_settings(latency_ms=0), "T", T0)
    assert len(core.submit(order("a"), T0)) == 1
    assert core.submit(order("a", poss_dup=True), T0) == []
    run(core, T0)
    rejected = core.cancel(CancelOrder("S", "x", "a", None), T0)
    assert type(rejected[0]) is CancelRejected and rejected[0].reason is CxlRejReason.TOO_LATE_TO_CANCEL


def test_core_a_subscription_gets_a_snapshot_on_every_tick_until_unsubscribed() -> None:
    core = MarketMaker(core_settings(symbols=["IBM", "AAPL"]), "T", T0)
    core.logged_on("S")
    subscribe = MarketDataRequest("S", "md1", SubscriptionRequestType.SUBSCRIBE, ["AAPL"])
    assert [type(event) for event in core.market_data(subscribe)] == [MarketDataSent]
    assert type(core.market_data(subscribe)[0]) is MarketDataRejected  # the same MDReqID again
    tick = [event for event in core.advance(T0 + 100 * MS) if isinstance(event, MarketDataSent)]
    assert [(event.request_id, event.quote.symbol) for event in tick] == [("md1", "AAPL")]
    core.market_data(MarketDataRequest("S", "md1", SubscriptionRequestType.UNSUBSCRIBE, []))
    assert not [event for event in core.advance(T0 + 200 * MS) if isinstance(event, MarketDataSent)]


def test_core_quotes_go_only_to_logged_on_sessions() -> None:
    core = MarketMaker(core_settings(), "T", T0)
    core.logged_on("S")
    core.logged_on("U")
    assert core.logged_out("U", T0) == []
    quotes = [event for event in core.advance(T0 + 100 * MS) if isinstance(event, QuoteSent)]
    assert quotes and {quote.session for quote in quotes} == {"S"}


def test_core_cancel_on_disconnect_cancels_only_the_working_orders_of_the_session_that_left() -> None:
    core = MarketMaker(core_settings(cancel_on_disconnect=True, latency_ms=0), "T", T0)
    below = fixed.format(core.quote("IBM").bid - fixed.parse("5"))
    core.submit(order("rests", price=below), T0)
    core.submit(order("fills"), T0)
    core.submit(msgspec.structs.replace(order("elsewhere", price=below), session="U"), T0)
    run(core, T0)
    canceled = [event for event in core.logged_out("S", T0 + MS) if isinstance(event, ExecutionReport)]
    assert [(r.cl_ord_id, r.kind, r.status, r.details.text) for r in canceled] == [
        ("rests", ExecTypeCode.CANCELED, OrderStatus.CANCELED, "cancel on disconnect")
    ]
    assert [event.cl_ord_id for event in core.logged_out("U", T0 + MS) if isinstance(event, ExecutionReport)] == ["elsewhere"]
    core.check_invariants()
    assert MarketMaker(core_settings(), "T", T0).logged_out("S", T0) == []  # without the option: nothing
