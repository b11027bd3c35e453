"""What an order benchmark offers the server, as command-line options (bench_order_entry.py
and bench_fix.py measure the same kind of load, each against its own baseline)."""

from __future__ import annotations

import argparse


def add_load_options(parser: argparse.ArgumentParser, *, orders: int, window: int, rate: int, seconds_option: str = "--seconds") -> None:
    """``--orders`` per run from ``--clients`` connections, each keeping ``--window`` orders
    in flight; a latency run at ``--rate`` orders/s for ``seconds_option`` seconds; and
    ``--repeats`` runs, of which the medians are reported."""
    parser.add_argument("--orders", type=int, default=orders)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--window", type=int, default=window, help="orders in flight per connection")
    parser.add_argument("--rate", type=int, default=rate, help="offered orders/s for the latency run")
    parser.add_argument(seconds_option, type=float, default=5)
    parser.add_argument("--repeats", type=int, default=3)
