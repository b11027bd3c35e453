"""Cash movements through the account shard's core, in process (no Ray, no journal): what a
deposit and its settlement, and a journal (on one shard, and across two with its two-phase
commit), cost the core, beside a same-run baseline — ``get_account`` round trips through
the same core. Medians of ``--rounds`` rounds, the kinds alternated in each round.

    python tests/perf/bench_transfers.py [--count 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from actors.account.core import AccountState
from actors.account.risk import RiskLimits
from actors.runtime.outputs import ACCOUNT
from actors.runtime.router import account_actor
from model import fixed
from model.config import AccountSeed
from model.enums import AssetClass
from model.instruments import Instrument
from model.messages import DecideTransfer, JournalEntry, QueryAccount, Reply, RequestJournal, RequestTransfer
from model.routing import shard_of
from model.transfers import Decision, TransferKind

D = fixed.parse
SHARDS = 2
IBM = Instrument("IBM", AssetClass.EQUITY, D("0.01"), D("0.000001"), D("150"))
LIMITS = RiskLimits(max_order_qty=D("1000"), max_order_notional=D("100000"), price_band=D("0.10"), market_collar=D("0.05"))
REPLY = Reply("gateway-0", 1, b"1")


def placed(shard: int, count: int) -> list[str]:
    return [name for name in (f"B{n}" for n in range(10_000)) if shard_of(name, SHARDS) == shard][:count]


def shards() -> tuple[list[AccountState], list[str], list[str]]:
    cores = [AccountState(account_actor(index), [IBM], LIMITS) for index in range(SHARDS)]
    zero, one = placed(0, 2), placed(1, 2)
    for index, names in enumerate((zero, one)):
        for name in names:
            cores[index].open_account(AccountSeed(name, "owner", D("1000000000")))
    return cores, zero, one


def pump(cores: list[AccountState], first: int, message: object, now: int) -> None:
    """Apply ``message`` at shard ``first`` and deliver every message between shards."""
    queue = [(first, message)]
    while queue:
        index, item = queue.pop()
        core = cores[index]
        core.apply(item, now)  # type: ignore[arg-type]
        for send in core.out.drain():
            if send.kind == ACCOUNT:
                queue.append((shard_of(send.key, SHARDS), send.message))


def queries(count: int) -> float:
    cores, zero, _ = shards()
    now = time.time_ns()
    started = time.perf_counter()
    for _ in range(count):
        pump(cores, 0, QueryAccount(zero[0], REPLY), now)
    return count / (time.perf_counter() - started)


def deposits(count: int) -> float:
    """A deposit asked and settled: two inputs of the core."""
    cores, zero, _ = shards()
    core = cores[0]
    now = time.time_ns()
    started = time.perf_counter()
    for n in range(count):
        pump(cores, 0, RequestTransfer(zero[0], TransferKind.DEPOSIT, fixed.CENT * 100, f"d{n}", "bench", REPLY), now)
        pump(cores, 0, DecideTransfer(f"{core.name}-t{n + 1}", Decision.SETTLE, None, "bench"), now)
    return count / (time.perf_counter() - started)


def journals(count: int, across: bool) -> float:
    """One journal: on one shard (one input), or across two (the request, a prepare, a vote,
    an outcome and a booking: five inputs over two cores)."""
    cores, zero, one = shards()
    target = one[0] if across else zero[1]
    now = time.time_ns()
    started = time.perf_counter()
    for n in range(count):
        pump(cores, 0, RequestJournal(f"j{n}", [JournalEntry(zero[0], target, fixed.CENT)], "bench", False, SHARDS, REPLY), now)
    return count / (time.perf_counter() - started)


KINDS: dict[str, Callable[[int], float]] = {
    "get_account (baseline)": queries,
    "deposit + settle": deposits,
    "journal, one shard": lambda count: journals(count, False),
    "journal, two shards": lambda count: journals(count, True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _ in range(args.rounds):
        for kind, run in KINDS.items():
            rates[kind].append(run(args.count))
    baseline = statistics.median(rates["get_account (baseline)"])
    print(f"{'per second, in the core (median of ' + str(args.rounds) + ')':<40} {'rate':>10} {'÷ baseline':>11}")
    for kind, found in rates.items():
        median = statistics.median(found)
        print(f"{kind:<40} {median:>10,.0f} {median / baseline:>11.2f}")


if __name__ == "__main__":
    main()
