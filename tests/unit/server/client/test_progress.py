"""The admin shell's progress bar: drawn on a terminal's standard error only, never with
``--json`` or into a pipe, at most every so often, and cleared when done."""

from __future__ import annotations

import io

from server.client.progress import WIDTH, Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_bar_is_drawn_in_place_and_cleared() -> None:
    screen = Terminal()
    bar = Progress("loading", 4, stream=screen, every_s=0)
    bar.update(1)
    bar.update(4)
    assert screen.getvalue().split("\r")[1:] == [
        f"loading [{'#' * round(WIDTH / 4)}{'.' * (WIDTH - round(WIDTH / 4))}]  25.0% 1/4",
        f"loading [{'#' * WIDTH}] 100.0% 4/4",
    ]
    bar.finish()
    assert screen.getvalue().endswith("\r" + " " * len(bar.line()) + "\r")


def test_an_unknown_total_shows_the_count_and_redraws_are_spaced() -> None:
    screen = Terminal()
    bar = Progress("rows", stream=screen, every_s=3600)
    for count in range(1, 1001):
        bar.update(count)
    assert screen.getvalue() == "\rrows 1"  # the first draw only: the next is an hour away
    assert bar.line() == "rows 1,000"


def test_nothing_with_json_or_off_a_terminal() -> None:
    for bar, screen in ((Progress("x", 3, as_json=True, stream=(t := Terminal()), every_s=0), t), (Progress("x", 3, stream=(p := io.StringIO()), every_s=0), p)):
        bar.update(2)
        bar.finish()
        assert screen.getvalue() == "" and not bar.enabled


async def test_orders_load_on_a_terminal_polls_status_and_draws_the_chunks_answered() -> None:
    """``admin orders load`` waits for one answer; meanwhile it asks ``status`` on the same
    connection and draws the gateways' basket loads (here a stand-in server answers the load
    after a second and a half, and each status with one more chunk answered of four)."""
    import asyncio

    from server.client import shell
    from tests.unit.server.client.fake_broker import FakeBroker, connect, running

    async def script(broker: FakeBroker, websocket) -> None:  # type: ignore[no-untyped-def]
        answered, load = 0, None
        async for message in broker.requests(websocket):
            if message.get("command") == "orders":
                load = message

                async def answer(request_id: object = message["id"]) -> None:
                    await asyncio.sleep(1.5)
                    await broker.send(websocket, {"type": "admin", "id": request_id, "ok": True, "result": {"rows": 8}})

                asyncio.get_running_loop().create_task(answer())
            elif message.get("command") == "status":
                answered = min(answered + 1, 4)
                progress = [{"load": 1, "chunks": 4, "answered": answered, "rows": 2 * answered}]
                await broker.send(websocket, {"type": "admin", "id": message["id"], "ok": True, "result": {"actors": [{"name": "gateway-0", "baskets_progress": progress}]}})
        assert load is not None

    async with running(script) as (broker, url):
        client = await connect(url)
        screen = Terminal()
        try:
            bar = Progress("loading orders: chunks", stream=screen, every_s=0)
            reply = await shell.with_progress(client, {"op": "admin", "command": "orders", "args": ["load", "b.csv"]}, 10, bar)
        finally:
            await client.close()
    assert reply["result"] == {"rows": 8}
    drawn = [line for line in screen.getvalue().split("\r") if line.strip()]
    assert drawn and drawn[0].endswith(" 1/4") and all(line.startswith("loading orders: chunks [") for line in drawn)
    assert screen.getvalue().endswith("\r")  # cleared before the result is printed
    assert [m["command"] for m in broker.received if m.get("op") == "admin"].count("status") >= 2
