"""Bytes per order for the open, core by core, in process (no Ray, no journal).

    python tests/perf/bench_memory.py [--orders 200000] [--accounts 20000]

An account shard takes ``--orders`` orders for the open in basket chunks of 5,000 (each
chunk through the wire codec, as a link delivers it: its strings are the decoder's, one per
row), and its ``RouteOrder`` outputs go, through the codec too, to one InstrumentActor,
which holds them for the open. The orders are bench_open's: 70 % fractional quantities,
30 % notionals, 60 % buys, 500 symbols. Then the open; every block fills at once at the
reference price (no venue: the allocation is the one a fill would give) and the shard books
each allocation. Printed per order, from ``tracemalloc``: what the shard holds once the
orders are queued and once they are booked, what the InstrumentActor holds while the
orders are queued (and once the open has put them into blocks at the venue), and the size of each core's snapshot (format 4) — the second copy a
snapshot makes while it is written. A breakdown of one order record by ``sys.getsizeof``
says where a record's bytes go.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402

from actors.account.core import AccountState  # noqa: E402
from actors.account.risk import RiskLimits  # noqa: E402
from actors.instrument.core import InstrumentState  # noqa: E402
from actors.runtime.machine import Machine  # noqa: E402
from actors.runtime.outputs import ACCOUNT, INSTRUMENT, VENUE  # noqa: E402
from actors.runtime.router import Router  # noqa: E402
from model import fixed  # noqa: E402
from model.config import AccountSeed, Config, VenueSection  # noqa: E402
from model.enums import AssetClass, OrderType, Side, TimeInForce, VenueEventKind  # noqa: E402
from model.instruments import Instrument  # noqa: E402
from model.messages import Batch, LoadOrders, OpenMarket, Reply, VenueNewOrder, VenueReport, decode_batch, encode_batch  # noqa: E402
from model.messages.bulk import OrderColumns  # noqa: E402

D = fixed.parse
NOW = 1_700_000_000_000_000_000
INCREMENT = D("0.000001")
CHUNK = 5_000


def instruments(count: int) -> list[Instrument]:
    rng = random.Random(11)
    return [
        Instrument(f"S{index:03d}", AssetClass.ETF if index % 10 == 0 else AssetClass.EQUITY, fixed.CENT, INCREMENT, rng.randint(10, 500) * fixed.SCALE)
        for index in range(count)
    ]


def chunks(orders: int, accounts: int, symbols: list[Instrument]) -> list[bytes]:
    """The basket's chunks as encoded batches (bench_open's orders)."""
    rng = random.Random(5)
    encoded = []
    for start in range(0, orders, CHUNK):
        rows = range(start, min(start + CHUNK, orders))
        cols: dict[str, list[Any]] = {k: [] for k in ("accounts", "ids", "symbols", "sides", "qty", "notional")}
        for index in rows:
            cols["accounts"].append(f"V{index % accounts:07d}")
            cols["ids"].append(f"o{index}")
            cols["symbols"].append(symbols[rng.randrange(len(symbols))].symbol)
            cols["sides"].append(Side.SELL if rng.random() < 0.4 else Side.BUY)
            notional = rng.random() < 0.3
            cols["qty"].append(None if notional else rng.randint(1, 20_000_000) * INCREMENT)
            cols["notional"].append(rng.randint(500, 200_000) * fixed.CENT if notional else None)
        n = len(rows)
        columns = OrderColumns(
            cols["accounts"], cols["ids"], cols["symbols"], cols["sides"], [OrderType.MARKET] * n, [TimeInForce.OPG] * n, cols["qty"], cols["notional"], [None] * n
        )
        encoded.append(encode_batch(Batch("gateway-0", start // CHUNK + 1, NOW, [LoadOrders(1, start // CHUNK, columns, Reply("gateway-0", 1, b""))])))
    return encoded


def traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def wire(messages: list[Any]) -> list[Any]:
    """Messages as the receiving actor sees them: encoded and decoded in batches."""
    out = []
    for start in range(0, len(messages), 1000):
        out.extend(decode_batch(encode_batch(Batch("x", 1, NOW, messages[start : start + 1000]))).messages)
    return out


def record_breakdown(shard: AccountState) -> str:
    order = next(iter(shard.orders.values()))
    parts = {
        "record": sys.getsizeof(order),
        "spec": sys.getsizeof(order.spec),
        "order_id": sys.getsizeof(order.order_id),
        "client_order_id": sys.getsizeof(order.client_order_id),
        "fingerprint": sys.getsizeof(order.fingerprint),
        "ints": sum(sys.getsizeof(v) for v in msgspec.structs.astuple(order) if isinstance(v, int) and not -5 <= v <= 256 and not hasattr(v, "value")),
    }
    return ", ".join(f"{k} {v}" for k, v in parts.items())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--symbols", type=int, default=500)
    args = parser.parse_args()
    n = args.orders
    symbols = instruments(args.symbols)
    encoded = chunks(n, args.accounts, symbols)
    limits = RiskLimits(max_order_qty=D("100000000"), max_order_notional=D("1000000000"), price_band=D("0.50"), market_collar=D("0.05"))

    tracemalloc.start()
    base = traced()
    shard = AccountState("account-0", symbols, limits)
    for index in range(args.accounts):
        shard.open_account(AccountSeed(f"V{index:07d}", "advisor", 10_000_000 * fixed.SCALE, allow_short=True, group="ADV"))
    accounts_only = traced()
    # the routes leave as a link sends them, batches of bytes (what the InstrumentActor's
    # link gets and decodes one by one); in flight, they are no part of the shard
    batches: list[bytes] = []
    started = time.perf_counter()
    for data in encoded:
        for message in decode_batch(data).messages:
            shard.apply(message, NOW)
        routes = [m for dest, _key, m in _drain(shard) if dest == INSTRUMENT]
        batches.extend(encode_batch(Batch("account-0", 1, NOW, routes[start : start + 1000])) for start in range(0, len(routes), 1000))
        del routes
    del encoded
    entered_s = time.perf_counter() - started
    in_flight = sum(sys.getsizeof(batch) for batch in batches) + sys.getsizeof(batches)
    shard_queued = traced() - accounts_only - in_flight
    instrument = InstrumentState("instrument-0", symbols, [VenueSection(name="SIM")])
    before_instrument = traced()
    while batches:
        for route in decode_batch(batches.pop()).messages:
            instrument.apply(route, NOW)
        _drain(instrument)
    instrument_held = traced() - before_instrument + in_flight
    config = Config()
    shard_snapshot = len(Machine("account-0", shard, Router(config), 1000).dump())
    instrument_snapshot = len(Machine("instrument-0", instrument, Router(config), 1000).dump())

    # the open: every block fills at its reference price, the allocations are booked
    instrument.apply(OpenMarket([], 1), NOW)
    opened = _drain(instrument)
    instrument_blocks = traced() - before_instrument  # the blocks at the venue, with their orders
    to_venue = [m for dest, _k, m in opened if dest == VENUE]
    updates: list[Any] = [m for dest, _k, m in opened if dest == ACCOUNT]
    for order in to_venue:
        assert isinstance(order, VenueNewOrder)
        price = instrument.books[order.spec.symbol].reference
        qty = order.spec.qty if order.spec.qty is not None else fixed.qty_for_cash(order.spec.notional or 0, price, INCREMENT, 1)
        instrument.apply(VenueReport("SIM", order.child_id, VenueEventKind.TRADE, qty, price, None, NOW, done=True), NOW)
        updates.extend(m for dest, _k, m in _drain(instrument) if dest == ACCOUNT)
    before_booking = traced()
    started = time.perf_counter()
    for update in wire(updates):
        shard.apply(update, NOW)
    _drain(shard)
    booked_s = time.perf_counter() - started
    del updates
    shard_booked = traced() - accounts_only
    booked_snapshot = len(Machine("account-0", shard, Router(config), 1000).dump())
    tracemalloc.stop()

    print(f"{n:,} orders for the open, {args.accounts:,} accounts, {args.symbols} symbols (tracemalloc, bytes per order)")
    print(f"  accounts alone: {(accounts_only - base) / args.accounts:,.0f} bytes per account")
    print(f"  account shard, queued: {shard_queued / n:,.0f}   booked: {shard_booked / n:,.0f}   (entry {entered_s:.1f} s, booking {booked_s:.1f} s)")
    print(f"  one record: {record_breakdown(shard)}")
    print(f"  InstrumentActor, held for the open: {instrument_held / n:,.0f}   blocks at the venue after the open: {instrument_blocks / n:,.0f}")
    print(f"  snapshot (format 4) bytes per order: shard queued {shard_snapshot / n:,.0f}, booked {booked_snapshot / n:,.0f}; InstrumentActor {instrument_snapshot / n:,.0f}")
    print(f"  (traced before booking {before_booking / 2**20:,.0f} MiB)")


def _drain(core: Any) -> list[tuple[str, str, Any]]:
    return list(core.out.drain())


if __name__ == "__main__":
    main()
