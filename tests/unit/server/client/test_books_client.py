"""The client's side of the books (docs/books.md): the ``lots`` of a sell order in the frames,
``get_lots`` and ``get_gains`` in the SDK (every page of gains), and the command line's
``lots``, ``gains`` and ``order --lot-method/--lot`` — against the brokerd stand-in."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from websockets.asyncio.server import ServerConnection

from server.client.cli import build_parser, run_command
from server.client.frames import lot_picks, order_fields, with_decimal_text
from tests.unit.server.client.fake_broker import KEY, SECRET, WAIT, FakeBroker, Message, connect, execution, running


def test_a_sell_s_lots_go_out_as_lot_ids_and_decimal_strings() -> None:
    fields = order_fields("A1", "c-1", "IBM", "sell", qty="5", lot_method="specific", lots=[(3, Decimal("4.50")), {"lot_id": 2, "qty": 1}])
    assert fields["lot_method"] == "specific"
    assert fields["lots"] == [{"lot_id": 3, "qty": "4.50"}, {"lot_id": 2, "qty": "1"}]
    assert "lots" not in order_fields("A1", "c-2", "IBM", "sell", qty="5") and "lot_method" not in order_fields("A1", "c-2", "IBM", "sell")
    # an entry of new_orders gets the same treatment; what the server judges is sent as it is
    assert with_decimal_text({"lots": [(1, 2)]}) == {"lots": [{"lot_id": 1, "qty": "2"}]}
    assert lot_picks([{"lot_id": "x", "note": 1}]) == [{"lot_id": "x", "note": 1}]
    with pytest.raises(TypeError):
        order_fields("A1", "c-3", "IBM", "sell", qty="1", lots=[(1, 0.5)])  # type: ignore[list-item]


def gains_page(request_id: int, rows: list[int], cursor: int | None) -> Message:
    totals = {"closings": 3, "proceeds": "30.00", "cost": "27.00", "wash_disallowed": "0.00", "short_term_gain": "3.00", "long_term_gain": "0.00", "gain": "3.00"}
    gains = [{"lot_id": row, "qty": "1", "proceeds": "10.00", "cost": "9.00", "gain": "1.00"} for row in rows]
    return {"type": "gains", "id": request_id, "account": "A1", "gains": gains, "next_cursor": cursor, "totals": totals}


async def paged_gains(broker: FakeBroker, websocket: ServerConnection) -> None:
    """Three closings, two a page; an unknown cursor is refused like the server does."""
    pages = {None: ([1, 2], 1), 1: ([3], None)}
    async for frame in broker.requests(websocket):
        if frame["op"] == "get_lots":
            await broker.send(websocket, {"type": "lots", "id": frame["id"], "account": frame["account"], "lot_method": "fifo", "lots": []})
        elif frame.get("cursor") not in pages:
            await broker.send(websocket, {"type": "error", "id": frame["id"], "code": "invalid_request", "message": "bad cursor"})
        else:
            rows, cursor = pages[frame.get("cursor")]
            await broker.send(websocket, gains_page(frame["id"], rows, cursor))


async def test_get_gains_follows_next_cursor_and_keeps_the_totals() -> None:
    async with running(paged_gains) as (broker, url):
        client = await connect(url)
        whole = await client.get_gains("A1", "2026-01-01", "2026-12-31", limit=2, timeout=WAIT)
        page = await client.get_gains_page("A1", "2026-01-01", "2026-12-31", cursor=7, timeout=WAIT)
        lots = await client.get_lots("A1", "IBM", timeout=WAIT)
        await client.close()
    assert [row["lot_id"] for row in whole["gains"]] == [1, 2, 3] and whole["next_cursor"] is None
    assert whole["totals"]["closings"] == 3
    assert (page["type"], page["code"]) == ("error", "invalid_request")
    assert lots["type"] == "lots"
    sent = [m for m in broker.received if m.get("op") in ("get_gains", "get_lots")]
    assert [{k: v for k, v in m.items() if k != "id"} for m in sent] == [
        {"op": "get_gains", "account": "A1", "from": "2026-01-01", "to": "2026-12-31", "limit": 2},
        {"op": "get_gains", "account": "A1", "from": "2026-01-01", "to": "2026-12-31", "limit": 2, "cursor": 1},
        {"op": "get_gains", "account": "A1", "from": "2026-01-01", "to": "2026-12-31", "cursor": 7},
        {"op": "get_lots", "account": "A1", "symbol": "IBM"},
    ]


async def run_cli(url: str, *argv: str) -> tuple[int, list[Message]]:
    out, err = io.StringIO(), io.StringIO()
    args = build_parser({}).parse_args(["--url", url, "--key", KEY, "--secret", SECRET, "--timeout", str(WAIT), *argv])
    status = await run_command(args, out, err)
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


async def test_cli_lots_and_gains_print_one_reply_each() -> None:
    async with running(paged_gains) as (broker, url):
        lots_status, lots = await run_cli(url, "lots", "A1")
        gains_status, gains = await run_cli(url, "gains", "A1", "--from", "2026-01-01", "--to", "2026-12-31", "--page-size", "2")
    assert (lots_status, lots[0]["type"]) == (0, "lots")
    assert gains_status == 0 and len(gains) == 1 and [row["lot_id"] for row in gains[0]["gains"]] == [1, 2, 3]
    assert "symbol" not in [m for m in broker.received if m.get("op") == "get_lots"][0]


async def test_cli_order_sends_its_lot_method_and_lots() -> None:
    async def accept(broker: FakeBroker, websocket: ServerConnection) -> None:
        order = await broker.recv(websocket)
        await broker.send(websocket, execution(order["id"], order["client_order_id"], "new", "new"))
        await websocket.wait_closed()

    async with running(accept) as (broker, url):
        status, _ = await run_cli(url, "order", "A1", "IBM", "sell", "--qty", "5", "--lot", "3:4.5", "--lot", "2:0.5", "--lot-method", "specific")
    sent = broker.received[1]
    assert status == 0 and (sent["lot_method"], sent["lots"]) == ("specific", [{"lot_id": 3, "qty": "4.5"}, {"lot_id": 2, "qty": "0.5"}])


@pytest.mark.parametrize("argv", [["--lot", "3"], ["--lot", "x:1"], ["--lot", "3:"], ["--lot-method", "newest"]])
def test_cli_order_with_a_malformed_lot_is_a_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser({}).parse_args(["order", "A1", "IBM", "sell", "--qty", "1", *argv])
    assert exited.value.code == 2
    assert "--lot" in capsys.readouterr().err
