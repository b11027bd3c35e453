"""Marketable orders crossed internally beside the same orders routed, in one process: CPU
per order in each core, no transport and no journal.

    python tests/perf/bench_crossing_core.py [--orders 10000] [--repeats 5] [--profile crossed|routed] [--audit]

The in-process twin of ``bench_crossing.py``: the cores of the demo topology are built as
the actors build them (``actors/runtime/roles.py``) and wired by the real ``Router``; every
hop encodes and decodes its batch as a link does (``encode_batch``/``decode_batch``), and a
core's ``end_turn`` runs after each batch as ``Machine.apply_batches`` runs it. Orders are
market orders of 1 IBM in frames of 100, buys and sells alternating between accounts of
account shard 0. ``crossed``: ``[crossing] enabled`` (every pair fills ``INTERNAL``);
``routed``: off (each order goes to the sim venue). The two alternate; each core's time is
measured around its decode, apply, end of turn and encode, and printed per order, with the
crossed ÷ routed ratio of the whole. ``--profile``: cProfile's top functions of one more
run of that path. ``--audit``: the cores emit their audit events (``[audit] enabled``) and
each batch's are chained as the shell appends them (``model.audit.chain``: encoded, framed
and hashed; not written), timed with the core.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from actors.runtime.outputs import AUDIT, GATEWAY  # noqa: E402
from actors.runtime.roles import ROLES  # noqa: E402
from actors.runtime.router import Router  # noqa: E402
from model import fixed  # noqa: E402
from model.audit import Head, chain, empty_head  # noqa: E402
from model.config import AccountSeed  # noqa: E402
from model.enums import OrderType, Side, TimeInForce  # noqa: E402
from model.liquidity import LiquidityPolicy  # noqa: E402
from model.messages import Batch, NewOrder, OpenAccount, Reply, SetLiquidity, VenueStart, VenueTick, decode_batch, encode_batch  # noqa: E402
from model.orders import OrderSpec  # noqa: E402
from model.routing import shard_of  # noqa: E402
from tests.conftest import demo_setup  # noqa: E402

GATEWAY_NAME = "gateway-0"


class Cores:
    """Every journaled core of the demo topology, delivering encoded batches to each other."""

    def __init__(self, crossing: bool, accounts: int = 100, audit: bool = False) -> None:
        setup = demo_setup()
        self.config = setup.config
        self.router = Router(self.config)
        self.cores: dict[str, Any] = {}
        for role in ROLES:
            if role.core is None:
                continue
            for plan in role.plan(setup, 1):
                self.cores[plan.name] = role.core(plan, self.config)
        self.audit = audit
        self.heads: dict[str, Head] = {}  # each core's audit chain
        for core in self.cores.values():
            core.out.audit = audit
        self.seconds: dict[str, float] = {}
        self.messages = 0
        self.to_gateway = 0
        self.now = 10**9
        shards = self.config.topology.account_shards
        self.accounts = [name for name in (f"X{i:05d}" for i in range(accounts * shards * 4)) if shard_of(name, shards) == 0][:accounts]
        for name in self.accounts:
            seed = AccountSeed(name, "bench", 10**8 * fixed.SCALE, positions=(("IBM", 10**6 * fixed.SCALE),))
            self.deliver(self.router.account(name), [OpenAccount(seed.account, seed.owner, seed.cash, seed.allow_short, seed.positions, seed.group)])
        policy = LiquidityPolicy(enabled=crossing)
        for name in list(self.cores):
            if name.startswith("instrument-"):
                self.deliver(name, [SetLiquidity(policy)])
        for name in list(self.cores):
            if name.startswith("venue-"):
                self.deliver(name, [VenueStart()])
                self.deliver(name, [VenueTick()])
        self.seconds.clear()

    def tick(self) -> None:
        """Time passes at the venues (their quotes' sizes come back), untimed: the live venue's
        ticks run on its own timer, whichever path the orders took."""
        self.now += 10**9
        before = dict(self.seconds)
        for name in list(self.cores):
            if name.startswith("venue-"):
                self.deliver(name, [VenueTick()])
        self.seconds = before

    def deliver(self, name: str, messages: list[Any]) -> None:
        queue: deque[tuple[str, bytes]] = deque([(name, encode_batch(Batch("bench", 1, 0, messages)))])
        clock = time.process_time
        while queue:
            target, data = queue.popleft()
            core = self.cores[target]
            started = clock()
            batch = decode_batch(data).messages
            for message in batch:
                core.apply(message, self.now)
            end_turn = getattr(core, "end_turn", None)
            if end_turn is not None:
                end_turn(self.now)
            sends = core.out.drain()
            if self.audit:
                self.chain(target, core.out, sends)
            per_target: dict[str, list[Any]] = {}
            for send in sends:
                if send.kind == GATEWAY:
                    self.to_gateway += 1
                    continue
                if send.kind == "audit":
                    continue
                for destination in self.router.resolve(send.kind, send.key):
                    if destination in self.cores:
                        per_target.setdefault(destination, []).append(send.message)
            out = [(destination, encode_batch(Batch(target, 1, 0, sent))) for destination, sent in per_target.items()]
            self.seconds[target] = self.seconds.get(target, 0.0) + clock() - started
            self.messages += len(batch)
            queue.extend(out)
            marks = getattr(core, "marks_out", None)  # soft marks: the shell sends them, not timed here
            if marks:
                updates = list(marks.values())
                marks.clear()
                queue.extend((shard, encode_batch(Batch(target, 0, 0, updates))) for shard in self.cores if shard.startswith("account-"))
            self.now += 1000


    def chain(self, target: str, out: Any, sends: list[Any]) -> None:
        """The batch's audit events chained as the shell appends them (as ``Machine`` takes them:
        kept apart by ``Outputs``, or, before that, sorted out of the sends)."""
        take = getattr(out, "take_events", None)
        events = take() if take is not None else [send.message for send in sends if send.kind == AUDIT]
        if events:
            head = self.heads.get(target) or empty_head(target)
            self.heads[target] = chain(head, events, self.now, head.origin + 1)[1]


def frames(cores: Cores, count: int, tag: str) -> list[list[NewOrder]]:
    out = []
    for frame_index in range(count // 100):
        frame = []
        for k in range(100):
            n = frame_index * 100 + k
            spec = OrderSpec("IBM", Side.BUY if n % 2 == 0 else Side.SELL, OrderType.MARKET, TimeInForce.DAY, fixed.SCALE, None, None, None)
            frame.append(NewOrder(cores.accounts[n % len(cores.accounts)], f"{tag}-{n}", spec, Reply(GATEWAY_NAME, 1, str(n).encode())))
        out.append(frame)
    return out


def run(crossing: bool, count: int, profile: bool = False, audit: bool = False) -> tuple[float, dict[str, float], float]:
    """Total CPU seconds, per core, and messages per order of ``count`` orders."""
    cores = Cores(crossing, audit=audit)
    work = frames(cores, count, "x" if crossing else "r")
    shard = cores.router.account(cores.accounts[0])
    cores.messages = 0
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    for frame in work:
        cores.deliver(shard, frame)
        if profiler:
            profiler.disable()
        cores.tick()
        if profiler:
            profiler.enable()
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(35)
    filled = sum(1 for order in cores.cores[shard].orders.values() if order.status.value == "filled")
    assert filled == count, f"{filled} of {count} filled"
    return sum(cores.seconds.values()), dict(cores.seconds), cores.messages / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", choices=("crossed", "routed"))
    parser.add_argument("--audit", action="store_true", help="emit and chain the audit records, as with [audit] enabled")
    args = parser.parse_args()
    totals: dict[str, list[float]] = {"crossed": [], "routed": []}
    per_core: dict[str, dict[str, list[float]]] = {"crossed": {}, "routed": {}}
    hops: dict[str, float] = {}
    for repeat in range(args.repeats):
        for name in ("crossed", "routed"):
            total, seconds, hops[name] = run(name == "crossed", args.orders, audit=args.audit)
            totals[name].append(total)
            for core, spent in seconds.items():
                per_core[name].setdefault(core, []).append(spent)
        print(f"repeat {repeat + 1}: crossed {totals['crossed'][-1] / args.orders * 1e6:.1f} µs/order, "
              f"routed {totals['routed'][-1] / args.orders * 1e6:.1f} µs/order", flush=True)
    print(f"\nmarket orders of 1 IBM, frames of 100, {args.orders:,} per run, CPU µs per order, medians of {args.repeats}:")
    for name in ("crossed", "routed"):
        cores = ", ".join(f"{core} {statistics.median(spent) / args.orders * 1e6:.2f}" for core, spent in sorted(per_core[name].items()))
        print(f"  {name:8} {statistics.median(totals[name]) / args.orders * 1e6:6.2f}  ({hops[name]:.1f} messages/order: {cores})")
    ratio = statistics.median(totals["routed"]) / statistics.median(totals["crossed"])
    print(f"  routed ÷ crossed CPU per order {ratio:.2f}")
    if args.profile:
        run(args.profile == "crossed", args.orders, profile=True, audit=args.audit)


if __name__ == "__main__":
    main()
