"""Bytes per account held by an account shard's core, in process (no Ray, no journal): the
figure docs/scale.md sizes shards with.

    python tests/perf/bench_account_memory.py [--accounts 50000] [--positions 0 3]

For each number of positions, ``--accounts`` accounts are opened on one shard's core (each
with 25,000.00 cash and that many positions of the demo's instruments, without tax lots),
and the core's growth is measured with ``tracemalloc`` after a collection.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from actors.account.core import AccountState  # noqa: E402
from actors.account.risk import RiskLimits  # noqa: E402
from model import fixed  # noqa: E402
from model.config import AccountSeed, Config  # noqa: E402
from tests.conftest import demo_setup  # noqa: E402

HELD = [("IBM", "10"), ("AAPL", "0.5"), ("SPY", "3"), ("MSFT", "1.25"), ("XYZ", "7")]


def bytes_per_account(accounts: int, positions: int) -> float:
    setup = demo_setup()
    config = Config()
    limits = RiskLimits.from_config(config.risk, config.open, config.books)
    held = [(symbol, fixed.parse(qty)) for symbol, qty in HELD[:positions]]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    state = AccountState("account-0", setup.instruments, limits)
    for index in range(accounts):
        state.open_account(AccountSeed(f"U{index:08d}", f"owner{index}", fixed.parse("25000.00"), positions=held))
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del state
    return grown / accounts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--positions", type=int, nargs="+", default=[0, 3])
    args = parser.parse_args()
    for positions in args.positions:
        print(f"{args.accounts} accounts, {positions} positions each: {bytes_per_account(args.accounts, positions):,.0f} B per account", flush=True)


if __name__ == "__main__":
    main()
