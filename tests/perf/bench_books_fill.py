"""The shard's core at the open: µs per allocation fill booked into fresh accounts, the path
``bench_open.py`` spends its booking phase in (cold orders thawed and frozen again, cash,
position, lots, the report), without Ray, sockets or journals.

    PYTHONPATH=$PWD python tests/perf/bench_books_fill.py [--accounts 20000] [--per-account 10] [--symbols 500]
        [--runs 3] [--against /work/wt-base] [--as-live]

An account shard with ``--accounts`` fresh accounts (short sales allowed) queues
``--per-account`` market orders for the open each (60 % buys, 40 % sells, 70 % quantities
and 30 % notionals, symbols spread at random as ``bench_open.py`` does); each is then filled
whole by one allocation from a block (whole cents of cash), and only those ``apply`` calls
are timed — decoded from the batches an instrument actor sends them in, block by block
(``AllocationFills`` of ``[batching] max_messages`` orders on a tree that has them), and applied —
with the collector off as a shard applies its batches (CPU time of the process:
steadier than the wall clock on a shared machine). Prints the median µs per allocation over
``--runs`` runs, and the µs per allocation spent afterwards opening the lots they left
pending (what the shard's next snapshot or ``state_hash`` does first:
``AccountState.book_pending_lots``; 0 on a tree that books each lot at once).

``--as-live``: the shard as a live server's is at the open of a basket — its audit events
made (``[audit] enabled``, the default), no drop copy or strategy to send reports to, and a
gateway that has announced the sessions it serves, none of which follows these accounts —
so no report is made, as in ``bench_open.py --basket-only``. Without it: every report made
and no audit event (the figures of the books' measurements in docs/books.md).

``--against TREE``: the same measurement on another tree too (a subprocess with
``PYTHONPATH=TREE``; repeated, on more trees, the first being "before"), alternated with
this one; prints the medians and their ratios to "before": a before/after on a noisy
machine in one run.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()


def as_sent(updates: list, max_messages: int) -> list[list]:  # type: ignore[type-arg]
    """The batches an instrument actor sends these allocation fills in (sorted by block)."""
    from model import messages

    if not hasattr(messages, "AllocationFills"):
        return [updates[start:start + max_messages] for start in range(0, len(updates), max_messages)]
    batches: list[list] = []  # type: ignore[type-arg]
    for start in range(0, len(updates), max_messages):
        chunk = updates[start:start + max_messages]
        one_block: list = []  # type: ignore[type-arg]
        for update in chunk:
            if one_block and (update.block != one_block[0].block):
                batches.append([fills_of(one_block)])
                one_block = []
            one_block.append(update)
        batches.append([fills_of(one_block)])
    return batches


def fills_of(updates: list):  # type: ignore[no-untyped-def,type-arg]
    from model.messages import AllocationFills

    first = updates[0]
    return AllocationFills(
        first.block, first.block.removeprefix("B-"), first.venue, first.last_price,
        [u.order_id for u in updates], [u.account for u in updates], [u.last_qty for u in updates], [u.cash for u in updates], [u.done for u in updates], first.ts,
    )


def measure(accounts: int, per_account: int, symbols: int, seed: int = 7, max_messages: int = 1000, as_live: bool = False) -> tuple[float, float]:
    """One run in this process (this tree): µs per allocation booked, and µs per allocation
    spent after them opening the lots they left pending (0 on a tree that books them at once)."""
    from actors.account.core import AccountState
    from actors.account.risk import RiskLimits
    from model import fixed
    from model.config import AccountSeed
    from model.enums import AssetClass, OrderType, Side, TimeInForce, VenueEventKind
    from model.instruments import Instrument
    from model.messages import Batch, NewOrder, OrderUpdate, RouteOrder, decode_batch, encode_batch
    from model.orders import OrderSpec

    rng = random.Random(seed)
    increment = fixed.parse("0.000001")
    instruments = [Instrument(f"S{i:03d}", AssetClass.EQUITY, fixed.CENT, increment, rng.randint(10, 500) * fixed.SCALE) for i in range(symbols)]
    limits = RiskLimits(max_order_qty=fixed.parse("100000"), max_order_notional=fixed.parse("10000000"), price_band=fixed.parse("0.10"), market_collar=fixed.parse("0.05"))
    state = AccountState("account-0", instruments, limits)
    if as_live:  # what a live shard's shell sets (``--as-live``)
        from actors.runtime.outputs import DROP_COPY, STRATEGY

        state.out.audit, state.out.nowhere = True, frozenset({DROP_COPY, STRATEGY})
        state.gateway_routes.routed = True  # a gateway announced: it follows none of these accounts
    for index in range(accounts):
        state.open_account(AccountSeed(f"V{index:07d}", "advisor", 10_000_000 * fixed.SCALE, allow_short=True, group="ADV"))
    now = 1_736_175_600_000_000_000
    routed: list[tuple[str, str, int]] = []  # order id, account, qty (None: notional → cash)
    for n in range(accounts * per_account):
        instrument = instruments[rng.randrange(symbols)]
        side = Side.SELL if rng.random() < 0.4 else Side.BUY
        if rng.random() < 0.7:
            spec = OrderSpec(instrument.symbol, side, OrderType.MARKET, TimeInForce.OPG, rng.randint(1, 20_000_000) * increment)
        else:
            spec = OrderSpec(instrument.symbol, side, OrderType.MARKET, TimeInForce.OPG, None, rng.randint(500, 200_000) * fixed.CENT)
        state.apply(NewOrder(f"V{n % accounts:07d}", f"o{n}", spec, None), now)
        for send in state.out.drain():
            if isinstance(send.message, RouteOrder):
                routed.append((send.message.order_id, f"V{n % accounts:07d}", n))
    rng.shuffle(routed)
    updates = []
    for order_id, account, _ in routed:
        order = state.orders.peek(order_id)
        assert order is not None
        instrument = state.instruments[order.spec.symbol]
        price = instrument.reference_price
        qty = order.spec.qty if order.spec.qty is not None else order.spec.notional * fixed.SCALE // 2 // price // increment * increment  # type: ignore[operator]
        qty = max(qty, increment)
        value = qty * price
        cash = max(fixed.ceil_cent(value) if order.spec.side is Side.BUY else fixed.floor_cent(value), fixed.CENT)
        if order.spec.notional is not None and order.spec.side is Side.BUY:
            cash = min(cash, order.spec.notional)
        updates.append(OrderUpdate(order_id, account, VenueEventKind.TRADE, qty, price, None, "SIM", now + 1, True, cash=cash, block="B-" + order.spec.symbol))
    # as an instrument actor sends them: block by block (here one per symbol and side), each
    # block's fills in batches of ``max_messages`` — one message each, or on a tree that has
    # them, ``AllocationFills`` of ``max_messages`` orders; decoded from bytes as a shard does
    updates.sort(key=lambda u: (u.block, state.orders.peek(u.order_id).spec.side))  # type: ignore[union-attr]
    batches = [encode_batch(Batch("instrument-0", seq, now, messages)) for seq, messages in enumerate(as_sent(updates, max_messages), 1)]
    state.out.drain()
    state.out.take_events()
    gc.collect()
    gc.disable()  # as a shard applies its batches (``actors/runtime/machine.py``)
    apply, drain, take_events = state.apply, state.out.drain, state.out.take_events
    end_turn = getattr(state, "end_turn", lambda now: None)  # a batch a turn (a shard's record may hold several)
    start = time.process_time()
    for data in batches:
        for message in decode_batch(data).messages:
            apply(message, now + 1)
        end_turn(now + 1)
        drain()
        take_events()  # (appending them to the audit chain is the shell's, after the commit)
    spent = time.process_time() - start
    drain()
    assert state.allocations == len(updates), (state.allocations, len(updates), state.anomalies[:3])
    # what a tree with lazy lots owes later, at the next snapshot or read: the pending lots opened
    start = time.process_time()
    if hasattr(state, "book_pending_lots"):
        state.book_pending_lots()
    later = time.process_time() - start
    gc.enable()
    return spent / len(updates) * 1e6, later / len(updates) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--per-account", type=int, default=10)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--as-live", action="store_true", help="audit on, no drop copy or strategy, no session following the accounts")
    parser.add_argument("--against", action="append", default=[], help="another tree to measure alternately (PYTHONPATH); may repeat")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    shape = ["--accounts", str(args.accounts), "--per-account", str(args.per_account), "--symbols", str(args.symbols), *(["--as-live"] if args.as_live else [])]
    if args.one:
        sys.path.insert(0, os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or str(HERE.parents[2]))
        print(*measure(args.accounts, args.per_account, args.symbols, as_live=args.as_live))
        return
    trees = {"this": os.environ.get("PYTHONPATH") or str(HERE.parents[2])}
    if args.against:
        trees = {**{("before" if n == 0 else f"other{n}"): tree for n, tree in enumerate(args.against)}, **trees}
    runs: dict[str, list[float]] = {name: [] for name in trees}
    later: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(args.runs):
        for name, tree in trees.items():
            result = subprocess.run(
                [sys.executable, str(HERE), "--one", *shape], env={**os.environ, "PYTHONPATH": tree}, cwd=tree, capture_output=True, text=True, check=True
            )
            booked, pending = result.stdout.split()[-2:]
            runs[name].append(float(booked))
            later[name].append(float(pending))
    medians = {name: statistics.median(values) for name, values in runs.items()}
    for name, values in runs.items():
        print(
            f"{name} ({trees[name]}): median {medians[name]:.2f} µs per allocation ({args.accounts * args.per_account} allocations; "
            f"runs {', '.join(f'{v:.2f}' for v in values)}); then {statistics.median(later[name]):.2f} µs per allocation opening pending lots"
        )
    for name in trees:
        if name != "before" and "before" in medians:
            print(f"ratio {name} / before: {medians[name] / medians['before']:.3f}")


if __name__ == "__main__":
    main()
