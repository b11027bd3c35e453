"""The simulator's shell without a socket: its acceptor settings, its command line, the
logon check and resend rules of its quickfix application (real quickfix messages), and the
engine that feeds the core. (The whole process over loopback:
tests/integration/test_fix_mmsim.py.)"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import quickfix as fix
import quickfix44 as fix44

from adapters.fix.simulator.app import (
    EXIT_BAD_CONFIG,
    Engine,
    MarketMakerApplication,
    _Item,
    _LoggedOn,
    _Stop,
    acceptor_settings,
    parse_args,
)
from adapters.fix.simulator.codec import Unusable
from adapters.fix.simulator.config import load_settings
from adapters.fix.simulator.core import MarketMaker
from adapters.fix.simulator.messages import MarketDataRejected, NewOrder, Terms
from adapters.fix.spec import fix44_dictionary
from adapters.fix.tags import BusinessRejectReason, MDReqRejReason, Tag
from model import fixed
from model.enums import OrderType, Side, TimeInForce
from tests.conftest import ROOT

CONFIG = ROOT / "conf" / "fix" / "mmsim.cfg"
SESSION = fix.SessionID("FIX.4.4", "MM1", "BROKERD")
T0 = 1_763_700_000_000_000_000


# --- settings and command line ------------------------------------------------------------------


def test_every_session_of_the_file_is_an_acceptor_with_its_password_store_and_dictionary(tmp_path: Path) -> None:
    settings, passwords, ports = acceptor_settings(CONFIG, tmp_path, None)
    assert passwords == {"FIX.4.4:MM1->BROKERD": "mm1-demo-password", "FIX.4.4:MM1->BROKERD2": "mm1-demo-password-2"}
    assert ports == [9880]
    session = settings.get(SESSION)
    assert session.getString("FileStorePath") == str(tmp_path / "store") and session.getString("DataDictionary") == str(fix44_dictionary())
    assert acceptor_settings(CONFIG, tmp_path, 12345)[2] == [12345]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda text: text.replace("Password=mm1-demo-password-2\n", ""), "session FIX.4.4:MM1->BROKERD2 has no Password"),
        (lambda text: text.replace("ConnectionType=acceptor", "ConnectionType=initiator"), "is not an acceptor"),
        (lambda text: text[: text.index("[SESSION]")], "no \\[SESSION\\]"),
    ],
)
def test_a_session_file_the_simulator_cannot_serve_is_refused(tmp_path: Path, edit: object, words: str) -> None:
    config = tmp_path / "mmsim.cfg"
    config.write_text(edit(CONFIG.read_text()))  # type: ignore[operator]
    with pytest.raises(ValueError, match=words):
        acceptor_settings(config, tmp_path, None)


def test_the_command_line_overrides_only_what_it_names() -> None:
    args = parse_args(["--config", "x.cfg", "--symbols", "IBM, AAPL", "--seed", "3"])
    assert (args.config, args.symbols, args.seed, args.port, args.cancel_on_disconnect) == (Path("x.cfg"), ["IBM", "AAPL"], 3, None, None)
    assert args.data_dir == Path("data/mmsim") and parse_args(["--config", "x.cfg", "--cancel-on-disconnect"]).cancel_on_disconnect is True


def test_a_bad_configuration_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    config = tmp_path / "mmsim.cfg"
    config.write_text(CONFIG.read_text().replace("Password=mm1-demo-password\n", ""))
    (tmp_path / "mmsim.toml").write_text((ROOT / "conf" / "fix" / "mmsim.toml").read_text())
    done = subprocess.run([sys.executable, "-m", "adapters.fix.simulator", "--config", str(config), "--data-dir", str(tmp_path / "data")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(ROOT)})  # fmt: skip
    assert done.returncode == EXIT_BAD_CONFIG and done.stdout == ""
    assert done.stderr.startswith("mmsim: bad configuration: ") and "has no Password" in done.stderr and "Traceback" not in done.stderr


# --- the quickfix application -----------------------------------------------------------------


def application() -> tuple[MarketMakerApplication, queue.SimpleQueue[_Item]]:
    inbox: queue.SimpleQueue[_Item] = queue.SimpleQueue()
    return MarketMakerApplication({SESSION.toString(): "secret"}, inbox), inbox


def logon(password: str | None) -> fix.Message:
    message = fix44.Logon()
    if password is not None:
        message.setField(Tag.Password, password)
    return message


def test_a_logon_needs_the_session_s_password() -> None:
    app, _ = application()
    app.fromAdmin(logon("secret"), SESSION)
    for password, words in (("guess", "bad password"), (None, "Password\\(554\\) required")):
        with pytest.raises(fix.RejectLogon, match=words):
            app.fromAdmin(logon(password), SESSION)
    with pytest.raises(fix.RejectLogon):
        app.fromAdmin(logon("secret"), fix.SessionID("FIX.4.4", "MM1", "STRANGER"))
    app.fromAdmin(fix44.Heartbeat(), SESSION)  # other admin messages pass


def test_quotes_and_market_data_are_never_resent_but_gap_filled() -> None:
    app, _ = application()
    for message in (fix44.Quote(), fix44.MarketDataSnapshotFullRefresh(), fix44.ExecutionReport()):
        message.getHeader().setField(Tag.PossDupFlag, "Y")
        if message.getHeader().getField(Tag.MsgType) == "8":
            app.toApp(message, SESSION)  # a report is resent
        else:
            with pytest.raises(fix.DoNotSend):
                app.toApp(message, SESSION)
    app.toApp(fix44.Quote(), SESSION)  # a fresh quote goes out


def test_while_the_engine_sends_a_resend_on_quickfix_s_thread_is_still_read_and_a_report_sent_again_still_marked() -> None:
    """``toApp`` skips reading the engine's own fresh sends; everything else is read as before."""
    app, _ = application()
    app._sending = threading.get_ident()  # the engine (this thread) is inside ``send``
    resent = fix44.Quote()
    resent.getHeader().setField(Tag.PossDupFlag, "Y")
    outcome: list[BaseException | None] = []

    def on_quickfix_thread() -> None:
        try:
            app.toApp(resent, SESSION)
            outcome.append(None)
        except fix.DoNotSend as dropped:
            outcome.append(dropped)

    thread = threading.Thread(target=on_quickfix_thread)
    thread.start()
    thread.join()
    assert isinstance(outcome[0], fix.DoNotSend)  # quickfix's resend of a quote: gap-filled
    app._poss_dup["E-7"] = T0  # the engine sends report E-7 again
    again = fix44.ExecutionReport()
    again.setField(Tag.ExecID, "E-7")
    app.toApp(again, SESSION)
    assert again.getHeader().getField(Tag.PossDupFlag) == "Y"
    app._poss_dup.clear()
    fresh = fix44.ExecutionReport()
    fresh.setField(Tag.ExecID, "E-8")
    app.toApp(fresh, SESSION)  # the engine's own fresh send: not read, not marked
    assert not fresh.getHeader().isSetField(Tag.PossDupFlag)


def test_an_application_message_is_queued_as_its_command_and_one_the_codec_chokes_on_as_unusable() -> None:
    app, inbox = application()
    order = fix44.NewOrderSingle()
    for tag, value in ((Tag.ClOrdID, "c-1"), (Tag.Symbol, "IBM"), (Tag.Side, "1"), (Tag.OrdType, "1"), (Tag.OrderQty, "1")):
        order.setField(tag, value)
    app.fromApp(order, SESSION)
    assert isinstance(inbox.get_nowait(), NewOrder)
    broken = fix44.MarketDataRequest()  # says one symbol follows, holds none: reading it fails
    broken.getHeader().setField(Tag.MsgSeqNum, "9")
    for tag, value in ((Tag.MDReqID, "md-1"), (Tag.SubscriptionRequestType, "0"), (Tag.NoRelatedSym, "1")):
        broken.setField(tag, value)
    app.fromApp(broken, SESSION)
    assert inbox.get_nowait() == Unusable(SESSION.toString(), "V", "9", None, BusinessRejectReason.OTHER, "cannot process")


def test_an_event_for_a_session_that_does_not_exist_is_not_sent() -> None:
    app, _ = application()
    assert app.send(MarketDataRejected("FIX.4.4:MM1->NOBODY", "md", MDReqRejReason.UNKNOWN_SYMBOL, "x")) is False


# --- the engine -------------------------------------------------------------------------------


def test_the_engine_applies_queued_items_in_order_at_its_clock_and_ends_at_stop() -> None:
    settings = load_settings(ROOT / "conf" / "fix" / "mmsim.toml", symbols=["IBM"])
    order = NewOrder("S", "c-1", Terms("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, fixed.parse("1"), None, fixed.parse("100.00")))
    app, inbox = application()
    core = MarketMaker(settings, "T", T0)
    for item in (_LoggedOn("S"), order, _Stop()):
        inbox.put(item)
    Engine(core, app, inbox, clock=lambda: T0).run()
    expected = MarketMaker(settings, "T", T0)
    expected.logged_on("S")
    expected.advance(T0)
    expected.handle(order, T0)
    expected.advance(T0)
    assert core.state_hash() == expected.state_hash() != MarketMaker(settings, "T", T0).state_hash()
