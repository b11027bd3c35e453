"""The FIX 4.4 market-maker simulator: a quickfix acceptor around ``MarketMaker``.

    python -m adapters.fix.simulator --config conf/fix/mmsim.cfg [--settings FILE] [--port N]
        [--data-dir DIR] [--symbols IBM,AAPL] [--fill-parts 3] [--latency-ms 5]
        [--quote-interval-ms 100] [--seed 7] [--resend-on-logon N] [--cancel-on-disconnect]

Prints one ``mmsim ready port=N ...`` line on stdout once it listens; SIGTERM or SIGINT
logs the sessions out and exits 0; a bad configuration exits 2. docs/fix-simulator.md
describes every option and what it does with each message.

Threads: quickfix calls the ``Application`` on its own threads (one per connection),
which only authenticate logons and turn messages into commands on a queue. One engine
thread (the main one) owns the ``MarketMaker``: it takes commands off the queue, advances
the core's clock and sends every event, so the core needs no lock and reports leave in
the order the core made them. No Python lock is held while quickfix is called.
"""

from __future__ import annotations

import argparse
import hmac
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import quickfix as fix
import structlog

from actors.runtime.logs import configure as configure_logs
from adapters.fix.dictionary import plain
from adapters.fix.simulator.codec import Unusable, decode, encode, mark_poss_dup
from adapters.fix.simulator.config import load_settings
from adapters.fix.simulator.core import MarketMaker
from adapters.fix.simulator.messages import Command, Event, ExecutionReport
from adapters.fix.spec import fix44_dictionary
from adapters.fix.tags import YES, BusinessRejectReason, ExecTypeCode, MsgType, Tag

log = structlog.get_logger("mmsim")

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
PASSWORD_KEY = "Password"  # per-session key in the .cfg: what Password(554) must be at logon
EXIT_CANNOT_START = 1
EXIT_BAD_CONFIG = 2


class _LoggedOn(msgspec.Struct, frozen=True):
    session: str


class _LoggedOut(msgspec.Struct, frozen=True):
    session: str


class _Stop(msgspec.Struct, frozen=True):
    pass


_Item = Command | Unusable | _LoggedOn | _LoggedOut | _Stop


class MarketMakerApplication(fix.Application):  # type: ignore[misc]
    """The quickfix side: authenticates logons, queues everything else for the engine.

    Logon: refused (``RejectLogon``, so quickfix answers with a Logout carrying the text)
    unless Password(554) equals the session's ``Password`` key. Quotes and market data
    that quickfix would resend are gap-filled instead (``DoNotSend``): stale prices are
    worse than none."""

    def __init__(self, passwords: dict[str, str], inbox: queue.SimpleQueue[_Item]) -> None:
        super().__init__()
        self._passwords = passwords
        self._inbox = inbox
        self.session_ids: dict[str, fix.SessionID] = {}
        self._poss_dup: dict[str, int] = {}  # ExecID → OrigSendingTime (ns) of a report being sent again
        self._sending: int | None = None  # the thread inside ``send``'s call to quickfix, while it is there

    def send(self, event: Event | Unusable) -> bool:
        """Send one event to its session; ``False`` if quickfix did not take it. A report
        sent again gets PossDupFlag=Y in ``toApp`` (quickfix's send strips it before)."""
        session_id = self.session_ids.get(event.session)
        if session_id is None:
            return False
        again = event if isinstance(event, ExecutionReport) and event.poss_dup else None
        if again is not None:
            self._poss_dup[again.exec_id] = again.transact_time
        self._sending = threading.get_ident()
        try:
            return bool(fix.Session.sendToTarget(encode(event), session_id))
        except fix.SessionNotFound:
            return False
        finally:
            self._sending = None
            if again is not None:
                self._poss_dup.pop(again.exec_id, None)

    def onCreate(self, sessionID: fix.SessionID) -> None:
        self.session_ids[sessionID.toString()] = sessionID

    def onLogon(self, sessionID: fix.SessionID) -> None:
        log.info("logged_on", session=sessionID.toString())
        self._inbox.put(_LoggedOn(sessionID.toString()))

    def onLogout(self, sessionID: fix.SessionID) -> None:
        log.info("logged_out", session=sessionID.toString())
        self._inbox.put(_LoggedOut(sessionID.toString()))

    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        header = message.getHeader()
        if header.getField(Tag.MsgType) != MsgType.LOGON:
            return
        session = sessionID.toString()
        given = message.getField(Tag.Password) if message.isSetField(Tag.Password) else ""
        expected = self._passwords.get(session)
        if expected is None or not hmac.compare_digest(given.encode(), expected.encode()):
            log.warning("logon_refused", session=session, reason="bad password" if given else "no password")
            raise fix.RejectLogon("bad password" if given else "Password(554) required")

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        """Marks a report sent again (``send``) PossDupFlag=Y; drops a quote or market data
        that quickfix is resending. The engine's own send of anything else, on its thread
        inside ``send``, is neither: known without reading the message (every read is a call
        into quickfix, which lets go of the GIL and must win it back)."""
        if self._sending == threading.get_ident() and not self._poss_dup:
            return
        header = message.getHeader()
        msg_type = header.getField(Tag.MsgType)
        resending = header.isSetField(Tag.PossDupFlag) and header.getField(Tag.PossDupFlag) == YES
        if resending and msg_type in (MsgType.QUOTE, MsgType.MARKET_DATA_SNAPSHOT_FULL_REFRESH):
            raise fix.DoNotSend()
        if not resending and msg_type == MsgType.EXECUTION_REPORT:
            orig_sending_time = self._poss_dup.get(message.getField(Tag.ExecID))
            if orig_sending_time is not None:
                mark_poss_dup(message, orig_sending_time)

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        """On quickfix's thread, holding the session's lock: the message as a command on the
        engine's queue. A plain one (``dictionary.plain``: no group, every field one the
        dictionary defines) is read in Python from its string, one call into quickfix instead
        of some thirty, each of which would let go of the GIL and wait to win it back while
        the engine's sends wait for the lock."""
        session = sessionID.toString()
        try:
            item: _Item = decode(plain(message.toString()) or message, session)
        except Exception:  # a codec bug must not take the session down: log it, reject the message
            log.exception("decode_failed", session=session, message=message.toString().replace("\x01", "|"))
            header = message.getHeader()
            item = Unusable(
                session, header.getField(Tag.MsgType), header.getField(Tag.MsgSeqNum), None, BusinessRejectReason.OTHER, "cannot process"
            )
        self._inbox.put(item)


class Engine:
    """Owns the ``MarketMaker``: applies queued commands, runs its clock, sends its events.
    ``run`` returns when a ``_Stop`` is queued."""

    def __init__(
        self,
        core: MarketMaker,
        application: MarketMakerApplication,
        inbox: queue.SimpleQueue[_Item],
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._core = core
        self._application = application
        self._inbox = inbox
        self._clock = clock

    def run(self) -> None:
        while True:
            wait_ns = max(0, self._core.next_wakeup() - self._clock())
            try:
                item: _Item | None = self._inbox.get(timeout=wait_ns / NS_PER_S)
            except queue.Empty:
                item = None
            if isinstance(item, _Stop):
                return
            now = self._clock()
            events: list[Event | Unusable] = [] if item is None else self._apply(item, now)
            events.extend(self._core.advance(now))
            for event in events:
                self._send(event)

    def _apply(self, item: _Item, now: int) -> list[Event | Unusable]:
        if isinstance(item, _LoggedOn):
            return list(self._core.logged_on(item.session))
        if isinstance(item, _LoggedOut):
            return list(self._core.logged_out(item.session, now))
        if isinstance(item, Unusable):
            log.warning("business_reject", session=item.session, msg_type=item.ref_msg_type, text=item.text)
            return [item]
        assert not isinstance(item, _Stop)
        return list(self._core.handle(item, now))

    def _send(self, event: Event | Unusable) -> None:
        if isinstance(event, ExecutionReport) and event.kind is ExecTypeCode.REJECTED:
            log.info("order_rejected", session=event.session, cl_ord_id=event.cl_ord_id, text=event.details.text)
        if not self._application.send(event):
            log.error("send_failed", session=event.session, kind=type(event).__name__)


def acceptor_settings(config: Path, data_dir: Path, port: int | None) -> tuple[fix.SessionSettings, dict[str, str], list[int]]:
    """The sessions of ``config`` with the data dictionary, the store and log under
    ``data_dir`` and (if given) ``port`` filled in; each session's password; the ports.
    Raises ``ValueError`` for a session without a password or a non-acceptor."""
    template = fix.SessionSettings(str(config))
    resolved = {
        "DataDictionary": str(fix44_dictionary()),
        "UseDataDictionary": "Y",
        "FileStorePath": str(data_dir / "store"),
        "FileLogPath": str(data_dir / "log"),
    }
    settings = fix.SessionSettings()
    defaults = template.get()
    for key, value in resolved.items():
        defaults.setString(key, value)
    settings.set(defaults)
    passwords: dict[str, str] = {}
    ports: set[int] = set()
    for session_id in template.getSessions():
        session = template.get(session_id)
        name = session_id.toString()
        if not session.has(PASSWORD_KEY) or not session.getString(PASSWORD_KEY):
            raise ValueError(f"{config}: session {name} has no {PASSWORD_KEY}")
        if session.getString("ConnectionType") != "acceptor":
            raise ValueError(f"{config}: session {name} is not an acceptor")
        passwords[name] = session.getString(PASSWORD_KEY)
        for key, value in resolved.items():
            session.setString(key, value)
        if port is not None:
            session.setInt("SocketAcceptPort", port)
        ports.add(session.getInt("SocketAcceptPort"))
        settings.set(session_id, session)
    if not passwords:
        raise ValueError(f"{config}: no [SESSION]")
    return settings, passwords, sorted(ports)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m adapters.fix.simulator", description="FIX 4.4 market-maker simulator")
    parser.add_argument("--config", type=Path, required=True, help="quickfix session file, e.g. conf/fix/mmsim.cfg")
    parser.add_argument("--settings", type=Path, help="simulator settings (default: the --config path with .toml)")
    parser.add_argument("--port", type=int, help="listen here for every session (default: SocketAcceptPort of the cfg)")
    parser.add_argument("--data-dir", type=Path, default=Path("data/mmsim"), help="quickfix store and logs (default data/mmsim)")
    parser.add_argument("--symbols", type=lambda text: [symbol.strip() for symbol in text.split(",")], help="comma-separated")
    parser.add_argument("--fill-parts", type=int, help="fill each qty order in at most this many parts")
    parser.add_argument("--latency-ms", type=int, help="from the ack to the first fill, and between fills")
    parser.add_argument("--quote-interval-ms", type=int, help="one quote per symbol per session this often")
    parser.add_argument("--seed", type=int, help="seed of the random walks")
    parser.add_argument("--resend-on-logon", type=int, metavar="N", help="test mode: resend the last N reports with PossDupFlag=Y")
    parser.add_argument(
        "--cancel-on-disconnect", action="store_true", default=None, help="cancel a session's working orders when it logs out"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    configure_logs()
    data_dir = args.data_dir.resolve()
    try:
        settings = load_settings(
            args.settings or args.config.with_suffix(".toml"),
            symbols=args.symbols,
            fill_parts=args.fill_parts,
            latency_ms=args.latency_ms,
            quote_interval_ms=args.quote_interval_ms,
            seed=args.seed,
            resend_on_logon=args.resend_on_logon,
            cancel_on_disconnect=args.cancel_on_disconnect,
        )
        session_settings, passwords, ports = acceptor_settings(args.config, data_dir, args.port)
    except (ValueError, FileNotFoundError, fix.ConfigError) as error:
        print(f"mmsim: bad configuration: {error}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    data_dir.mkdir(parents=True, exist_ok=True)
    inbox: queue.SimpleQueue[_Item] = queue.SimpleQueue()  # put() is safe in a signal handler
    application = MarketMakerApplication(passwords, inbox)
    store_factory = fix.FileStoreFactory(session_settings)
    log_factory = fix.FileLogFactory(session_settings)
    now = time.time_ns()
    core = MarketMaker(settings, run_id=format(now // NS_PER_MS, "x"), now=now)  # ids unique across restarts
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: inbox.put(_Stop()))
    try:
        # Threaded, not SocketAcceptor: quickfix 1.16's SocketAcceptor.stop() crashes
        # (SIGSEGV in SocketServer::close) once a counterparty has connected and left.
        acceptor = fix.ThreadedSocketAcceptor(application, store_factory, session_settings, log_factory)
        acceptor.start()
    except (fix.ConfigError, fix.RuntimeError) as error:
        print(f"mmsim: cannot start the acceptor: {error}", file=sys.stderr)
        return EXIT_CANNOT_START
    try:
        print(f"mmsim ready port={','.join(map(str, ports))} sessions={','.join(passwords)} data={data_dir}", flush=True)
        Engine(core, application, inbox).run()
    finally:
        acceptor.stop()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
