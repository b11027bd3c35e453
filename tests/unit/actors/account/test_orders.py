"""The shard's orders in two tiers (``actors/account/orders.py``): a record at rest kept as
its encoding, thawed when touched; nothing a client or a snapshot sees may differ."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.account.core import AccountState
from actors.account.orders import _ENTRY, _Chunk, Orders, at_rest, freeze, thaw
from actors.account.records import SAME_AS_SPEC, OrderRecord, PendingReplace
from actors.runtime.machine import Machine
from actors.runtime.router import Router
from model.config import Config
from model.enums import ExecType, OrderStatus, OrderType, Side, TimeInForce, VenueEventKind
from model.lifecycle import Pending
from model.messages import OrderUpdate, Reply
from model.orders import OrderSpec
from tests.unit.actors.account.support import NOW, make_state, order, run
from tests.unit.actors.account.test_core_properties import fresh_state, play, steps_strategy

texts = st.text(max_size=12)
amounts = st.integers(min_value=0, max_value=2**63 - 1)
maybe_amount = st.none() | amounts
specs = st.builds(OrderSpec, texts, st.sampled_from(Side), st.sampled_from(OrderType), st.sampled_from(TimeInForce), maybe_amount, maybe_amount, maybe_amount, maybe_amount)
replies = st.none() | st.builds(Reply, texts, st.integers(min_value=0, max_value=2**32), st.binary(max_size=8))
records = st.builds(
    OrderRecord,
    texts,
    texts,
    texts,
    specs,
    st.sampled_from(OrderStatus),
    amounts,
    st.sampled_from([SAME_AS_SPEC, b"", b"\x98\xa3IBM"]),
    qty_cap=maybe_amount,
    cum_qty=amounts,
    value_nanos=amounts,
    value_subnanos=amounts,
    booked_cash=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    reserved_cash=amounts,
    reserved_qty=amounts,
    last_exec_type=st.sampled_from(ExecType),
    exec_count=amounts,
    reason=st.none() | texts,
    updated_ts=amounts,
    pending=st.sampled_from(Pending),
    cancel_reply=replies,
    pending_replace=st.none() | st.builds(PendingReplace, texts, texts, specs, replies, amounts, amounts),
    replaced_by=st.none() | texts,
    block=st.none() | texts,
    venue=st.none() | texts,
)


@settings(max_examples=300, deadline=None)
@given(record=records)
def test_thaw_of_freeze_is_the_record_and_freeze_is_msgpacks_encoding(record: OrderRecord) -> None:
    frozen = freeze(record)
    assert thaw(frozen) == record
    assert frozen == msgspec.msgpack.encode(record)  # what a snapshot and state_hash write for it
    assert freeze(thaw(frozen)) == frozen  # canonical: freezing again changes no byte


def _record(order_id: str, status: OrderStatus = OrderStatus.NEW, tif: TimeInForce = TimeInForce.OPG) -> OrderRecord:
    spec = OrderSpec("IBM", Side.BUY, OrderType.MARKET, tif, 10, None, None, None)
    return OrderRecord(order_id, "A1", f"c-{order_id}", spec, status, NOW, SAME_AS_SPEC)


def test_get_thaws_and_keeps_the_order_hot_until_settle_then_it_goes_cold_in_place() -> None:
    orders = Orders()
    for order_id in ("o1", "o2", "o3"):
        orders[order_id] = _record(order_id)
    assert orders.hot() == 3 and orders.settle() == 3 and orders.hot() == 0
    middle = orders["o2"]
    assert orders["o2"] is middle and orders.hot() == 1  # the same record while hot
    middle.cum_qty = 4
    assert orders.settle() == 1 and orders.hot() == 0
    assert orders.peek("o2") == middle and orders.peek("o2") is not middle
    assert list(orders) == ["o1", "o2", "o3"]  # thawing and freezing keep the order's place
    assert [o.order_id for o in orders.values()] == ["o1", "o2", "o3"]


def test_each_gives_every_order_hot_in_turn_and_freezes_it_when_the_next_is_asked_for() -> None:
    """``each``: an order at rest once changed goes cold again as the loop moves on; one left
    working stays hot and reaches ``settle``; an unknown id gives ``None``; a loop that stops
    early freezes the order it holds."""
    orders = Orders()
    for order_id in ("o1", "o2", "o3"):
        orders[order_id] = _record(order_id)
    orders.settle()
    seen = []
    for record in orders.each(["o1", "nope", "o2", "o3"]):
        seen.append(None if record is None else record.order_id)
        if record is not None:
            record.cum_qty = 1
            if record.order_id == "o2":
                record.pending = Pending.CANCEL  # in flight: not at rest
            assert orders.hot() == (2 if record.order_id == "o3" else 1)  # the one in hand (and o2, kept)
    assert seen == ["o1", None, "o2", "o3"]
    assert orders.hot() == 1 and orders.settle() == 0  # o2 stays hot: it is not at rest
    assert [orders.peek(o).cum_qty for o in ("o1", "o2", "o3")] == [1, 1, 1]  # type: ignore[union-attr]
    for record in orders.each(["o3", "o1"]):
        record.cum_qty = 2  # type: ignore[union-attr]
        break
    assert orders.hot() == 1 and orders.peek("o3").cum_qty == 2  # type: ignore[union-attr]  # o2 alone is hot


def test_peek_and_values_do_not_keep_a_cold_order_and_changing_their_copy_changes_nothing() -> None:
    orders = Orders()
    orders["o1"] = _record("o1")
    orders.settle()
    orders.peek("o1").cum_qty = 9  # type: ignore[union-attr]
    next(iter(orders.values())).cum_qty = 9
    assert orders.hot() == 0 and orders["o1"].cum_qty == 0
    assert orders.get("nope") is None and orders.peek("nope") is None and "nope" not in orders
    with pytest.raises(KeyError):
        orders["nope"]


def _chunks(orders: Orders) -> set[int]:
    return {id(value) for value in orders._by_id.values() if isinstance(value, _Chunk)}


def _for_open(order_id: str, symbol: str) -> OrderRecord:
    spec = OrderSpec(symbol, Side.BUY, OrderType.MARKET, TimeInForce.OPG, 10, None, None, None)
    return OrderRecord(order_id, "A1", f"c-{order_id}", spec, OrderStatus.NEW, NOW, SAME_AS_SPEC)


def test_orders_for_the_open_are_parked_by_symbol_and_a_chunk_goes_when_its_last_order_leaves() -> None:
    orders = Orders()
    for n in range(300):
        orders[f"o{n}"] = _for_open(f"o{n}", "IBM" if n % 2 else "MSFT")
    orders["done"] = _record("done", OrderStatus.FILLED, TimeInForce.DAY)
    orders.settle()
    assert orders.parked() == 300 and orders.hot() == 0
    chunks = _chunks(orders)
    assert 2 < len(chunks) < 30  # a few chunks a symbol, each shared by many orders
    assert all(orders._by_id[o].symbol == ("IBM" if int(o[1:]) % 2 else "MSFT") for o in orders if o != "done")  # type: ignore[union-attr]
    assert orders.encoded() == [freeze(_for_open(o, "IBM" if int(o[1:]) % 2 else "MSFT")) for o in orders if o != "done"] + [freeze(_record("done", OrderStatus.FILLED, TimeInForce.DAY))]
    # the open books the IBM orders: their chunks go, MSFT's stay
    for record in orders.each([f"o{n}" for n in range(1, 300, 2)]):
        assert record is not None and record.spec.symbol == "IBM"
        record.status, record.cum_qty = OrderStatus.FILLED, 10
    assert orders.parked() == 150 and all(orders._by_id[f"o{n}"].symbol == "MSFT" for n in range(0, 300, 2))  # type: ignore[union-attr]
    assert len(_chunks(orders)) < len(chunks) and "IBM" not in orders._parking
    assert [o.cum_qty for o in orders.values()] == [10 if n % 2 else 0 for n in range(300)] + [0]  # every order in its place


def test_a_parked_order_touched_and_still_waiting_is_parked_again_and_found_as_it_now_is() -> None:
    orders = Orders()
    for n in range(5):
        orders[f"o{n}"] = _for_open(f"o{n}", "IBM")
    orders.settle()
    record = orders["o2"]
    assert orders.parked() == 4 and orders.hot() == 1
    record.reserved_cash = 77
    assert orders.settle() == 1 and orders.parked() == 5
    assert orders.peek("o2").reserved_cash == 77 and orders["o2"].reserved_cash == 77  # type: ignore[union-attr]  # the live entry, not the dead one
    orders["o3"] = _for_open("o3", "IBM")  # set again without a get: the parked one leaves
    orders["o3"].reserved_cash = 5
    orders.settle()
    assert [o.reserved_cash for o in orders.values()] == [0, 0, 77, 5, 0]
    assert sum(chunk.live for chunk in {id(v): v for v in orders._by_id.values()}.values()) == 5  # type: ignore[union-attr]


def test_a_chunk_finds_an_order_by_its_id_not_by_its_hash_alone() -> None:
    """Two ids with one hash in a chunk: the entry whose encoding names the other id is passed over."""
    chunk = _Chunk("IBM")
    chunk.add("a", freeze(_for_open("a", "IBM")))
    _hash, start, length = _ENTRY.unpack_from(chunk.index, 0)
    chunk.index += _ENTRY.pack(hash("b"), start, length)  # an entry for "b" pointing at "a"'s encoding
    with pytest.raises(KeyError):
        chunk.find("b")
    with pytest.raises(KeyError):
        chunk.take("b")
    chunk.add("b", freeze(_for_open("b", "IBM")))
    entry, start, end, record = chunk.find("b")
    assert entry == 2 * _ENTRY.size and thaw(bytes(chunk.data[start:end])).order_id == "b" == record.order_id
    assert chunk.take("b").order_id == "b" and chunk.live == 1 and chunk.find("a")[0] == 0
    with pytest.raises(KeyError):
        chunk.take("b")  # taken: its entry is zeroed


def test_a_chunk_finds_an_orders_bytes_without_decoding_by_the_id_in_its_encoding() -> None:
    """``find(decode=False)`` (a snapshot's copy) checks the id in the encoding, not by its
    hash alone, and no id that merely starts like another's matches it."""
    chunk = _Chunk("IBM")
    chunk.add("b", freeze(_for_open("b", "IBM")))
    _hash, start, length = _ENTRY.unpack_from(chunk.index, 0)
    chunk.index += _ENTRY.pack(hash("bb"), start, length)  # an entry for "bb" pointing at "b"'s encoding
    with pytest.raises(KeyError):
        chunk.find("bb", decode=False)
    chunk.add("bb", freeze(_for_open("bb", "IBM")))
    entry, start, end, record = chunk.find("bb", decode=False)
    assert record is None and entry == 2 * _ENTRY.size and thaw(bytes(chunk.data[start:end])).order_id == "bb"
    assert chunk.find("b", decode=False)[:3] == chunk.find("b")[:3]


def test_only_orders_at_rest_go_cold() -> None:
    assert at_rest(_record("a"))  # queued for the open
    assert at_rest(_record("b", OrderStatus.FILLED, TimeInForce.DAY))  # ended
    assert not at_rest(_record("c", OrderStatus.NEW, TimeInForce.DAY))  # working in the continuous session
    waiting = _record("d")
    waiting.pending = Pending.CANCEL
    assert not at_rest(waiting)  # a request in flight


def _all_hot(state: AccountState) -> AccountState:
    """The same shard with a tier that never freezes: what the shard did before the tiers."""

    class AllHot(Orders):
        __slots__ = ()

        def settle(self) -> int:
            self._touched.clear()
            return 0

    state.orders = AllHot()
    return state


@settings(max_examples=100, deadline=None)
@given(steps=steps_strategy)
def test_the_tiers_change_nothing_a_client_or_a_snapshot_sees(steps: list[tuple]) -> None:  # type: ignore[type-arg]
    tiered, hot = fresh_state(), _all_hot(fresh_state())
    assert play(tiered, steps) == play(hot, steps)
    assert tiered.state_hash() == hot.state_hash()
    assert tiered.orders.as_dict() == hot.orders.as_dict()
    tiered.check_invariants()
    config = Config()
    payload = Machine("account-0", tiered, Router(config), 100).dump()
    assert payload == Machine("account-0", hot, Router(config), 100).dump()
    restored = Machine("account-0", fresh_state(), Router(config), 100)
    restored.load(payload)
    assert isinstance(restored.core, AccountState)
    assert restored.core.state_hash() == tiered.state_hash() and restored.core.orders.as_dict() == tiered.orders.as_dict()
    assert restored.core.orders.hot() == tiered.orders.hot()


def test_a_resend_of_an_order_at_rest_is_recognised_without_thawing_it() -> None:
    state = make_state()
    run(state, order("c1", qty="2", price=None, order_type=OrderType.MARKET, tif=TimeInForce.OPG))
    assert state.orders.hot() == 0
    again = run(state, order("c1", qty="2", price=None, order_type=OrderType.MARKET, tif=TimeInForce.OPG))
    assert [s.message.report.exec_type for s in again] == [ExecType.NEW] and len(state.orders) == 1  # type: ignore[union-attr]
    other = run(state, order("c1", qty="3", price=None, order_type=OrderType.MARKET, tif=TimeInForce.OPG))
    assert [s.message.report.reason for s in other] == ["duplicate_client_order_id"]  # type: ignore[union-attr]
    assert state.orders.hot() == 0


def test_an_allocation_thaws_an_order_books_it_and_leaves_it_cold() -> None:
    state = make_state()
    run(state, order("c1", qty="2", price=None, order_type=OrderType.MARKET, tif=TimeInForce.OPG))
    (order_id,) = list(state.orders)
    run(state, OrderUpdate(order_id, "A1", VenueEventKind.TRADE, 2 * 10**9, 150 * 10**9, None, "SIM", NOW, True, cash=300 * 10**9, block="B1"))
    assert state.orders.hot() == 0
    booked = state.orders.peek(order_id)
    assert booked is not None and booked.status is OrderStatus.FILLED and booked.block == "B1"
    assert state.accounts["A1"].cash == 100_000 * 10**9 - 300 * 10**9
    state.check_invariants()


def test_a_snapshot_whose_order_does_not_decode_is_refused() -> None:
    from actors.runtime.snapshot import load
    from snapshots.journal import JournalCorrupt

    state = make_state()
    run(state, order("c1", qty="2", price=None, order_type=OrderType.MARKET, tif=TimeInForce.OPG))
    machine = Machine("account-0", state, Router(Config()), 100)
    payload = machine.dump().replace(freeze(state.orders.peek(next(iter(state.orders)))), msgspec.msgpack.encode(["not", "an", "order"]))  # type: ignore[arg-type]
    with pytest.raises(JournalCorrupt, match="does not decode"):
        load("account-0", AccountState, payload)
