"""Statements of an account with 100,000 trades over a year, driven on the shard's core
directly, with get_account on the same account as the same-run baseline.

    PYTHONPATH=$PWD python tests/perf/bench_statements.py [--trades 100000]

The account buys one share and sells it again, ``--trades / 2`` times spread evenly over 2025
(each sale closes a lot). Measured, median of 3 each: ``get_account``; a statement of one
week and of one month (under ``[books] statement_max_rows``, default 10,000, where they fit);
a statement of the whole year refused ``statement_too_large`` at the default cap (the
count alone); the whole year with the cap raised past its entries, in the core and then
its frame (``statement_json`` + JSON encoding, the gateway's part)."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[2]))  # PYTHONPATH decides which tree

from actors.account.core import AccountState
from model import fixed
from model.config import AccountSeed, BooksSection
from model.enums import OrderType, Side, TimeInForce, VenueEventKind
from model.messages import NewOrder, OrderUpdate, QueryAccount, QueryStatement, Reply, RequestRejected, StatementReply
from model.orders import OrderSpec
from model.statements import day_bounds
from server.gateway.statements import encode_statement
from tests.unit.actors.account.support import IBM, LIMITS

D = fixed.parse
REPLY = Reply("gateway-0", 1, b"1")
YEAR_START, _ = day_bounds(date(2025, 1, 1), date(2025, 1, 1), LIMITS.open_timezone)
YEAR_NS = 365 * 86_400 * 1_000_000_000
MAX_ROWS = BooksSection().statement_max_rows


def state_with(trades: int) -> AccountState:
    state = AccountState("account-0", [IBM], LIMITS)
    state.open_account(AccountSeed("A1", "t", D("100000000")))
    pairs = trades // 2
    step = YEAR_NS // pairs
    for n in range(pairs):
        now = YEAR_START + n * step + 3_600_000_000_000
        for side in (Side.BUY, Side.SELL):
            spec = OrderSpec("IBM", side, OrderType.LIMIT, TimeInForce.DAY, fixed.SCALE, None, D("150"))
            state.apply(NewOrder("A1", f"{side.value}{n}", spec, None), now)
            state.out.drain()
            update = OrderUpdate(f"account-0-{state.order_counter}", "A1", VenueEventKind.TRADE, fixed.SCALE, D("150") + (n % 7) * fixed.CENT, None, "SIM", now, True)
            state.apply(update, now)
            state.out.drain()
    return state


def timed(state: AccountState, message: object, now: int) -> tuple[float, object]:
    start = time.perf_counter()
    state.apply(message, now)  # type: ignore[arg-type]
    (send,) = state.out.drain()
    return (time.perf_counter() - start) * 1000, send.message


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trades", type=int, default=100_000)
    args = parser.parse_args()
    built = time.perf_counter()
    state = state_with(args.trades)
    print(f"built an account of {args.trades} trades over 2025 in {time.perf_counter() - built:.1f} s")
    now = YEAR_START + YEAR_NS + 86_400_000_000_000
    jan = date(2025, 1, 1).toordinal()
    cases = [
        ("get_account (baseline)", QueryAccount("A1", REPLY)),
        ("statement of one week", QueryStatement("A1", REPLY, jan + 140, jan + 146, MAX_ROWS)),
        ("statement of one month", QueryStatement("A1", REPLY, jan + 151, jan + 180, MAX_ROWS)),
        ("statement of the year at the default cap (refused)", QueryStatement("A1", REPLY, jan, jan + 364, MAX_ROWS)),
        ("statement of the year, cap raised", QueryStatement("A1", REPLY, jan, jan + 364, 10 * args.trades)),
    ]
    baseline = None
    for name, message in cases:
        runs, answer = [], None
        for _ in range(3):
            ms, answer = timed(state, message, now)
            runs.append(ms)
        median = statistics.median(runs)
        baseline = baseline or median
        if isinstance(answer, StatementReply):
            s = answer.statement
            entries = len(s.trades) + len(s.cash) + len(s.moves) + len(s.gains)
            frames = []
            for _ in range(3):
                start = time.perf_counter()
                frame = encode_statement(answer)
                frames.append((time.perf_counter() - start) * 1000)
            what = f"{entries} entries; its frame {statistics.median(frames):.1f} ms to encode, {len(frame) / 1e6:.2f} MB ({len(frame) / max(entries, 1):.0f} B an entry)"
        else:
            what = answer.code if isinstance(answer, RequestRejected) else "account"
        print(f"{name}: median {median:.2f} ms (×{median / baseline:.0f} get_account; runs {', '.join(f'{x:.2f}' for x in runs)}) — {what}")


if __name__ == "__main__":
    main()
