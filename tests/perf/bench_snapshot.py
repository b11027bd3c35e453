"""What a snapshot of a big book costs: ``Machine.dump`` and ``Machine.load`` of an account
shard and of an InstrumentActor each working ``--orders`` orders, in process (no Ray, no
journal), the best and the median of ``--repeats``, beside the baseline measured in the same
run: pickling and unpickling the same core with its seqs (protocol 5, what format 2 wrote).

    python tests/perf/bench_snapshot.py [--orders 100000] [--repeats 5]

The account shard's orders are limit buys spread over 1,000 accounts, half of them
partially filled; the InstrumentActor's are routed to a venue, with one in ten held as a
stop. Both books are built by the cores' own handlers, so the state is what a live actor
holds. The figures that hold on a noisy machine are the ratios format 3 ÷ pickle.
"""

from __future__ import annotations

import argparse
import gc
import pickle
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from actors.account.core import AccountState  # noqa: E402
from actors.account.risk import RiskLimits  # noqa: E402
from actors.instrument.core import InstrumentState  # noqa: E402
from actors.runtime.machine import Core, Machine  # noqa: E402
from actors.runtime.router import Router  # noqa: E402
from model import fixed  # noqa: E402
from model.config import AccountSeed, Config, VenueSection  # noqa: E402
from model.enums import AssetClass, OrderType, Side, TimeInForce, VenueEventKind  # noqa: E402
from model.instruments import Instrument  # noqa: E402
from model.messages import NewOrder, OrderUpdate, Reply, RouteOrder  # noqa: E402
from model.orders import OrderSpec  # noqa: E402

D = fixed.parse
NOW = 1_700_000_000_000_000_000
SYMBOLS = [Instrument(f"S{index:02d}", AssetClass.EQUITY, D("0.01"), D("0.000001"), D("100")) for index in range(20)]
ACCOUNTS = 1_000


def account_core(orders: int) -> AccountState:
    limits = RiskLimits(max_order_qty=D("1000000"), max_order_notional=D("100000000"), price_band=D("0.50"), market_collar=D("0.05"))
    state = AccountState("account-0", SYMBOLS, limits)
    for index in range(ACCOUNTS):
        state.open_account(AccountSeed(f"A{index}", f"trader{index}", D("100000000")))
    reply = Reply("gateway-0", 1, b"")
    for index in range(orders):
        symbol = SYMBOLS[index % len(SYMBOLS)].symbol
        spec = OrderSpec(symbol, Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("10"), None, D("99.50"))
        state.apply(NewOrder(f"A{index % ACCOUNTS}", f"c{index}", spec, reply), NOW)
    for index, order_id in enumerate(list(state.orders)):
        if index % 2:
            state.apply(OrderUpdate(order_id, state.orders[order_id].account, VenueEventKind.TRADE, D("3"), D("99.50"), None, "SIM", NOW), NOW)
    state.out.drain()
    return state


def instrument_core(orders: int) -> InstrumentState:
    state = InstrumentState("instrument-0", SYMBOLS, [VenueSection(name="SIM")])
    for index in range(orders):
        symbol = SYMBOLS[index % len(SYMBOLS)].symbol
        if index % 10 == 0:
            spec = OrderSpec(symbol, Side.BUY, OrderType.STOP, TimeInForce.GTC, D("10"), stop_price=D("120"))
        else:
            spec = OrderSpec(symbol, Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("10"), None, D("99.50"))
        state.apply(RouteOrder(f"account-0-{index}", f"A{index % ACCOUNTS}", spec), NOW)
    state.out.drain()
    return state


def timed(action: Callable[[], object], repeats: int, setup: Callable[[], object] = lambda: None) -> tuple[str, object]:
    """``best / median ms`` of ``repeats`` runs (the best is the figure a busy machine
    disturbs least), and what the action returned. ``setup`` runs before each, untimed."""
    seconds = []
    result: object = None
    for _ in range(repeats):
        setup()
        gc.collect()
        started = time.perf_counter()
        result = action()
        seconds.append(time.perf_counter() - started)
    return f"{min(seconds) * 1000:7.1f} / {statistics.median(seconds) * 1000:7.1f} ms", result


def bench(name: str, core: Core, repeats: int) -> None:
    config = Config()
    machine = Machine(name, core, Router(config), config.batching.max_messages)
    before = machine.state_hash()
    dump_s, payload = timed(machine.dump, repeats)
    assert isinstance(payload, bytes)
    fresh = Machine(name, core, Router(config), config.batching.max_messages)

    def load() -> None:
        gc.disable()  # as the host does while it recovers
        try:
            fresh.load(payload)
        finally:
            gc.enable()

    def forget() -> None:  # as at a start, nothing loaded before: the last load is freed untimed
        fresh.core = core

    load_s, _ = timed(load, repeats, forget)
    assert fresh.state_hash() == before, "the snapshot does not restore the same state"
    print(f"{name:12} dump {dump_s}   load {load_s}   {len(payload) / 1e6:6.1f} MB", flush=True)

    def pickled() -> bytes:
        gc.disable()
        try:
            return pickle.dumps((core, dict(machine.inbox.applied), machine.outbox.dump()), protocol=5)
        finally:
            gc.enable()

    baseline_dump, old = timed(pickled, repeats)
    assert isinstance(old, bytes)

    def unpickle() -> None:
        gc.disable()
        try:
            pickle.loads(old)
        finally:
            gc.enable()

    baseline_load, _ = timed(unpickle, repeats)
    print(f"{'  pickle':12} dump {baseline_dump}   load {baseline_load}   {len(old) / 1e6:6.1f} MB   (baseline, same run)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"snapshot of {args.orders:,} orders, best / median of {args.repeats}", flush=True)
    bench("account", account_core(args.orders), args.repeats)
    bench("instrument", instrument_core(args.orders), args.repeats)


if __name__ == "__main__":
    main()
