"""brokerd's quickfix host (``adapters/fix/session.py``) on its own, without Ray, with real
quickfix and real sockets on loopback: the session file it writes, where an acceptor
listens, who may log on, the rate limit, and what the store tells after a restart about
the messages that left."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from adapters.fix.dictionary import outgoing, parse
from adapters.fix.outbound import (
    ChildOrder,
    allocation_instruction,
    business_reject,
    cancel_request,
    new_order_single,
    order_reference,
    order_status_request,
    replace_request,
    session_reject,
)
from adapters.fix.session import Credentials, FixSession, sent_reference, session_settings
from adapters.fix.spec import fix44_dictionary
from adapters.fix.values import CodecError
from keystore.vault import open_vault, resolver
from model import fixed
from model.enums import OrderType, Side, TimeInForce
from model.messages import VenueNewOrder
from model.orders import OrderSpec
from tests.conftest import ROOT
from tests.integration.fixtools import free_port, listening_addresses, non_loopback_address
from tests.unit.keystore.support import secrets_in


def quiet(*_: object) -> None:
    pass


def session_file(directory: Path, role: str) -> Path:
    """The venue's session file with CompIDs of its own (quickfix's session registry is
    process-wide: every test gets sessions no other test has)."""
    template = (ROOT / "conf" / "fix" / ("dropcopy.cfg" if role == "acceptor" else "venue-MM1.cfg")).read_text()
    own = f"T{uuid.uuid4().hex[:8]}"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{role}.cfg"
    path.write_text(template.replace("TargetCompID=CLEARING", f"TargetCompID={own}").replace("TargetCompID=MM1", f"TargetCompID={own}"))
    return path


async def test_an_acceptor_listens_on_the_configured_host_only(tmp_path: Path) -> None:
    port = free_port()
    session = FixSession("clearing", session_file(tmp_path, "acceptor"), tmp_path / "fix", quiet, quiet, quiet, accept_port=port)
    try:
        session.start(0)
        assert listening_addresses(port) == {"127.0.0.1"}
        assert listening_addresses(session.quickfix_port) == set()  # quickfix's own socket, on every interface, is gone
        assert session.status()["listening"] == f"127.0.0.1:{port}"
        other = non_loopback_address()
        if other is not None:  # a machine with only loopback has nothing else to try
            with pytest.raises(OSError):
                socket.create_connection((other, port), timeout=2).close()
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # the address it was given takes connections (test_drop_copy logs on through it)
    finally:
        session.stop()


async def test_an_acceptor_refuses_to_start_on_an_address_already_taken(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            FixSession("clearing", session_file(tmp_path, "acceptor"), tmp_path / "fix", quiet, quiet, quiet, accept_port=port)


async def test_the_number_each_order_message_left_with_is_reported_and_read_back_from_the_store(tmp_path: Path) -> None:
    reported: list[tuple[int, str, str]] = []
    template = session_file(tmp_path, "initiator")
    session = FixSession("MM1", template, tmp_path / "fix", quiet, quiet, quiet, on_sent=lambda *sent: reported.append(sent))
    order = VenueNewOrder("child-1", OrderSpec("IBM", Side.BUY, OrderType.MARKET, TimeInForce.DAY, fixed.parse("1")))
    session.send(new_order_single(ChildOrder.of(order), 0))  # not connected: quickfix numbers and stores it
    await asyncio.sleep(0.05)
    assert reported == [(1, "D", "child-1")]
    assert session.sent_since(0) == [(1, "D", "child-1")]
    assert session.sent_since(1) == []
    session.stop()


async def test_each_order_message_reports_its_number_inside_the_send_that_numbers_it(tmp_path: Path) -> None:
    """No hop through the event loop: the number is known before ``send`` returns, for every
    kind of message about an order, and a message about no order reports nothing."""
    reported: list[tuple[int, str, str]] = []
    session = FixSession(
        "MM1", session_file(tmp_path, "initiator"), tmp_path / "fix", quiet, quiet, quiet, on_sent=lambda *sent: reported.append(sent)
    )
    child = ChildOrder.of(VenueNewOrder("child-1", OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, fixed.parse("2"), None, fixed.parse("150"))))
    try:
        for raw in (new_order_single(child, 0), cancel_request(child, "child-1-c1", 0), replace_request(child, "child-1-r2", fixed.parse("3"), fixed.parse("151"), 0),
                    order_status_request(child, 0), session_reject(parse(new_order_single(child, 0)), CodecError("no", 38, "session"))):  # fmt: skip
            session.send(raw)
        assert reported == [(1, "D", "child-1"), (2, "F", "child-1-c1"), (3, "G", "child-1-r2"), (4, "H", "child-1")]
        assert session.sent_since(0) == reported
    finally:
        session.stop()


def test_what_a_sent_message_is_about_is_read_from_its_string_as_from_the_parsed_message() -> None:
    child = ChildOrder.of(VenueNewOrder("child-7", OrderSpec("IBM", Side.SELL, OrderType.MARKET, TimeInForce.IOC, None, fixed.parse("1000.5"))))
    spec = OrderSpec("AAPL", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, fixed.parse("0.5"), None, fixed.parse("190"))
    limit = ChildOrder.of(VenueNewOrder("child-8", spec)).replaced("child-8-r1", fixed.parse("0.25"), fixed.parse("190.01"))
    execution = parse(new_order_single(limit, 0).replace("35=D", "35=8", 1))
    built = [
        new_order_single(child, 0),
        new_order_single(limit, 0),
        cancel_request(limit, "child-8-c2", 0),
        replace_request(limit, "child-8-r3", fixed.parse("1"), fixed.parse("190"), 0),
        order_status_request(limit, 0),
        session_reject(execution, CodecError("bad", 38, "session")),
        business_reject(execution, CodecError("unknown order", None, "business")),
        allocation_instruction("alloc-1", "IBM", Side.BUY, fixed.parse("150"), [("A1", fixed.parse("1")), ("A2", fixed.parse("2"))], 0),
    ]
    for raw in built:
        assert sent_reference(raw) == order_reference(outgoing(raw)), raw
    assert [sent_reference(raw) for raw in built[:5]] == [("D", "child-7"), ("D", "child-8"), ("F", "child-8-c2"), ("G", "child-8-r3"), ("H", "child-8-r1")]


async def test_callbacks_from_quickfix_threads_run_on_the_loop_once_each_in_the_order_posted(tmp_path: Path) -> None:
    session = FixSession("MM1", session_file(tmp_path, "initiator"), tmp_path / "fix", quiet, quiet, quiet)
    ran: list[int] = []

    def poster(first: int) -> None:
        for index in range(first, first + 200):
            session.post(lambda index=index: ran.append(index))
            if index % 50 == 0:
                time.sleep(0.001)  # the loop runs some while more arrive

    try:
        for first in (0, 200, 400):
            thread = threading.Thread(target=poster, args=(first,))
            thread.start()
            while thread.is_alive():
                await asyncio.sleep(0)
            thread.join()
        session.post(lambda: session.post(lambda: ran.append(600)))  # posted while the loop runs the posted ones
        for _ in range(100):
            if len(ran) == 601:
                break
            await asyncio.sleep(0.01)
        assert ran == list(range(601))
    finally:
        session.stop()


async def test_a_session_file_that_keeps_no_messages_is_refused(tmp_path: Path) -> None:
    template = session_file(tmp_path, "initiator")
    template.write_text(template.read_text().replace("PersistMessages=Y", "PersistMessages=N"))
    with pytest.raises(ValueError, match="PersistMessages"):
        FixSession("MM1", template, tmp_path / "fix", quiet, quiet, quiet)


def counterparty_file(directory: Path, comp_id: str, port: int, username: str, password: str) -> Path:
    """An initiator logging on to brokerd (BROKERD) as ``comp_id`` with these credentials."""
    path = directory / "counterparty.cfg"
    path.write_text(
        "\n".join(
            [
                "[DEFAULT]",
                "ConnectionType=initiator",
                "ReconnectInterval=1",
                "HeartBtInt=30",
                "StartTime=00:00:00",
                "EndTime=00:00:00",
                "UseDataDictionary=Y",
                "[SESSION]",
                "BeginString=FIX.4.4",
                f"SenderCompID={comp_id}",
                "TargetCompID=BROKERD",
                "SocketConnectHost=127.0.0.1",
                f"SocketConnectPort={port}",
                f"Username={username}",
                f"Password={password}",
                "",
            ]
        )
    )
    return path


@pytest.mark.parametrize(("username", "password", "logged_on"), [("clearing-user", "clearing-demo-password", True),
                                                                   ("someone-else", "clearing-demo-password", False),
                                                                   ("clearing-user", "wrong-password", False)])  # fmt: skip
async def test_a_logon_needs_the_configured_username_and_password(tmp_path: Path, username: str, password: str, logged_on: bool) -> None:
    port = free_port()
    template = session_file(tmp_path, "acceptor")
    template.write_text(template.read_text().replace("Password=", "Username=clearing-user\nPassword="))
    comp_id = next(line.split("=")[1] for line in template.read_text().splitlines() if line.startswith("TargetCompID="))
    logons: list[str] = []
    acceptor = FixSession("clearing", template, tmp_path / "brokerd", quiet, lambda: logons.append("brokerd"), quiet, accept_port=port)
    counterparty_template = counterparty_file(tmp_path, comp_id, port, username, password)
    counterparty = FixSession("counterparty", counterparty_template, tmp_path / "counterparty", quiet, lambda: logons.append("them"), quiet)
    try:
        acceptor.start(0)
        counterparty.start(0)
        for _ in range(300):  # a loaded machine may take seconds
            if len(logons) == 2 or acceptor.logons_refused:
                break
            await asyncio.sleep(0.05)
        assert sorted(logons) == (["brokerd", "them"] if logged_on else []), logons
        assert (acceptor.logons_refused > 0) is not logged_on
    finally:
        counterparty.stop()
        acceptor.stop()


async def test_an_acceptor_without_a_password_is_refused(tmp_path: Path) -> None:
    template = session_file(tmp_path, "acceptor")
    template.write_text("\n".join(line for line in template.read_text().splitlines() if not line.startswith("Password=")))
    with pytest.raises(ValueError, match="needs a Password"):
        FixSession("clearing", template, tmp_path / "fix", quiet, quiet, quiet, accept_port=free_port())


def test_credentials_check_the_password_always_and_the_username_only_when_one_is_set() -> None:
    both = Credentials("clearing-user", "secret")
    assert both.accepts("clearing-user", "secret")
    assert not both.accepts("someone-else", "secret") and not both.accepts("clearing-user", "Secret") and not both.accepts("", "")
    password_only = Credentials("", "secret")
    assert password_only.accepts("anyone", "secret") and not password_only.accepts("anyone", "")


def test_the_session_file_gets_the_store_and_dictionary_under_its_directory_and_no_password(tmp_path: Path) -> None:
    template = session_file(tmp_path, "initiator")
    settings, session_id, credentials = session_settings(template, tmp_path / "fix", {"SocketConnectPort": "1"})
    written = (tmp_path / "fix" / "session.cfg").read_text()
    assert f"FileStorePath={tmp_path / 'fix' / 'store'}" in written and "FileLogPath=" not in written  # no message log: it would hold the password
    assert "\nPassword=" not in written and "mm1-demo-password" not in written  # brokerd sends it itself
    assert f"DataDictionary={fix44_dictionary()}" in written
    assert "SocketConnectPort=9880" not in written and settings.get(session_id).getString("SocketConnectPort") == "1"
    assert (session_id.getSenderCompID().getValue(), credentials) == ("BROKERD", Credentials("", "mm1-demo-password"))


def test_a_session_file_must_hold_exactly_one_session(tmp_path: Path) -> None:
    template = session_file(tmp_path, "initiator")
    text = template.read_text()
    template.write_text(text + "\n" + text[text.index("[SESSION]") :].replace("TargetCompID=", "TargetCompID=X"))
    with pytest.raises(ValueError, match="exactly one \\[SESSION\\], not 2"):
        session_settings(template, tmp_path / "fix")


async def test_over_the_rate_limit_messages_wait_in_order_and_none_is_dropped(tmp_path: Path) -> None:
    reported: list[tuple[int, str, str]] = []
    session = FixSession("MM1", session_file(tmp_path, "initiator"), tmp_path / "fix", quiet, quiet, quiet, rate_limit_per_s=4,
                         on_sent=lambda *sent: reported.append(sent))  # fmt: skip
    try:
        started = time.monotonic()
        for index in range(6):  # not connected: quickfix numbers and stores each one it is given
            order = VenueNewOrder(f"child-{index}", OrderSpec("IBM", Side.BUY, OrderType.MARKET, TimeInForce.DAY, fixed.parse("1")))
            session.send(new_order_single(ChildOrder.of(order), 0))
        assert (session.status()["sent"], session.status()["queued"]) == (4, 2)  # the burst is one second's worth
        for _ in range(100):
            if session.status()["queued"] == 0:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)
        assert time.monotonic() - started >= 0.4  # the last two waited for tokens (4 per second)
        assert reported == [(index + 1, "D", f"child-{index}") for index in range(6)]
    finally:
        session.stop()


def every_file_under(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


async def test_a_real_logon_with_a_vault_password_leaves_it_in_no_file(tmp_path: Path) -> None:
    """Both sides name the password ``vault:MM1``; after a real logon and an order, no file
    under either side's folder (the session files quickfix read, its stores and logs, the
    vault) holds it, and what follows the Logon is stored as before (resends need it)."""
    password = f"pw-{uuid.uuid4().hex}"
    section = secrets_in(tmp_path / "secrets")
    open_vault(section).add("MM1", password.encode())
    port = free_port()
    template = session_file(tmp_path, "acceptor")
    template.write_text(template.read_text().replace("Password=clearing-demo-password", "Password=vault:MM1"))
    comp_id = next(line.split("=")[1] for line in template.read_text().splitlines() if line.startswith("TargetCompID="))
    logons: list[str] = []
    acceptor = FixSession("clearing", template, tmp_path / "brokerd", quiet, lambda: logons.append("brokerd"), quiet,
                          accept_port=port, resolve=resolver(section))  # fmt: skip
    them = tmp_path / "them"
    them.mkdir()
    initiator = FixSession("MM1", counterparty_file(them, comp_id, port, "", "vault:MM1"), them / "fix", quiet,
                           lambda: logons.append("them"), quiet, resolve=resolver(section))  # fmt: skip
    try:
        acceptor.start(0)
        initiator.start(0)
        for _ in range(300):
            if len(logons) == 2:
                break
            await asyncio.sleep(0.05)
        assert sorted(logons) == ["brokerd", "them"]  # the password went over the wire
        order = VenueNewOrder("child-1", OrderSpec("IBM", Side.BUY, OrderType.MARKET, TimeInForce.DAY, fixed.parse("1")))
        initiator.send(new_order_single(ChildOrder.of(order), 0))
        await asyncio.sleep(0.2)
    finally:
        initiator.stop()
        acceptor.stop()
    files = every_file_under(tmp_path)
    assert any("store" in path.parts for path in files) and any(path.name == "session.cfg" for path in files)
    assert [path for path, data in files.items() if password.encode() in data] == []
    again = FixSession("MM1", them / "counterparty.cfg", them / "fix", quiet, quiet, quiet)
    assert again.sent_since(0) == [(2, "D", "child-1")]  # the Logon (1) is not kept; the order after it is


async def test_a_logon_whose_vault_entry_is_missing_is_refused_and_the_process_lives_on(tmp_path: Path) -> None:
    section = secrets_in(tmp_path)
    open_vault(section).add("OTHER", b"x")
    port = free_port()
    template = session_file(tmp_path, "acceptor")
    template.write_text(template.read_text().replace("Password=clearing-demo-password", "Password=vault:GONE"))
    comp_id = next(line.split("=")[1] for line in template.read_text().splitlines() if line.startswith("TargetCompID="))
    acceptor = FixSession("clearing", template, tmp_path / "brokerd", quiet, quiet, quiet, accept_port=port, resolve=resolver(section))
    assert "vault:GONE" in repr(acceptor.credentials)
    initiator = FixSession("them", counterparty_file(tmp_path, comp_id, port, "", "anything"), tmp_path / "them", quiet, quiet, quiet)
    try:
        acceptor.start(0)
        initiator.start(0)
        for _ in range(300):
            if acceptor.logons_refused:
                break
            await asyncio.sleep(0.05)
        assert acceptor.logons_refused >= 1 and acceptor.logon_credentials() is None
    finally:
        initiator.stop()
        acceptor.stop()


def test_credentials_never_show_a_password() -> None:
    assert "secret" not in repr(Credentials("user", "secret")) and "vault:MM1" in repr(Credentials("user", "vault:MM1"))
