"""The trader command line (server/client/cli.py) against the brokerd stand-in (``fake_broker``)."""

from __future__ import annotations

import io
import json

from websockets.asyncio.server import ServerConnection

from server.client.cli import build_parser, run_command
from tests.unit.server.client.fake_broker import KEY, SECRET, WAIT, FakeBroker, Message, execution, running


async def run_cli(url: str, *argv: str) -> tuple[int, list[Message], list[Message]]:
    out, err = io.StringIO(), io.StringIO()
    args = build_parser({}).parse_args(["--url", url, "--key", KEY, "--secret", SECRET, "--timeout", str(WAIT), *argv])
    status = await run_command(args, out, err)
    return (
        status,
        [json.loads(line) for line in out.getvalue().splitlines()],
        [json.loads(line) for line in err.getvalue().splitlines()],
    )


async def fill_in_two_steps(broker: FakeBroker, websocket: ServerConnection) -> None:
    order = await broker.recv(websocket)
    coid = order["client_order_id"]
    await broker.send(websocket, execution(order["id"], coid, "pending_new", "pending_new"))
    await broker.send(websocket, execution(order["id"], coid, "new", "new"))
    await broker.send(websocket, execution(order["id"], coid, "trade", "filled"))
    await websocket.wait_closed()


async def test_cli_order_with_watch_prints_reports_until_the_order_is_done() -> None:
    async with running(fill_in_two_steps) as (broker, url):
        status, out, err = await run_cli(
            url,
            "order",
            "A1",
            "IBM",
            "buy",
            "--qty",
            "1.5",
            "--type",
            "limit",
            "--price",
            "150.25",
            "--client-order-id",
            "c-7",
            "--watch",
            str(WAIT),
        )
    assert (status, err) == (0, [])
    assert [line["status"] for line in out] == ["pending_new", "new", "filled"]
    sent = broker.received[1]
    assert (sent["op"], sent["qty"], sent["price"], sent["client_order_id"]) == (
        "new_order",
        "1.5",
        "150.25",
        "c-7",
    )


async def test_cli_exits_1_when_the_order_is_rejected() -> None:
    async def reject(broker: FakeBroker, websocket: ServerConnection) -> None:
        order = await broker.recv(websocket)
        await broker.send(websocket, execution(order["id"], order["client_order_id"], "rejected", "rejected"))
        await websocket.wait_closed()

    async with running(reject) as (_, url):
        status, out, _ = await run_cli(url, "order", "A1", "IBM", "sell", "--notional", "100")
    assert status == 1
    assert out[0]["exec_type"] == "rejected"


async def test_cli_reports_a_refused_login_on_stderr_and_exits_3() -> None:
    async with running(refusal={"type": "error", "code": "not_authenticated", "message": "no"}) as (_, url):
        out, err = io.StringIO(), io.StringIO()
        args = build_parser({}).parse_args(["--url", url, "--secret", "wrong", "account", "A1"])
        status = await run_command(args, out, err)
    assert (status, out.getvalue()) == (3, "")
    assert json.loads(err.getvalue())["code"] == "login_refused"


def test_cli_defaults_come_from_the_environment() -> None:
    args = build_parser({"BROKERD_URL": "ws://h:1", "BROKERD_KEY": "k", "BROKERD_SECRET": "s"}).parse_args(["orders", "A1", "--open"])
    assert (args.url, args.key, args.secret, args.open_only) == ("ws://h:1", "k", "s", True)
    paged = build_parser({}).parse_args(["orders", "A1", "--page-size", "50"])
    assert (paged.page_size, build_parser({}).parse_args(["orders", "A1"]).page_size) == (50, None)


async def test_cli_watch_subscribes_to_quotes_and_streams_until_the_time_is_up() -> None:
    async def quote_stream(broker: FakeBroker, websocket: ServerConnection) -> None:
        subscribe = await broker.recv(websocket)
        await broker.send(websocket, {"type": "subscribed", "id": subscribe["id"], "channels": subscribe["channels"]})
        await broker.send(websocket, {"type": "quote", "symbol": "IBM", "bid": "150.20", "ask": "150.30"})
        await websocket.wait_closed()

    async with running(quote_stream) as (broker, url):
        status, out, _ = await run_cli(url, "watch", "--quotes", "IBM", "--seconds", "0.2")
    assert status == 0
    assert broker.received[1]["channels"] == ["executions", "quotes:IBM"]
    assert [line["type"] for line in out] == ["subscribed", "quote"]


async def test_cli_load_sends_the_file_as_one_load_orders_request_and_prints_the_answer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = "account,client_order_id,symbol,side,qty\nA1,b-1,IBM,buy,1\n"
    (tmp_path / "basket.csv").write_text("\ufeff" + text, encoding="utf-8")

    async def answer(broker: FakeBroker, websocket: ServerConnection) -> None:
        request = await broker.recv(websocket)
        reply = {"type": "orders_loaded", "rows": 1, "accepted": 1, "rejected": 0} if "b-1" in request["csv"] else {"type": "error"}
        await broker.send(websocket, {"id": request["id"], **reply})
        await websocket.wait_closed()

    async with running(answer) as (broker, url):
        status, out, err = await run_cli(url, "load", str(tmp_path / "basket.csv"))
    assert status == 0 and err == [] and out[0]["type"] == "orders_loaded"
    assert broker.received[-1] == {"op": "load_orders", "id": broker.received[-1]["id"], "csv": text}  # byte-order mark dropped


async def test_cli_load_of_a_file_it_cannot_read_is_a_usage_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async def nothing(broker: FakeBroker, websocket: ServerConnection) -> None:
        await websocket.wait_closed()

    async with running(nothing) as (_, url):
        status, out, err = await run_cli(url, "load", str(tmp_path / "missing.csv"))
    assert status == 2 and out == []


async def test_cli_statement_asks_for_the_period_and_prints_a_frame_larger_than_a_mebibyte() -> None:
    trades = [{"time": "2026-03-02T10:00:00-05:00", "order_id": f"account-0-{n}", "symbol": "IBM", "side": "buy", "qty": "1", "price": "150", "amount": "-150.00"} for n in range(12_000)]

    async def answer(broker: FakeBroker, websocket: ServerConnection) -> None:
        request = await broker.recv(websocket)
        await broker.send(websocket, {"id": request["id"], "type": "statement", "account": request["account"], "trades": trades})
        await websocket.wait_closed()

    async with running(answer) as (broker, url):
        status, out, err = await run_cli(url, "statement", "A1", "2026-03-01", "2026-03-31")
    assert (status, err) == (0, [])
    assert out[0]["type"] == "statement" and len(out[0]["trades"]) == 12_000
    assert {k: v for k, v in broker.received[-1].items() if k != "id"} == {"op": "get_statement", "account": "A1", "from": "2026-03-01", "to": "2026-03-31"}
