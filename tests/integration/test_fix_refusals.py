"""A venue that refuses brokerd's messages with a session-level Reject (3) or a
BusinessMessageReject (j), as the QuickFIX example executor does (it answers a market order
with ``35=3 … 371=40 372=D 373=5``, and any MsgType it does not take with a j): a bare
quickfix acceptor plays it over loopback (``fixtools.RawVenue``), brokerd runs in the
session's Ray cluster, traders on WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from server.app import BrokerServer
from server.client.sdk import BrokerClient
from tests.conftest import ROOT
from tests.integration.fixtools import Fields, RawVenue, free_port
from tests.integration.helpers import booked, cloid, connect, final_report
from tests.integration.recovery import ServerProcess, admin, wait_restarted, write_conf_dir
from tests.integration.test_fix_venue import fix_broker, order, routed, venue_open, venue_status

pytestmark = pytest.mark.asyncio(loop_scope="session")

EXECUTOR_TEXT = "Value is incorrect (out of range) for this tag"


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawVenue]:
    with RawVenue(tmp_path_factory.mktemp("refusing"), free_port(), comp_id="MM1R") as raw:
        yield raw


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def broker(ray_cluster: None, venue: RawVenue, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BrokerServer]:
    server = await fix_broker(venue.port, tmp_path_factory.mktemp("refusingconf"), comp_id=venue.comp_id)
    yield server
    await server.stop()


@pytest.fixture(autouse=True)
def plain_venue(venue: RawVenue) -> Iterator[None]:
    """Each test starts with a venue that acknowledges orders and fills none."""
    venue.answers.clear()
    venue.fill_price = None
    yield
    venue.answers.clear()


def refusals_from_brokerd(venue: RawVenue) -> list[Fields]:
    """What brokerd refused of the venue's messages: a refusal must never be one of them."""
    return [m for m in venue.received if m.get(35) == "j"] + [m for m in venue.admin if m.get(35) == "3"]


async def released(client: BrokerClient, account: str) -> dict:
    """The account once nothing is reserved any more (the release follows the report)."""
    for _ in range(100):
        view = await client.get_account(account)
        if view["cash"] == view["buying_power"]:
            return dict(view)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{account}: cash still reserved: {view}")


async def still_up(broker: BrokerServer, venue: RawVenue, client: BrokerClient, account: str) -> None:
    """The session stayed up: the venue's next order fills."""
    status = await venue_status(broker)
    assert status["session"] == "open" and status["fix"]["logged_on"] is True, status
    venue.answers.clear()
    venue.fill_price = "150.00"
    ack = await client.request(order(account, type="limit", qty="1", price="150.00"))
    assert (await final_report(client, ack["client_order_id"]))["status"] == "filled"


async def test_a_session_reject_of_a_market_order_ends_it_rejected_with_the_venues_text(broker: BrokerServer, venue: RawVenue) -> None:
    await venue_open(broker)
    venue.answers["D"] = RawVenue.session_reject
    async with connect(broker.url) as client:
        before = await client.get_account("T11")
        request = order("T11", qty="2")
        sent = await routed(venue, client, request)
        final = await final_report(client, request["client_order_id"])
        assert (final["status"], final["reason"]) == ("rejected", EXECUTOR_TEXT), final
        after = await released(client, "T11")
        assert (after["cash"], booked(after)["positions"]) == (before["cash"], booked(before)["positions"])
        assert sent[40] == "1" and refusals_from_brokerd(venue) == []
        await still_up(broker, venue, client, "T11")


async def test_a_business_reject_of_an_order_ends_it_rejected_found_by_number_or_by_id(broker: BrokerServer, venue: RawVenue) -> None:
    await venue_open(broker)
    async with connect(broker.url) as client:
        for account, with_id in (("T12", False), ("T13", True)):
            venue.answers["D"] = lambda m, with_id=with_id: RawVenue.business_reject(m, "account not set up", "0", ref_id=with_id)
            request = order(account, type="limit", qty="1", price="150.00")
            await routed(venue, client, request)
            final = await final_report(client, request["client_order_id"])
            assert (final["status"], final["reason"]) == ("rejected", "account not set up"), final
            await released(client, account)
        assert refusals_from_brokerd(venue) == []
        await still_up(broker, venue, client, "T12")


async def test_a_refused_cancel_or_replace_is_refused_and_the_order_keeps_working(broker: BrokerServer, venue: RawVenue) -> None:
    await venue_open(broker)
    venue.answers["F"] = lambda m: RawVenue.session_reject(m, "cancels are not taken here", tag="11", reason="99")
    venue.answers["G"] = lambda m: RawVenue.business_reject(m, "replaces are not taken here", ref_id=True)
    async with connect(broker.url) as client:
        request = order("T14", type="limit", qty="1", price="150.00")
        sent = await routed(venue, client, request)
        cancel = await client.cancel_order("T14", request["client_order_id"], timeout=15)
        assert cancel.get("code") == "cancel_rejected" and "cancels are not taken here" in str(cancel), cancel
        replace = await client.replace_order("T14", request["client_order_id"], cloid("fix"), qty="2", timeout=15)
        assert replace.get("code") == "replace_rejected" and "replaces are not taken here" in str(replace), replace
        orders = (await client.get_orders("T14", open_only=True))["orders"]
        assert [(o["client_order_id"], o["status"]) for o in orders] == [(request["client_order_id"], "new")]
        venue.send(venue.fill(sent, "1", "150.00"))  # the order works on at the venue
        assert (await final_report(client, request["client_order_id"]))["status"] == "filled"
        assert refusals_from_brokerd(venue) == []


async def test_a_venue_without_status_requests_leaves_orders_working_after_a_reconnect(broker: BrokerServer, venue: RawVenue) -> None:
    await venue_open(broker)
    venue.answers["H"] = RawVenue.business_reject  # quickfix's own answer to a MsgType it does not take
    async with connect(broker.url) as client:
        request = order("T15", type="limit", qty="1", price="150.00")
        sent = await routed(venue, client, request)
        await asyncio.sleep(0.3)  # the venue's acknowledgement is applied
        asked = len([m for m in venue.received if m.get(35) == "H"])
        await venue.logout()
        await venue_open(broker)  # brokerd logs on again by itself ...
        await venue.wait_for(lambda m: m.get(35) == "H" and m[11] == sent[11] and venue.received.index(m) >= asked)
        for _ in range(100):  # ... asks for the order's status, and is refused
            status = await venue_status(broker)
            if any("does not answer status requests" in text for text in status["anomalies_recent"]):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"the refused status request was not noted: {status}")
        orders = (await client.get_orders("T15", open_only=True))["orders"]
        assert [(o["client_order_id"], o["status"]) for o in orders] == [(request["client_order_id"], "new")]
        assert status["session"] == "open" and refusals_from_brokerd(venue) == []
        venue.send(venue.fill(sent, "1", "150.00"))  # its next execution report reconciles it
        final = await final_report(client, request["client_order_id"])
        assert final["status"] == "filled" and Decimal(final["cum_qty"]) == 1


async def test_a_reject_that_comes_after_a_restart_still_finds_its_order(ray_cluster: None, tmp_path: Path) -> None:
    """The venue holds its answer until brokerd has stopped and started again on its data
    dir: the MsgSeqNum the order left with was journaled, so the Reject still finds it."""
    held = RawVenue(tmp_path / "venue", free_port(), comp_id="MM1H")
    held.answers["D"] = lambda m: None
    held.start()
    try:
        first = await fix_broker(held.port, tmp_path / "conf", tmp_path / "data", comp_id=held.comp_id)
        try:
            async with connect(first.url) as client:
                before = await client.get_account("T16")
                request = order("T16", qty="1")
                sent = await routed(held, client, request)
        finally:
            await first.stop()
        second = await fix_broker(held.port, tmp_path / "conf", tmp_path / "data", comp_id=held.comp_id)
        try:
            await held.wait_logged_on()
            async with connect(second.url) as client:
                assert [o["status"] for o in (await client.get_orders("T16", open_only=True))["orders"]] == ["new"]
                held.send(RawVenue.session_reject(sent))
                final = await final_report(client, request["client_order_id"])
                assert (final["status"], final["reason"]) == ("rejected", EXECUTOR_TEXT), final
                after = await released(client, "T16")
                assert after["cash"] == before["cash"]
            assert refusals_from_brokerd(held) == []
        finally:
            await second.stop()
    finally:
        held.stop()


async def test_an_order_the_venue_session_never_sent_before_a_crash_is_rejected_at_its_restart(tmp_path: Path, ray_address: str) -> None:
    """The venue actor kills itself after committing a new order, before handing it to
    quickfix (crash point ``apply.before_send``, its 3rd record: VenueStart, the logon,
    the order). Restarted, it finds the order in its journal but in no store, and rejects
    it without asking the venue; the venue never sees it."""
    venue = RawVenue(tmp_path / "venue", free_port(), comp_id="MM1C")
    venue.start()
    session = (ROOT / "conf" / "fix" / "venue-MM1.cfg").read_text()
    session = session.replace("SocketConnectPort=9880", f"SocketConnectPort={venue.port}").replace("TargetCompID=MM1", "TargetCompID=MM1C")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "venue-MM1.cfg").write_text(session)
    server_toml = """[server]
ws_port = 0

[[venues]]
name = "MM1"
kind = "fix"
session_config = "venue-MM1.cfg"
symbols = ["IBM"]
"""
    config = write_conf_dir(tmp_path / "conf", server_toml)
    data = tmp_path / "data"
    server = ServerProcess(config, data, {"BROKERD_CRASH_AT": "apply.before_send:3:venue-MM1"}, address=ray_address)
    try:
        url = server.start()
        await venue.wait_logged_on(timeout=60)
        async with BrokerClient(url, "tester", "tester-secret") as client:
            request = order("T17", type="limit", qty="1", price="150.00")
            ack = await client.request(request, timeout=30)
            assert ack.get("status") == "new", ack
            final = await final_report(client, request["client_order_id"], timeout=90)
            assert (final["status"], final["reason"]) == ("rejected", "not sent to the venue: brokerd stopped before sending it"), final
            assert (data / "crashed-apply.before_send").exists()
            await released(client, "T17")
        await wait_restarted(url, "venue-MM1")
        assert [m for m in venue.received if m.get(35) == "D"] == []
        status = await admin(url, "status")
        mm1 = next(a for a in status["result"]["actors"] if a["name"] == "venue-MM1")
        assert mm1["open_children"] == 0, mm1
    finally:
        try:
            assert server.stop() == 0
        finally:
            venue.stop()
