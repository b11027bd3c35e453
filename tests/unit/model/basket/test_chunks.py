"""A checked basket: its orders as compact columns, any rows gathered in the order asked,
split by the shard that owns each account into encoded chunks that survive the trip
between processes without being decoded on the way."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from model.basket import Basket, decode_chunks, encode_chunks
from model.basket.chunks import Amounts, Coded, Text
from model.enums import OrderType, Side, TimeInForce
from model.routing import shard_of
from tests.unit.model.basket.support import csv_basket


def test_chunks_go_to_the_shard_of_each_account_in_file_order_and_survive_the_trip_between_processes() -> None:
    rows = [f"A{1 + i % 3},c{i},IBM,buy,{i + 1},,,," for i in range(10)]
    basket = csv_basket(*rows)
    chunks = basket.chunks(lambda account: f"account-{shard_of(account, 2)}", 2)
    for chunk in chunks:
        orders = chunk.orders()
        assert chunk.rows == len(orders) <= 2 and {f"account-{shard_of(a, 2)}" for a in orders.accounts} == {chunk.shard}
    by_shard: dict[str, list[str]] = {}
    for chunk in chunks:
        by_shard.setdefault(chunk.shard, []).extend(chunk.orders().client_order_ids)
    assert sorted(i for ids in by_shard.values() for i in ids) == sorted(f"c{i}" for i in range(10))
    assert all(ids == sorted(ids, key=lambda i: int(i[1:])) for ids in by_shard.values())
    arrived = decode_chunks(encode_chunks(chunks))
    assert [(c.shard, c.rows, c.orders()) for c in arrived] == [(c.shard, c.rows, c.orders()) for c in chunks]
    assert all(bytes(a.data) == bytes(c.data) for a, c in zip(arrived, chunks, strict=True))  # the bytes as they were


def basket(accounts: list[str]) -> Basket:
    """A basket of one buy per account, ``c0``, ``c1``... in file order."""
    names = sorted(set(accounts))
    count = len(accounts)
    zeros = np.zeros(count, dtype=np.int8)
    return Basket(
        {
            "accounts": Coded.of(np.array([names.index(a) for a in accounts], dtype=np.int32), names),
            "client_order_ids": Text(pa.array([f"c{i}" for i in range(count)], pa.string())),
            "symbols": Coded.of(zeros, ["IBM"]),
            "sides": Coded.of(zeros, [Side.BUY]),
            "order_types": Coded.of(zeros, [OrderType.MARKET]),
            "tifs": Coded.of(zeros, [TimeInForce.OPG]),
            "qty": Amounts(np.arange(1, count + 1, dtype=np.int64), np.ones(count, dtype=bool)),
            "notional": Amounts(np.zeros(count, dtype=np.int64), np.zeros(count, dtype=bool)),
            "price": Amounts(np.array([0, 7, 0][:count] + [0] * max(0, count - 3), dtype=np.int64), np.array([False, True, False][:count] + [False] * max(0, count - 3))),
        },
        names,
    )


def test_orders_are_all_rows_in_file_order_or_the_rows_asked_in_the_order_asked() -> None:
    orders = basket(["A1", "A2", "A1"])
    assert len(orders) == 3
    everything = orders.orders()
    assert everything.client_order_ids == ["c0", "c1", "c2"] and everything.qty == [1, 2, 3] and everything.notional == [None] * 3
    assert everything.price == [None, 7, None]  # an amount not given is None, one given its int
    picked = orders.orders(np.array([2, 0]))
    assert picked.accounts == ["A1", "A1"] and picked.client_order_ids == ["c2", "c0"] and picked.qty == [3, 1]
    assert list(picked.rows())[0] == ("A1", "c2", "IBM", Side.BUY, OrderType.MARKET, TimeInForce.OPG, 3, None, None)
    assert picked.accounts[0] is picked.accounts[1]  # one string object per account, shared by its rows


def test_chunks_come_shard_by_shard_in_name_order_each_at_most_the_size() -> None:
    shards = {"A1": "account-1", "A2": "account-0", "A3": "account-1"}
    chunks = basket(["A1", "A2", "A3", "A1", "A2"]).chunks(shards.__getitem__, 2)
    assert [(chunk.shard, chunk.rows, chunk.orders().client_order_ids) for chunk in chunks] == [
        ("account-0", 2, ["c1", "c4"]),
        ("account-1", 2, ["c0", "c2"]),
        ("account-1", 1, ["c3"]),
    ]


def test_an_empty_basket_has_no_orders_and_no_chunks() -> None:
    empty = basket([])
    assert len(empty) == 0 and len(empty.orders()) == 0
    assert empty.chunks(lambda account: "account-0", 10) == []
    assert decode_chunks(encode_chunks([])) == []
    refused_nothing = csv_basket()  # a header and no rows: an empty basket, not an error
    assert len(refused_nothing) == 0 and refused_nothing.chunks(lambda account: "account-0", 10) == []
