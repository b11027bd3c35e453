"""The pure cores of the order path in one process: CPU per order with no transport and no
journal, beside msgspec encoding and decoding the same messages in the same run.

    python tests/perf/bench_cores.py [--orders 20000] [--repeats 3] [--profile]

Every journaled role's cores are built as the actors build them (``actors/runtime/roles.py``,
the demo config) and wired by the real ``Router``: a core's outputs are delivered to the
cores they name, in order, until nothing is left; what goes to a gateway is counted. With
``--wire`` each hop also encodes and decodes its batch, as the links do.

Orders are IOC buy limits 5 % below the market, as in ``bench_order_entry.py``: each is
risk-checked, reserved, acknowledged, routed to the simulated venue, canceled there and
released. The baseline is msgspec alone: encoding and decoding every message the run
delivered, once. ``--profile`` prints cProfile's top functions of one more run: where the
per-order Python work goes, core by core.
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

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from actors.runtime.outputs import GATEWAY  # noqa: E402
from actors.runtime.roles import ROLES  # noqa: E402
from actors.runtime.router import Router  # noqa: E402
from model.enums import OrderType, Side, TimeInForce  # noqa: E402
from model.messages import Batch, NewOrder, OpenAccount, Reply, VenueStart, VenueTick, decode_batch, encode_batch  # noqa: E402
from model.orders import OrderSpec  # noqa: E402
from tests.conftest import demo_setup  # noqa: E402

GATEWAY_NAME = "gateway-0"


class Cores:
    """Every journaled core of the demo topology, delivering to each other in one process."""

    def __init__(self, wire: bool) -> None:
        setup = demo_setup()
        self.config = setup.config
        self.router = Router(self.config)
        self.cores: dict[str, Any] = {}
        for role in ROLES:
            if role.core is None:
                continue
            for plan in role.plan(setup, 1):
                self.cores[plan.name] = role.core(plan, self.config)
        self.wire = wire
        self.delivered: list[Any] = []
        self.to_gateway = 0
        self.now = 1
        for seed in setup.accounts:
            self.deliver(self.router.account(seed.account), [OpenAccount(seed.account, seed.owner, seed.cash, seed.allow_short, seed.positions, seed.group)])
        for name in list(self.cores):
            if name.startswith("venue-"):
                self.deliver(name, [VenueStart()])
                self.deliver(name, [VenueTick()])
        self.accounts = [seed.account for seed in setup.accounts if seed.cash > 0]
        self.instruments = [instrument for instrument in setup.instruments if instrument.symbol in self.markets()]

    def markets(self) -> dict[str, int]:
        """symbol → a last or bid price some account shard has seen."""
        prices: dict[str, int] = {}
        for name, core in self.cores.items():
            if name.startswith("account-"):
                for symbol, view in core.markets.items():
                    price = view.bid or view.reference
                    if price:
                        prices[symbol] = price
        return prices

    def deliver(self, name: str, messages: list[Any]) -> None:
        queue: deque[tuple[str, list[Any]]] = deque([(name, messages)])
        while queue:
            target, batch = queue.popleft()
            if self.wire:
                batch = list(decode_batch(encode_batch(Batch("bench", 1, 0, batch))).messages)
            core = self.cores[target]
            for message in batch:
                core.apply(message, self.now)
            self.delivered.extend(batch)
            per_target: dict[str, list[Any]] = {}
            for send in core.out.drain():
                if send.kind == GATEWAY:
                    self.to_gateway += 1
                    continue
                for destination in self.router.resolve(send.kind, send.key):
                    if destination in self.cores:
                        per_target.setdefault(destination, []).append(send.message)
            queue.extend(per_target.items())
            marks = getattr(core, "marks_out", None)  # an InstrumentActor's quotes: soft, sent to every shard by its shell
            if marks:
                updates = list(marks.values())
                marks.clear()
                queue.extend((shard, updates) for shard in self.cores if shard.startswith("account-"))
            self.now += 1


def orders(cores: Cores, count: int, tag: str) -> list[tuple[str, NewOrder]]:
    prices = cores.markets()
    result = []
    for index in range(count):
        account = cores.accounts[index % len(cores.accounts)]
        instrument = cores.instruments[index % len(cores.instruments)]
        price = prices[instrument.symbol] * 95 // 100 // instrument.tick_size * instrument.tick_size
        spec = OrderSpec(instrument.symbol, Side.BUY, OrderType.LIMIT, TimeInForce.IOC, instrument.qty_increment, None, price, None)
        result.append((cores.router.account(account), NewOrder(account, f"{tag}-{index}", spec, Reply(GATEWAY_NAME, 1, str(index).encode()))))
    return result


def run_cores(count: int, wire: bool, profile: bool = False) -> tuple[float, Cores]:
    cores = Cores(wire)
    work = orders(cores, count, "b")
    cores.delivered.clear()
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    for shard, order in work:
        cores.deliver(shard, [order])
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    return time.perf_counter() - started, cores


def run_codec(messages: list[Any]) -> float:
    started = time.perf_counter()
    for message in messages:
        decode_batch(encode_batch(Batch("bench", 1, 0, [message])))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--wire", action="store_true", help="encode and decode each hop's batch")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions of one more run")
    args = parser.parse_args()
    rates, ratios, hops = [], [], []
    for repeat in range(args.repeats):
        seconds, cores = run_cores(args.orders, args.wire)
        assert cores.to_gateway >= 2 * args.orders, f"{cores.to_gateway} gateway outputs for {args.orders} orders"
        codec = run_codec(cores.delivered)
        rates.append(args.orders / seconds)
        ratios.append(codec / seconds)
        hops.append(len(cores.delivered) / args.orders)
        print(f"repeat {repeat + 1}: {args.orders / seconds:,.0f} orders/s through the cores ({seconds / args.orders * 1e6:.1f} µs/order, "
              f"{len(cores.delivered) / args.orders:.1f} messages/order); msgspec alone {len(cores.delivered) / codec:,.0f} messages/s")
    print(f"median: {statistics.median(rates):,.0f} orders/s through the cores; {statistics.median(hops):.1f} messages/order; "
          f"cores ÷ msgspec round trip of the same messages {statistics.median(ratios):.3f}")
    if args.profile:
        run_cores(args.orders, args.wire, profile=True)


if __name__ == "__main__":
    main()
