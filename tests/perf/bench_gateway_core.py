"""The gateway's CPU per order, in one process: the way in (a ``new_orders`` frame to the
shard's batch) and the way out (the shards' batches of reports to the framed bytes a client
receives), beside a same-run yardstick.

    python tests/perf/bench_gateway_core.py [--orders 20000] [--repeats 5] [--followers 0] [--profile in|out]

The real ``Gateway`` core (``server/gateway/core.py``) of the demo setup, driven through its
own entry points as its shell drives it, without sockets: a logged-in ``trader1`` connection
(accounts A1 and A2) sends market orders of 1 IBM in ``new_orders`` frames of 100 (buys and
sells in turn, as ``bench_crossing.py`` sends them).

- in: ``Gateway.on_frame`` of each frame (decoding, the rate limit, permissions, per order
  the account's reach and the checks, the in-flight window) and the ``Outbox`` flush that
  encodes the batch for the account shard.
- out: ``Gateway.on_batch`` of the shard's batch of the frame's ``new`` reports (each with its
  order's ``Reply``, the answer that makes room in the window), then of the batch of their
  ``trade`` reports (status ``filled``), as an account shard sends them; and the framing of
  every frame queued for the connections (``wsio.frame_texts``: the bytes handed to the
  transport). The transport's write itself is not measured.

``--followers N``: N more connections of the same user, each following the accounts' reports.
The yardstick, timed in the same run: ``msgspec.json.decode`` of each frame (untyped) for the
way in, and ``msgspec.json.encode`` of each frame the clients receive, decoded beforehand
(untimed), for the way out. Each figure is CPU µs per order (``time.process_time``), the
median of ``--repeats`` runs, each on a fresh gateway; ``--profile``: cProfile's top
functions of one more run of that way.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import structlog

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from actors.runtime.outbox import Outbox  # noqa: E402
from actors.runtime.router import Router  # noqa: E402
from model import fixed  # noqa: E402
from model.enums import ExecType, OrderStatus  # noqa: E402
from model.messages import Batch, ExecutionReport, GatewayServes, NewOrder, decode_batch, encode_batch  # noqa: E402
from server.gateway.auth import signature  # noqa: E402
from server.gateway.connection import Connection  # noqa: E402
from server.gateway.core import Gateway  # noqa: E402
from server.gateway.ratelimit import TokenBucket  # noqa: E402
from server.gateway.wsio import frame_texts  # noqa: E402
from tests.conftest import demo_setup  # noqa: E402

PER_FRAME = 100
ACCOUNTS = ("A1", "A2")


class NoSocket:
    """Where the websockets connection would be: the frames are read from the queue."""


def order_frames(count: int, tag: str) -> list[bytes]:
    out = []
    for index in range(count // PER_FRAME):
        orders = []
        for k in range(PER_FRAME):
            n = index * PER_FRAME + k
            orders.append({"account": ACCOUNTS[n % 2], "client_order_id": f"{tag}-{n}", "symbol": "IBM",
                           "side": "buy" if n % 2 == 0 else "sell", "type": "market", "qty": "1"})
        out.append(b'{"id":' + str(index + 1).encode() + b"," + msgspec.json.encode({"op": "new_orders", "orders": orders})[1:])
    return out


class Bench:
    """One fresh gateway with its logged-in connections and the shard's side of the talk."""

    def __init__(self, followers: int) -> None:
        setup = demo_setup()
        self.sent: list[bytes] = []
        self.loop = asyncio.new_event_loop()  # never run: the outbox's timer waits there; the bench flushes
        self.outbox = Outbox("gateway-0", Router(setup.config), setup.config.batching, lambda name, data: self.sent.append(data), self.loop)
        self.gateway = Gateway("gateway-0", setup, self.outbox)
        config = setup.config.gateway
        self.conns = [self._login(conn_id, config) for conn_id in range(1, followers + 2)]
        self.seq = 0
        self.serial = 0
        self.price = fixed.parse("187.25")
        self.in_s = self.out_s = 0.0
        self.framed = 0

    def _login(self, conn_id: int, config: Any) -> Connection:
        conn = Connection(conn_id, NoSocket(), TokenBucket(config.rate_limit_per_s, config.rate_limit_burst),  # type: ignore[arg-type]
                          config.max_pending_per_connection, config.max_pending_bytes_per_connection, "127.0.0.1")
        self.gateway.connections[conn_id] = conn
        ts = int(time.time() * 1000)
        frame = json.dumps({"op": "login", "id": 0, "key": "trader1", "ts": ts, "nonce": f"n{conn_id}", "sig": signature("trader1-secret", ts, f"n{conn_id}")})
        self.gateway.on_frame(conn, frame)
        assert json.loads(conn.outgoing.pop())["ok"] is True
        conn.pending_bytes = 0
        return conn

    def commands(self) -> list[NewOrder]:
        """The orders the gateway sent (its announcements of who follows what left out)."""
        sent, self.sent = self.sent, []
        return [message for data in sent for message in decode_batch(data).messages if not isinstance(message, GatewayServes)]

    def batch(self, reports: list[ExecutionReport]) -> bytes:
        self.seq += 1
        return encode_batch(Batch("account-0", self.seq, time.time_ns(), reports))  # type: ignore[arg-type]

    def reports(self, commands: list[NewOrder]) -> tuple[list[ExecutionReport], list[ExecutionReport]]:
        """Each order's ``new`` report (to its asker) and its ``trade`` (filled), as a shard makes them."""
        news, fills = [], []
        now = time.time_ns()
        for command in commands:
            self.serial += 1
            order_id = f"0-{self.serial:09d}"
            spec = command.spec
            qty = spec.qty or 0
            news.append(ExecutionReport(command.account, order_id, command.client_order_id, f"{order_id}-1", ExecType.NEW,
                                        OrderStatus.NEW, spec, 0, qty, 0, None, None, None, now, command.reply, None))
            fills.append(ExecutionReport(command.account, order_id, command.client_order_id, f"{order_id}-2", ExecType.TRADE,
                                         OrderStatus.FILLED, spec, qty, 0, qty, self.price, self.price, None, now, None, "INTERNAL"))
        return news, fills

    def run(self, frames: list[bytes], keep: list[bytes] | None = None, profiler: cProfile.Profile | None = None, way: str = "") -> None:
        clock = time.process_time
        gateway, conns = self.gateway, self.conns
        for frame in frames:
            if way == "in" and profiler:
                profiler.enable()
            started = clock()
            gateway.on_frame(conns[0], frame)
            self.outbox.flush()
            self.in_s += clock() - started
            if profiler:
                profiler.disable()
            commands = self.commands()
            assert len(commands) == PER_FRAME, conns[0].outgoing[-1:]
            news, fills = self.reports(commands)
            batches = [self.batch(news), self.batch(fills)]
            if way == "out" and profiler:
                profiler.enable()
            started = clock()
            for data in batches:
                gateway.on_batch(data)
            for conn in conns:
                queued, conn.outgoing, conn.pending_bytes = conn.outgoing, [], 0
                self.framed += len(frame_texts(queued))
                if keep is not None:
                    keep.extend(queued)
            self.out_s += clock() - started
            if profiler:
                profiler.disable()
        assert not self.sent and all(conn.in_flight == 0 for conn in conns)


def yardstick(frames: list[bytes], received: list[bytes]) -> tuple[float, float]:
    """CPU seconds of decoding ``frames`` and of encoding ``received`` (decoded beforehand)."""
    clock = time.process_time
    decode, encode = msgspec.json.decode, msgspec.json.encode
    started = clock()
    for frame in frames:
        decode(frame)
    in_s = clock() - started
    values = [decode(frame) for frame in received]
    started = clock()
    for value in values:
        encode(value)
    return in_s, clock() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--followers", type=int, default=0, help="more connections of the same user, following its accounts")
    parser.add_argument("--profile", choices=("in", "out"))
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # not a line per login
    count = args.orders // PER_FRAME * PER_FRAME
    figures: dict[str, list[float]] = {"in": [], "out": [], "total": [], "json in": [], "json out": []}
    Bench(args.followers).run(order_frames(2 * PER_FRAME, "warm"))
    for repeat in range(args.repeats):
        frames = order_frames(count, f"r{repeat}")
        received: list[bytes] = []
        bench = Bench(args.followers)
        bench.run(frames, received)
        json_in, json_out = yardstick(frames, received)
        for name, seconds in (("in", bench.in_s), ("out", bench.out_s), ("total", bench.in_s + bench.out_s), ("json in", json_in), ("json out", json_out)):
            figures[name].append(seconds / count * 1e6)
        print(f"repeat {repeat + 1}: " + ", ".join(f"{name} {values[-1]:.2f}" for name, values in figures.items()) + " µs/order", flush=True)
    medians = {name: statistics.median(values) for name, values in figures.items()}
    print(f"gateway core, {count:,} orders in frames of {PER_FRAME}, {1 + args.followers} connection(s), {len(received) / count:.1f} frames out per order")
    print(f"median µs/order: in {medians['in']:.2f}, out {medians['out']:.2f}, total {medians['total']:.2f}; "
          f"yardstick (msgspec json) in {medians['json in']:.2f}, out {medians['json out']:.2f}; "
          f"ratio gateway/yardstick {medians['total'] / (medians['json in'] + medians['json out']):.2f}")
    if args.profile:
        profiler = cProfile.Profile()
        Bench(args.followers).run(order_frames(count, "prof"), None, profiler, args.profile)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
