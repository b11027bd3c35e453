"""A checked basket: its orders as columns, any rows gathered in the order asked, split by
the shard that owns each account into chunks that survive the trip between processes."""

from __future__ import annotations

import numpy as np

from model.basket import Basket, decode_chunks, encode_chunks
from model.enums import OrderType, Side, TimeInForce
from model.routing import shard_of
from tests.unit.model.basket.support import csv_basket


def test_chunks_go_to_the_shard_of_each_account_in_file_order_and_survive_the_trip_between_processes() -> None:
    rows = [f"A{1 + i % 3},c{i},IBM,buy,{i + 1},,,," for i in range(10)]
    basket = csv_basket(*rows)
    chunks = basket.chunks(lambda account: f"account-{shard_of(account, 2)}", 2)
    for shard, orders in chunks:
        assert len(orders) <= 2 and {f"account-{shard_of(a, 2)}" for a in orders.accounts} == {shard}
    by_shard: dict[str, list[str]] = {}
    for shard, orders in chunks:
        by_shard.setdefault(shard, []).extend(orders.client_order_ids)
    assert sorted(i for ids in by_shard.values() for i in ids) == sorted(f"c{i}" for i in range(10))
    assert all(ids == sorted(ids, key=lambda i: int(i[1:])) for ids in by_shard.values())
    assert decode_chunks(encode_chunks(chunks)) == chunks


def basket(accounts: list[str]) -> Basket:
    """A basket of one buy per account, ``c0``, ``c1``... in file order."""
    names = sorted(set(accounts))
    count = len(accounts)

    def column(value: object) -> np.ndarray:
        return np.array([value] * count, dtype=object)

    columns = {
        "accounts": np.array(accounts, dtype=object),
        "client_order_ids": np.array([f"c{i}" for i in range(count)], dtype=object),
        "symbols": column("IBM"),
        "sides": column(Side.BUY),
        "order_types": column(OrderType.MARKET),
        "tifs": column(TimeInForce.OPG),
        "qty": np.array(list(range(1, count + 1)), dtype=object),
        "notional": column(None),
        "price": column(None),
    }
    return Basket(columns, np.array([names.index(a) for a in accounts], dtype=np.int64), names)


def test_orders_are_all_rows_in_file_order_or_the_rows_asked_in_the_order_asked() -> None:
    orders = basket(["A1", "A2", "A1"])
    assert len(orders) == 3
    everything = orders.orders()
    assert everything.client_order_ids == ["c0", "c1", "c2"] and everything.qty == [1, 2, 3] and everything.notional == [None] * 3
    picked = orders.orders(np.array([2, 0]))
    assert picked.accounts == ["A1", "A1"] and picked.client_order_ids == ["c2", "c0"] and picked.qty == [3, 1]
    assert list(picked.rows())[0] == ("A1", "c2", "IBM", Side.BUY, OrderType.MARKET, TimeInForce.OPG, 3, None, None)


def test_chunks_come_shard_by_shard_in_name_order_each_at_most_the_size() -> None:
    shards = {"A1": "account-1", "A2": "account-0", "A3": "account-1"}
    chunks = basket(["A1", "A2", "A3", "A1", "A2"]).chunks(shards.__getitem__, 2)
    assert [(shard, orders.client_order_ids) for shard, orders in chunks] == [
        ("account-0", ["c1", "c4"]),
        ("account-1", ["c0", "c2"]),
        ("account-1", ["c3"]),
    ]


def test_an_empty_basket_has_no_orders_and_no_chunks() -> None:
    empty = basket([])
    assert len(empty) == 0 and len(empty.orders()) == 0
    assert empty.chunks(lambda account: "account-0", 10) == []
    assert decode_chunks(encode_chunks([])) == []
