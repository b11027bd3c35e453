"""brokerd's quickfix host (``adapters/fix/session.py``) on its own, without Ray: where an
acceptor listens, and what the store tells after a restart about the messages that left."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

import pytest

from adapters.fix import codec
from adapters.fix.session import FixSession
from model import fixed
from model.enums import OrderType, Side, TimeInForce
from model.messages import VenueNewOrder
from tests.conftest import ROOT
from tests.integration.fixtools import free_port, listening_addresses, non_loopback_address

pytestmark = pytest.mark.asyncio(loop_scope="session")


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
    order = VenueNewOrder("child-1", "IBM", Side.BUY, OrderType.MARKET, TimeInForce.DAY, fixed.parse("1"), None, None)
    session.send(codec.new_order_single(order, 0).toString())  # not connected: quickfix numbers and stores it
    await asyncio.sleep(0.05)
    assert reported == [(1, "D", "child-1")]
    assert session.sent_since(0) == [(1, "D", "child-1")]
    assert session.sent_since(1) == []
    session.stop()


async def test_a_session_file_that_keeps_no_messages_is_refused(tmp_path: Path) -> None:
    template = session_file(tmp_path, "initiator")
    template.write_text(template.read_text().replace("PersistMessages=Y", "PersistMessages=N"))
    with pytest.raises(ValueError, match="PersistMessages"):
        FixSession("MM1", template, tmp_path / "fix", quiet, quiet, quiet)
