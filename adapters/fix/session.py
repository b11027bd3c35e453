"""The quickfix side of a FIX venue: one session (initiator or acceptor, from its ``.cfg``)
hosted in the VenueSession actor.

quickfix runs its own threads. Everything it hands us — logon, logout, each application
message as its exact string — is queued, in order, for the actor's event loop, which takes
the whole queue at once: one wakeup (``call_soon_threadsafe``) carries every message that
arrived before the loop got to them; the actor journals them before acting
(``adapters/fix/venue.py``). The callbacks on quickfix's threads do as little as they can:
each holds the session's lock and needs the GIL, which the actor's loop holds while it works.
Outbound strings go through a token bucket (``rate_limit_per_s``): over the limit they wait
in order in a queue, never dropped.

Sequence numbers and sent messages live in quickfix's FileStore under
``<data-dir>/<venue-actor>/fix/``, so a restart resumes with resend and gap fill, never a
reset.

No password is ever written to a file: the session file quickfix is given is written
without ``Username`` and ``Password`` (brokerd sends and checks them itself, a ``vault:``
reference opened at each logon); our Logon carrying a password is kept out of quickfix's
store (``keep_sent``: an admin message is never resent, a gap fill stands in for it); and
quickfix gets no message log (its FileLog writes every message, the Logon's Password(554)
too), only its events, on the actor's stdout. brokerd's journal holds the application
messages received, which carry no credential. Inbound messages the venue sent after the last one journaled are asked for again:
before connecting, the session's next expected seq is set to the journal's last + 1, so a
message quickfix took but the actor never journaled (a crash in between) is resent
(PossDup) instead of lost; the adapter applies each ExecID once.

Each message about an order leaves with the MsgSeqNum quickfix gives it in ``toApp``; that
number is handed to ``on_sent`` (the actor journals it), because a venue's Reject (3) names
the message it refuses by that number alone. Those that left just before a crash, never
journaled, are read back from quickfix's store at the next start (``sent_since``). ``toApp``
runs inside our own ``sendToTarget``, on the loop's thread, so ``on_sent`` is called there
directly, with the order the message is about read from the string we built (every
``getField`` through quickfix's bindings lets go of the GIL and must win it back).

An acceptor listens on ``listen_host`` only. quickfix 1.16 has no setting for the address:
its acceptor binds every interface. So brokerd binds the configured address and port
itself and puts that socket in place of the one quickfix made (on a free port of its own,
closed within milliseconds), before the ready line and before any logon can be taken.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import os
import socket
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import quickfix as fix
import structlog

from adapters.fix.dictionary import outgoing
from adapters.fix.outbound import order_reference
from adapters.fix.spec import fix44_dictionary
from adapters.fix.tags import ORDER_MESSAGES, YES, MsgType, Tag
from adapters.fix.writer import SOH

log = structlog.get_logger("fix")


class Credentials(NamedTuple):
    """What a Logon carries: Username (553) and Password (554); ``""``: not sent, not checked.
    As read from the session file, each may be a vault reference (``vault:MM1``): see
    ``FixSession.logon_credentials``."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password={_shown(self.password)!r})"

    def accepts(self, username: str, password: str) -> bool:
        """An acceptor's check of the counterparty's Logon: the password always, the
        username when one is configured. Constant time, so timing tells nothing."""
        return hmac.compare_digest(password.encode(), self.password.encode()) and (
            not self.username or hmac.compare_digest(username.encode(), self.username.encode())
        )


def _shown(value: str) -> str:
    """A credential as it may be shown: a vault reference as it is, a value never."""
    return value if not value or value.startswith("vault:") else "***"


def file_credentials(text: str) -> Credentials:
    """``Username`` and ``Password`` of a session file's text: its [SESSION]'s, else its
    [DEFAULT]'s (as quickfix reads a setting)."""
    found: dict[str, dict[str, str]] = {"DEFAULT": {}, "SESSION": {}}
    section = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip().upper()
            continue
        key, sep, value = stripped.partition("=")
        if sep and key.strip() in CREDENTIAL_SETTINGS and section in found:
            found[section][key.strip()] = value.strip()
    merged = {**found["DEFAULT"], **found["SESSION"]}
    return Credentials(merged.get("Username", ""), merged.get("Password", ""))


CREDENTIAL_SETTINGS = ("Username", "Password")  # brokerd's own: never written to the file quickfix reads


def session_settings(template: Path, directory: Path, replace: dict[str, str] | None = None) -> tuple[Any, Any, Credentials]:
    """The quickfix settings of ``template`` with the data dictionary and the store under
    ``directory`` (and ``replace``'s keys set); the session's id and its credentials
    (``Username=`` and ``Password=``: sent on our Logon, or required on theirs). Raises
    ``ValueError`` for a file without exactly one [SESSION], for an acceptor without a
    ``Password`` (it would let anyone log on), or with ``PersistMessages=N``: without the
    messages sent, quickfix could not resend them, nor brokerd find what a Reject refers to.

    The credentials are brokerd's to send and check, not quickfix's: they are left out of
    the file written for quickfix (``<directory>/session.cfg``), which holds no password."""
    directory.mkdir(parents=True, exist_ok=True)
    given = {"FileStorePath": str(directory / "store"), "DataDictionary": str(fix44_dictionary())}
    given.update(replace or {})
    source = template.read_text()
    credentials = file_credentials(source)
    left_out = {*given, *CREDENTIAL_SETTINGS}
    lines = [line for line in source.splitlines() if line.split("=", 1)[0].strip() not in left_out]
    text = "\n".join(lines)
    extra = "".join(f"{key}={value}\n" for key, value in given.items())
    text = text.replace("[DEFAULT]", "[DEFAULT]\n" + extra, 1) if "[DEFAULT]" in text else "[DEFAULT]\n" + extra + text
    generated = directory / "session.cfg"
    generated.write_text(text + "\n")
    settings = fix.SessionSettings(str(generated))
    ids = list(settings.getSessions())
    if len(ids) != 1:
        raise ValueError(f"{template}: a venue session file must define exactly one [SESSION], not {len(ids)}")
    session_id = ids[0]
    section = settings.get(session_id)
    if section.has("PersistMessages") and not section.getBool("PersistMessages"):
        raise ValueError(f"{template}: PersistMessages=N: brokerd needs the messages it sends kept (resends, and what a Reject refers to)")
    if section.getString("ConnectionType") == "acceptor" and not credentials.password:
        raise ValueError(f"{template}: an acceptor needs a Password: without one, anyone who reaches the port could log on")
    return settings, session_id, credentials


def _free_port() -> int:
    """A TCP port free on every interface just now."""
    with socket.socket() as probe:
        probe.bind(("", 0))
        return int(probe.getsockname()[1])


def _listening_socket_on(port: int) -> int:
    """The file descriptor of this process's listening TCP socket on ``port`` (quickfix's)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            probe = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        with probe:
            if (
                probe.family == socket.AF_INET
                and probe.type == socket.SOCK_STREAM
                and probe.getsockname()[1] == port
                and probe.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
            ):
                return fd
    raise RuntimeError(f"quickfix's listening socket on port {port} not found")


def _adopt(listener: socket.socket, port: int) -> None:
    """Put ``listener`` in place of quickfix's listening socket on ``port``. dup2 swaps the
    file under quickfix's descriptor at once: quickfix keeps the number, so its accept
    thread takes connections from ``listener`` from its next accept on. That thread may be
    waiting in accept on the old socket already: a connection of ours (a knock, which closes
    at once and which quickfix drops) wakes it. The old socket, which listened on every
    interface, closes as soon as nothing holds it: at once, or when the knock is taken.
    Never shut down under the thread: its accept would fail, and its loop end for good."""
    fd = _listening_socket_on(port)
    with socket.socket(fileno=os.dup(fd)):
        os.dup2(listener.fileno(), fd)
        listener.close()
        knock = socket.create_connection(("127.0.0.1", port), timeout=_KNOCK_TIMEOUT_S)
    with knock:  # wait until the old socket is gone: taken and hung up on, or reset
        try:
            knock.shutdown(socket.SHUT_WR)
            knock.recv(1)
        except OSError:  # reset (closed with the knock still queued), or a very slow machine
            pass


_KNOCK_TIMEOUT_S = 5.0  # how long the start waits for quickfix to take the knock (normally microseconds)


RECENT_REFUSALS = 5  # refusals status shows


def _msg_type(message: Any) -> str:
    return str(message.getHeader().getField(Tag.MsgType))


def sent_reference(raw: str) -> tuple[str, str] | None:
    """``(MsgType, ClOrdID)`` of a message about one order that this side built
    (``outbound.py``), read from its string: what ``outbound.order_reference`` reads from it
    parsed, without a call into quickfix. ``None`` for any other message."""
    fields = dict(field.split("=", 1) for field in raw.split(SOH) if field)
    msg_type = fields.get(str(int(Tag.MsgType)))
    cl_ord_id = fields.get(str(int(Tag.ClOrdID)))
    return (msg_type, cl_ord_id) if msg_type in ORDER_MESSAGES and cl_ord_id is not None else None


_REFUSAL_FIELDS = (
    Tag.RefSeqNum,
    Tag.RefMsgType,
    Tag.RefTagID,
    Tag.SessionRejectReason,
    Tag.BusinessRejectRefID,
    Tag.BusinessRejectReason,
    Tag.Text,
)


def _refusal(message: Any) -> str:
    """One line for status: what a Reject (3) or BusinessMessageReject (j) we send says."""
    fields = " ".join(f"{tag.name}={message.getField(tag)}" for tag in _REFUSAL_FIELDS if message.isSetField(tag))
    return f"{_msg_type(message)} {fields}"


class _Application(fix.Application):  # type: ignore[misc]
    def __init__(self, session: FixSession) -> None:
        super().__init__()
        self.session = session

    def onCreate(self, sessionID: Any) -> None:
        pass

    def onLogon(self, sessionID: Any) -> None:
        self.session.post(self.session.on_logon)

    def onLogout(self, sessionID: Any) -> None:
        self.session.post(self.session.on_logout)

    def toAdmin(self, message: Any, sessionID: Any) -> None:
        """Our Logon carries the username and password configured. A Reject (3) is counted
        and kept for status: quickfix sends one itself for a message that breaks the data
        dictionary (a required field missing, a bad enum value), which brokerd never sees."""
        msg_type = _msg_type(message)
        session = self.session
        if msg_type == MsgType.LOGON and not session.acceptor:
            credentials = session.logon_credentials()
            if credentials is None:
                return  # logged: the venue refuses a Logon without them, and quickfix tries again
            if credentials.username:
                message.setField(Tag.Username, credentials.username)
            if credentials.password:
                message.setField(Tag.Password, credentials.password)
                session.keep_sent(sessionID, False)  # the Logon with the password stays out of quickfix's store
            return
        if not session.keeping_sent:
            session.keep_sent(sessionID, True)
        if msg_type == MsgType.REJECT:
            session.refused(_refusal(message))

    def fromAdmin(self, message: Any, sessionID: Any) -> None:
        """An acceptor lets in only a Logon with the session's password (and username, when
        one is configured); an unknown CompID never gets here: quickfix refuses it. A Reject
        (3) goes to the actor like an application message: it may refuse an order."""
        msg_type = _msg_type(message)
        if msg_type == MsgType.REJECT:
            raw = message.toString()
            self.session.post(lambda: self.session.on_message(raw))
            return
        if not (self.session.acceptor and msg_type == MsgType.LOGON):
            return
        username, password = (message.getField(tag) if message.isSetField(tag) else "" for tag in (Tag.Username, Tag.Password))
        expected = self.session.logon_credentials()
        if expected is None:
            self.session.logons_refused += 1
            raise fix.RejectLogon("logon not possible now")
        if not expected.accepts(username, password):
            self.session.logons_refused += 1
            log.warning("logon refused: bad username or password", session=sessionID.toString())
            raise fix.RejectLogon("bad username or password")

    def toApp(self, message: Any, sessionID: Any) -> None:
        """Runs inside ``sendToTarget`` once quickfix has given the message its MsgSeqNum,
        before it is stored and sent. A message about an order reports its number (a resend,
        PossDup, has its number reported already). Our own send of one (``FixSession._drain``,
        on the loop's thread) says what it is about: its number is all there is to read.
        Resends run on quickfix's thread, never here."""
        session = self.session
        if not session.keeping_sent:  # the message after our Logon: kept in the store as every message is
            session.keep_sent(sessionID, True)
        reference = session.sending
        if reference is not None and threading.get_ident() == session.loop_thread:
            if session.on_sent is not None:
                session.on_sent(int(message.getHeader().getField(Tag.MsgSeqNum)), *reference)
            return
        if _msg_type(message) == MsgType.BUSINESS_MESSAGE_REJECT:
            self.session.refused(_refusal(message))
            return
        header = message.getHeader()
        if self.session.on_sent is None or (header.isSetField(Tag.PossDupFlag) and header.getField(Tag.PossDupFlag) == YES):
            return
        reference = order_reference(message)
        if reference is not None:
            seq = int(header.getField(Tag.MsgSeqNum))
            on_sent = self.session.on_sent
            self.session.post(lambda: on_sent(seq, *reference))

    def fromApp(self, message: Any, sessionID: Any) -> None:
        raw = message.toString()
        self.session.post(lambda: self.session.on_message(raw))


class FixSession:
    """One venue's quickfix session, bridged to an asyncio loop."""

    def __init__(
        self,
        name: str,
        template: Path,
        directory: Path,
        on_message: Callable[[str], None],
        on_logon: Callable[[], None],
        on_logout: Callable[[], None],
        rate_limit_per_s: int = 0,
        accept_port: int | None = None,
        listen_host: str = "127.0.0.1",
        on_sent: Callable[[int, str, str], None] | None = None,
        resolve: Callable[[str], str] | None = None,
    ) -> None:
        """``accept_port`` (an acceptor: instead of the file's SocketAcceptPort) and
        ``listen_host``: where an acceptor listens. ``on_sent(seq, msg_type, cl_ord_id)``:
        each message about an order, as it leaves. ``resolve``: a credential of the session
        file as it is used (a ``vault:NAME`` reference opened: ``keystore.vault.resolver``),
        called at each logon. Raises ``ValueError`` for a bad session file and ``OSError``
        when an acceptor cannot listen at its address."""
        self.name = name
        self.resolve = resolve
        self.keeping_sent = True  # whether quickfix keeps the messages we send (all but a Logon with a password)
        self.logons_refused = 0  # an acceptor: Logons refused (bad or unavailable credentials)
        self.on_message = on_message
        self.on_logon = on_logon
        self.on_logout = on_logout
        self.on_sent = on_sent
        self.settings, self.session_id, self.credentials = session_settings(template, directory)
        self.directory = directory
        self.loop = asyncio.get_running_loop()
        self.loop_thread = threading.get_ident()
        self.posted: collections.deque[Callable[[], None]] = collections.deque()  # from quickfix's threads, in order
        self.wakeup_pending = False  # a call to run ``posted`` is on its way to the loop
        self.sending: tuple[str, str] | None = None  # what the message in ``sendToTarget`` is about (loop thread)
        self.application = _Application(self)
        section = self.settings.get(self.session_id)
        self.acceptor = section.getString("ConnectionType") == "acceptor"
        self.listener: socket.socket | None = None
        self.listening = ""
        self.quickfix_port = 0
        if self.acceptor:
            port = accept_port or section.getInt("SocketAcceptPort")
            family = socket.AF_INET6 if ":" in listen_host else socket.AF_INET
            self.listener = socket.create_server((listen_host, port), family=family)  # SO_REUSEADDR; fails here if taken
            self.listening = f"{listen_host}:{self.listener.getsockname()[1]}"
            self.quickfix_port = _free_port()  # where quickfix binds before its socket is swapped for ours
            self.settings, self.session_id, self.credentials = session_settings(
                template, directory, {"SocketAcceptPort": str(self.quickfix_port)}
            )
        # quickfix keeps raw pointers to these: they must live as long as the connector
        self.store = fix.FileStoreFactory(self.settings)
        # quickfix's events (connects, logons, resends) only, on the actor's stdout; never its
        # FileLog, which writes every message as sent and received, the Logon's Password too
        self.logs = fix.ScreenLogFactory(False, False, True)
        # Threaded: quickfix 1.16's SocketAcceptor.stop() can crash (its thread deletes the
        # server while stop() closes it); each accept and connection has its own thread here.
        connector = fix.ThreadedSocketAcceptor if self.acceptor else fix.SocketInitiator
        self.connector = connector(self.application, self.store, self.settings, self.logs)
        self.rate = rate_limit_per_s
        self.tokens = float(rate_limit_per_s)
        self.refilled = time.monotonic()
        self.queue: collections.deque[str] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None
        self.sent = 0
        self.send_failures = 0
        self.refusals = 0  # Reject (3) and BusinessMessageReject (j) sent, by quickfix or by brokerd
        self.recent_refusals: collections.deque[str] = collections.deque(maxlen=RECENT_REFUSALS)

    def logon_credentials(self) -> Credentials | None:
        """The credentials for a Logon now: the session file's, each vault reference opened
        afresh (a rotated value counts from the next logon). ``None``, logged with the reason
        (never a value), when a reference cannot be opened. Called on quickfix's threads: it
        never raises (an exception there would end the process)."""
        credentials = self.credentials
        try:
            if self.resolve is not None:
                return Credentials(*(self.resolve(value) if value else "" for value in credentials))
            if any(value.startswith("vault:") for value in credentials):
                raise ValueError("the session file names a vault entry, and this session has no vault")
            return credentials
        except Exception as failure:  # a missing master key, a tampered vault, a removed entry
            log.error("logon credentials unavailable", session=self.name, reason=str(failure).splitlines()[0][:300] if str(failure) else type(failure).__name__)
            return None

    def keep_sent(self, session_id: Any, keep: bool) -> None:
        """Whether quickfix stores the next messages sent (from quickfix's thread, inside a
        send: the flag is read right after ``toAdmin``/``toApp``). Off only for a Logon that
        carries a password: an admin message is never resent (a gap fill stands in for it), so
        the store loses nothing by not holding it."""
        session = fix.Session.lookupSession(session_id)
        if session is not None:
            session.setPersistMessages(keep)
            self.keeping_sent = keep

    def refused(self, text: str) -> None:
        """From a quickfix thread: a refusal is on its way to the venue."""
        self.refusals += 1
        self.recent_refusals.append(text)
        log.warning("refused a venue message", venue=self.name, refusal=text)

    def post(self, callback: Callable[[], None]) -> None:
        """From a quickfix thread onto the actor's loop, after everything posted before it.
        One wakeup runs every callback queued until the loop gets to them."""
        self.posted.append(callback)
        if not self.wakeup_pending:
            self.wakeup_pending = True
            self.loop.call_soon_threadsafe(self._run_posted)

    def _run_posted(self) -> None:
        """On the loop: the callbacks posted so far, in order. The flag drops first, so a
        callback posted while these run wakes the loop again (or is run here)."""
        self.wakeup_pending = False
        posted = self.posted
        try:
            while posted:
                posted.popleft()()
        finally:
            if posted and not self.wakeup_pending:  # a callback failed: the rest still run, later
                self.wakeup_pending = True
                self.loop.call_soon(self._run_posted)

    def sent_since(self, last_recorded: int) -> list[tuple[int, str, str]]:
        """``(MsgSeqNum, MsgType, ClOrdID)`` of each message about an order in quickfix's
        store after ``last_recorded`` (from the first one when the store's numbers are below
        it: the session was reset since). Call before ``start``: it opens the store a second
        time, which is safe only while quickfix's own copy is idle."""
        store = fix.FileStore(fix.UtcTimeStamp(), str(self.directory / "store"), self.session_id)
        try:
            last_sent = store.getNextSenderMsgSeqNum() - 1
            first = last_recorded + 1 if last_recorded <= last_sent else 1
            messages = fix.VectorString()
            store.get(first, last_sent, messages)
        finally:
            del store  # closes its files
        found = []
        for raw in messages:
            message = outgoing(raw)
            reference = order_reference(message)
            if reference is not None:
                found.append((int(message.getHeader().getField(Tag.MsgSeqNum)), *reference))
        return found

    def start(self, last_journaled_seq: int) -> None:
        """Connect (or listen). Messages after ``last_journaled_seq`` are asked for again."""
        session = fix.Session.lookupSession(self.session_id)
        if session is not None and last_journaled_seq and session.getExpectedTargetNum() > last_journaled_seq + 1:
            log.warning(
                "asking the venue again for messages not journaled",
                venue=self.name,
                expected=session.getExpectedTargetNum(),
                journaled=last_journaled_seq,
            )
            session.setNextTargetMsgSeqNum(last_journaled_seq + 1)
        self.connector.start()
        if self.listener is not None:
            try:
                _adopt(self.listener, self.quickfix_port)
            except (OSError, RuntimeError):
                self.connector.stop()
                raise
            finally:
                self.listener = None
            log.info("listening", session=self.name, address=self.listening)

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.listener is not None:  # never started
            self.listener.close()
            self.listener = None
        self.connector.stop()

    def send(self, raw: str) -> None:
        """Queue one message for the venue; it leaves as soon as the rate limit allows."""
        self.queue.append(raw)
        self._drain()

    def _drain(self) -> None:
        self.timer = None
        if self.rate:
            now = time.monotonic()
            self.tokens = min(float(self.rate), self.tokens + (now - self.refilled) * self.rate)
            self.refilled = now
        while self.queue:
            if self.rate and self.tokens < 1:
                self.timer = self.loop.call_later((1 - self.tokens) / self.rate, self._drain)
                return
            raw = self.queue.popleft()
            message = outgoing(raw)
            self.sending = sent_reference(raw)  # for toApp: what this message is about
            try:
                fix.Session.sendToTarget(message, self.session_id)
                self.sent += 1
            except fix.SessionNotFound:
                self.send_failures += 1
                log.error("venue session not found; message dropped", venue=self.name)
            finally:
                self.sending = None
            if self.rate:
                self.tokens -= 1

    def status(self) -> dict[str, Any]:
        session = fix.Session.lookupSession(self.session_id)
        return {
            "session": self.session_id.toString(),
            "logged_on": bool(session is not None and session.isLoggedOn()),
            "next_sender_seq": session.getExpectedSenderNum() if session is not None else None,
            "next_target_seq": session.getExpectedTargetNum() if session is not None else None,
            "sent": self.sent,
            "queued": len(self.queue),
            "refusals": self.refusals,
            "refusals_recent": list(self.recent_refusals),
            **({"listening": self.listening, "logons_refused": self.logons_refused} if self.acceptor else {}),
        }
