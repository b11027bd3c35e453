"""What the FIX integration tests share: free ports, the simulator's ready line, a quickfix
settings file and Application for a test's side of a session, and a bare quickfix acceptor
that plays the venue and says exactly what a test tells it to."""

from __future__ import annotations

import asyncio
import itertools
import selectors
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import quickfix as fix

from adapters.fix.spec import fix44_dictionary

Fields = dict[int, str]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a TCP socket listening on ``port``, from ``/proc/net/tcp``
    and ``tcp6`` (every process of the machine): ``{"127.0.0.1"}``, ``{"0.0.0.0"}``..."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, _, hex_port = local.partition(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            # the kernel prints each 32-bit word in host (little-endian) order
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(socket.AF_INET if width == 8 else socket.AF_INET6, words))
    return found


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine other than loopback, if it has one (no packet is
    sent: a UDP socket only picks its source address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.254.254.254", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def ready_line(process: subprocess.Popen[str], timeout: float = 20) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        assert selector.select(timeout), "the process did not print its ready line"
    return process.stdout.readline().strip()


def fields_of(raw: str) -> Fields:
    """A FIX string's fields by tag (the last one wins; no repeating groups here)."""
    return {int(tag): value for tag, _, value in (part.partition("=") for part in raw.split("\x01") if part)}


def utc_timestamp() -> str:
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime()) + ".000"


def session_config(home: Path, file_name: str, sender: str, target: str, *settings: str) -> Path:
    """A quickfix settings file ``home/file_name`` for one FIX 4.4 session ``sender`` →
    ``target``: ``settings`` (an acceptor's or initiator's own lines), a 30 s heartbeat, the
    FIX 4.4 data dictionary, and the store and logs under ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / file_name
    lines = [
        "[DEFAULT]",
        *settings,
        "HeartBtInt=30",
        "UseDataDictionary=Y",
        f"DataDictionary={fix44_dictionary()}",
        f"FileStorePath={home / 'store'}",
        f"FileLogPath={home / 'log'}",
        "[SESSION]",
        "BeginString=FIX.4.4",
        f"SenderCompID={sender}",
        f"TargetCompID={target}",
    ]
    config.write_text("\n".join(lines) + "\n")
    return config


class SessionApp(fix.Application):  # type: ignore[misc]
    """A test's side of a quickfix session: ``logged_on`` follows the session, a ``password``
    goes on its Logon (Password, 554), and every callback a subclass does not override does
    nothing."""

    def __init__(self, password: str | None = None) -> None:
        super().__init__()
        self.password = password
        self.logged_on = threading.Event()

    def onCreate(self, sessionID: Any) -> None:
        pass

    def onLogon(self, sessionID: Any) -> None:
        self.logged_on.set()

    def onLogout(self, sessionID: Any) -> None:
        self.logged_on.clear()

    def toAdmin(self, message: Any, sessionID: Any) -> None:
        if self.password is not None and message.getHeader().getField(35) == "A":
            message.setField(554, self.password)

    def fromAdmin(self, message: Any, sessionID: Any) -> None:
        pass

    def toApp(self, message: Any, sessionID: Any) -> None:
        pass

    def fromApp(self, message: Any, sessionID: Any) -> None:
        pass


class RawVenue(SessionApp):
    """The market maker MM1 as a bare quickfix acceptor (MM1 → BROKERD) in the test process.

    It acknowledges every NewOrderSingle (ExecType 0) and, while ``fill_price`` is set,
    fills it at once at that price. A test may answer any MsgType its own way instead
    (``answers``: a Reject or BusinessMessageReject, say, or nothing at all). Beyond that
    it sends what a test builds — including what no venue should send (a field missing, a
    bad enum value, a negative quantity, an overfill) — and keeps everything brokerd sends
    it, application and admin messages alike. It takes any logon (brokerd's password is not
    checked here). ``comp_id``: its SenderCompID (quickfix's session registry is
    process-wide: two raw venues alive at once need different ones)."""

    def __init__(self, home: Path, port: int, comp_id: str = "MM1") -> None:
        super().__init__()
        self.port = port
        self.comp_id = comp_id
        self.session_id = fix.SessionID("FIX.4.4", comp_id, "BROKERD")
        self.received: list[Fields] = []  # application messages from brokerd
        self.admin: list[Fields] = []  # admin messages from brokerd (Logon, Reject (3), Logout...)
        self.fill_price: str | None = None
        # MsgType → the answer to such a message from brokerd (None: no answer at all)
        self.answers: dict[str, Callable[[Fields], Fields | None]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        config = session_config(
            home, "venue.cfg", comp_id, "BROKERD",
            "ConnectionType=acceptor", f"SocketAcceptPort={port}", "SocketReuseAddress=Y", "StartTime=00:00:00", "EndTime=00:00:00",
        )  # fmt: skip
        # quickfix keeps raw pointers to these: they live as long as the acceptor
        self._settings = fix.SessionSettings(str(config))
        self._store = fix.FileStoreFactory(self._settings)
        self._logs = fix.FileLogFactory(self._settings)
        # Threaded: quickfix 1.16's SocketAcceptor.stop() crashes once a counterparty has come and gone.
        self._acceptor = fix.ThreadedSocketAcceptor(self, self._store, self._settings, self._logs)

    def start(self) -> None:
        self._acceptor.start()

    def stop(self) -> None:
        self._acceptor.stop()

    def __enter__(self) -> RawVenue:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def logout(self, timeout: float = 10) -> None:
        """End the session from the venue's side, then take logons again (quickfix disables
        a session it logs out); brokerd logs on again by itself."""
        session = fix.Session.lookupSession(self.session_id)
        session.logout("venue going away")
        deadline = time.monotonic() + timeout
        while self.logged_on.is_set():
            assert time.monotonic() < deadline, "the logout never completed"
            await asyncio.sleep(0.02)
        session.logon()

    # --- quickfix's callbacks -------------------------------------------------------------

    def fromAdmin(self, message: Any, sessionID: Any) -> None:
        with self._lock:
            self.admin.append(fields_of(message.toString()))

    def fromApp(self, message: Any, sessionID: Any) -> None:
        received = fields_of(message.toString())
        with self._lock:
            self.received.append(received)
        answer = self.answers.get(received[35])
        if answer is not None:
            reply = answer(received)
            if reply is not None:
                self.send(reply)
            return
        if received.get(35) == "D":
            self.send(self.report(received, exec_type="0"))
            if self.fill_price is not None:
                self.send(self.fill(received, received[38], self.fill_price))

    # --- what a test uses -----------------------------------------------------------------

    def report(self, order: Fields, exec_type: str, **fields: str) -> Fields:
        """A well-formed ExecutionReport (8) about ``order`` (a NewOrderSingle received):
        ExecType ``exec_type``, nothing filled yet, a fresh ExecID; then ``fields`` by tag
        (``_32="1"`` sets LastQty). ``send(..., without=...)`` leaves fields out."""
        number = next(self._ids)
        report: Fields = {
            35: "8",
            37: f"RAW-O-{order[11]}",
            17: f"RAW-E{number}-{time.monotonic_ns()}",
            11: order[11],
            150: exec_type,
            39: "0",
            55: order[55],
            54: order[54],
            38: order.get(38, "0"),
            151: order.get(38, "0"),
            14: "0",
            6: "0",
            60: utc_timestamp(),
        }
        report.update({int(tag.lstrip("_")): value for tag, value in fields.items()})
        return report

    def fill(self, order: Fields, qty: str, price: str) -> Fields:
        """The whole of ``order`` filled at once at ``price``."""
        return self.report(order, "F", _32=qty, _31=price, _14=qty, _151="0", _39="2", _6=price)

    @staticmethod
    def session_reject(
        message: Fields, text: str | None = "Value is incorrect (out of range) for this tag", tag: str = "40", reason: str = "5"
    ) -> Fields:
        """A Reject (3) of ``message`` as the QuickFIX example executor sends one for a market
        order (it takes limit orders only): RefSeqNum, RefTagID 40, RefMsgType, reason 5."""
        reject = {35: "3", 45: message[34], 371: tag, 372: message[35], 373: reason}
        return reject | ({58: text} if text is not None else {})

    @staticmethod
    def business_reject(message: Fields, text: str = "Unsupported Message Type", reason: str = "3", ref_id: bool = False) -> Fields:
        """A BusinessMessageReject (j) of ``message``: RefSeqNum, RefMsgType, reason (3:
        unsupported message type, quickfix's own answer to a MsgType it does not take) and,
        with ``ref_id``, BusinessRejectRefID = its ClOrdID."""
        reject = {35: "j", 45: message[34], 372: message[35], 380: reason, 58: text}
        return reject | ({379: message[11]} if ref_id else {})

    def send(self, message: Fields, without: tuple[int, ...] = ()) -> None:
        """``message`` as it is (MsgType from tag 35), minus the tags in ``without``."""
        out = fix.Message()
        out.getHeader().setField(35, message[35])
        for tag, value in message.items():
            if tag != 35 and tag not in without:
                out.setField(tag, value)
        assert fix.Session.sendToTarget(out, self.session_id)

    async def wait_for(self, predicate: Callable[[Fields], bool], admin: bool = False, timeout: float = 10) -> Fields:
        """The first message from brokerd matching ``predicate`` (polled: the test's event
        loop keeps running)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = next((m for m in (self.admin if admin else self.received) if predicate(m)), None)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"brokerd never sent the message the test waits for (admin={admin})")
            await asyncio.sleep(0.02)

    async def wait_logged_on(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not self.logged_on.is_set():
            assert time.monotonic() < deadline, "brokerd never logged on to the raw venue"
            await asyncio.sleep(0.05)
