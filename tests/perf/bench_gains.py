"""get_gains on an account with many closed lots, driven on the shard's core directly, with
get_account on the same account as the baseline; and µs per fill booked.

    PYTHONPATH=$PWD python tests/perf/bench_gains.py [--closings 100000] [--fills 20000]

Prints the median of 3 of each. ``--fills-only`` measures only the per-fill booking (runs on
a tree without the books too, for a before/after)."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[2]))  # PYTHONPATH decides which tree

from actors.account.core import AccountState  # noqa: E402
from model import fixed  # noqa: E402
from model.config import AccountSeed  # noqa: E402
from model.enums import OrderType, Side, TimeInForce, VenueEventKind  # noqa: E402
from model.messages import NewOrder, OrderUpdate, QueryAccount, Reply  # noqa: E402
from model.orders import OrderSpec  # noqa: E402
from tests.unit.actors.account.support import IBM, LIMITS  # noqa: E402

D = fixed.parse
NOW = 1_736_175_600_000_000_000  # 2025-01-06
REPLY = Reply("gateway-0", 1, b"1")


def state_with(fills: int) -> tuple[AccountState, float]:
    """A shard whose account bought one share ``fills`` times and sold each (``fills``
    closings); returns it and the µs per fill booked (order entry excluded)."""
    state = AccountState("account-0", [IBM], LIMITS)
    state.open_account(AccountSeed("A1", "t", D("100000000")))
    spent = 0.0
    for n in range(fills):
        for side in (Side.BUY, Side.SELL):
            spec = OrderSpec("IBM", side, OrderType.LIMIT, TimeInForce.DAY, fixed.SCALE, None, D("150"))
            now = NOW + n * 60_000_000_000
            state.apply(NewOrder("A1", f"{side.value}{n}", spec, None), now)
            state.out.drain()
            order_id = f"account-0-{state.order_counter}"
            update = OrderUpdate(order_id, "A1", VenueEventKind.TRADE, fixed.SCALE, D("150") + (n % 7) * fixed.CENT, None, "SIM", now, True)
            start = time.perf_counter()
            state.apply(update, now)
            spent += time.perf_counter() - start
            state.out.drain()
    return state, spent / (2 * fills) * 1e6


def timed(state: AccountState, message: object, now: int) -> float:
    start = time.perf_counter()
    state.apply(message, now)  # type: ignore[arg-type]
    state.out.drain()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--closings", type=int, default=100_000)
    parser.add_argument("--fills", type=int, default=20_000)
    parser.add_argument("--fills-only", action="store_true")
    args = parser.parse_args()
    per_fill = [state_with(args.fills)[1] for _ in range(3)]
    print(f"fill booked: median {statistics.median(per_fill):.2f} µs per fill ({args.fills * 2} fills, runs {', '.join(f'{x:.2f}' for x in per_fill)})")
    if args.fills_only:
        return
    from model.messages import QueryGains

    state, _ = state_with(args.closings)
    end = NOW + args.closings * 60_000_000_000
    state.check_invariants()
    for name, message in (
        ("get_account", QueryAccount("A1", REPLY)),
        ("get_gains (whole range, page of 500)", QueryGains("A1", REPLY, 700_000, 800_000, 500)),
        ("get_gains (whole range, page of 1000, from the middle)", QueryGains("A1", REPLY, 700_000, 800_000, 1000, args.closings // 2)),
    ):
        runs = [timed(state, message, end) for _ in range(3)]
        print(f"{name}: median {statistics.median(runs):.1f} ms ({args.closings} closings; runs {', '.join(f'{x:.1f}' for x in runs)})")


if __name__ == "__main__":
    main()
