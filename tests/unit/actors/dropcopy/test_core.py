"""The drop copy core (``DropCopyState``): fills to the clearing firm's ExecutionReports and
allocated blocks to AllocationInstructions (J), once each, read back here tag by tag."""

from __future__ import annotations

import msgspec
import pytest

from actors.dropcopy.core import DropCopyState
from model import fixed
from model.enums import ExecType, OrderStatus, OrderType, Side, TimeInForce
from model.messages import AllocationReport, ExecutionReport, Message, QuoteEvent
from model.orders import OrderSpec

D = fixed.parse
TS = 1_700_000_000_123_000_000  # 2023-11-14 22:13:20.123 UTC


def report(exec_id: str, exec_type: ExecType = ExecType.TRADE, status: OrderStatus = OrderStatus.PARTIALLY_FILLED,
           last_qty: str = "4", last_price: str | None = "149.99", account: str = "A1") -> ExecutionReport:
    return ExecutionReport(account, "account-0-1", "c1", exec_id, exec_type, status, OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("10"), None, D("150"), None), D(last_qty), D("10") - D(last_qty), D(last_qty), D(last_price) if last_price else None, D(last_price) if last_price else None, None, TS)


def allocation(alloc_id: str = "blk-1") -> AllocationReport:
    return AllocationReport(alloc_id, "IBM", Side.SELL, D("150.5"), ["C1", "C2"], [D("1.5"), D("2")], TS)


def fields(raw: str) -> list[tuple[str, str]]:
    """A FIX string's ``(tag, value)`` pairs in order (repeating groups repeat their tags)."""
    return [tuple(pair.split("=", 1)) for pair in raw.rstrip("\x01").split("\x01")]  # type: ignore[misc]


def copies(state: DropCopyState) -> list[dict[str, str]]:
    """What the core has for the clearing session, each message as ``{tag: value}`` (the last
    value of a repeated tag) with ``"groups"``: the repeated AllocAccount/AllocQty pairs."""
    out = []
    for raw in state.take_outgoing():
        pairs = fields(raw)
        message = dict(pairs)
        message["groups"] = ";".join(f"{a}:{q}" for (t1, a), (t2, q) in zip(pairs, pairs[1:], strict=False) if (t1, t2) == ("79", "80"))
        out.append(message)
    return out


def feed(state: DropCopyState, messages: list[Message]) -> None:
    for message in messages:
        state.apply(message, TS)
        state.check_invariants()


def test_a_fill_becomes_one_execution_report_with_its_exec_id_and_exact_decimals() -> None:
    state = DropCopyState()
    feed(state, [report("account-0-1-2")])
    (copy,) = copies(state)
    assert (copy["35"], copy["150"], copy["39"]) == ("8", "F", "1")  # ExecutionReport, trade, partially filled
    assert (copy["1"], copy["11"], copy["37"], copy["17"]) == ("A1", "c1", "account-0-1", "account-0-1-2")
    assert (copy["55"], copy["54"], copy["40"], copy["38"]) == ("IBM", "1", "2", "10")
    assert (copy["32"], copy["31"], copy["14"], copy["6"], copy["151"]) == ("4", "149.99", "4", "149.99", "6")
    assert copy["60"] == "20231114-22:13:20.123"
    assert (state.fills, state.last_exec_id, state.allocations) == (1, "account-0-1-2", 0)


@pytest.mark.parametrize(
    ("exec_type", "status"),
    [(ExecType.NEW, OrderStatus.NEW), (ExecType.CANCELED, OrderStatus.CANCELED), (ExecType.REJECTED, OrderStatus.REJECTED),
     (ExecType.REPLACED, OrderStatus.NEW), (ExecType.EXPIRED, OrderStatus.EXPIRED)],
)
def test_a_report_that_is_not_a_fill_is_not_copied(exec_type: ExecType, status: OrderStatus) -> None:
    state = DropCopyState()
    before = state.state_hash()
    feed(state, [report("account-0-1-1", exec_type, status, last_qty="0", last_price=None)])
    assert copies(state) == [] and state.fills == 0 and state.state_hash() == before


def test_an_allocated_block_becomes_one_allocation_instruction_that_adds_up() -> None:
    state = DropCopyState()
    feed(state, [allocation("blk-1")])
    (copy,) = copies(state)
    assert (copy["35"], copy["70"], copy["71"], copy["626"]) == ("J", "blk-1", "0", "1")  # new, calculated
    assert (copy["54"], copy["55"], copy["6"], copy["75"]) == ("2", "IBM", "150.5", "20231114")
    assert (copy["78"], copy["groups"], copy["53"]) == ("2", "C1:1.5;C2:2", "3.5")
    assert (state.allocations, state.fills) == (1, 0)


def test_each_copy_is_handed_over_once_in_the_order_of_the_inputs() -> None:
    state = DropCopyState()
    feed(state, [report("e1"), allocation("blk-1"), report("e2", status=OrderStatus.FILLED, last_qty="6")])
    assert [(copy["35"], copy.get("17") or copy["70"]) for copy in copies(state)] == [("8", "e1"), ("J", "blk-1"), ("8", "e2")]
    assert copies(state) == []  # taken: nothing is handed over twice
    feed(state, [report("e3")])
    assert [copy["17"] for copy in copies(state)] == ["e3"]
    assert (state.fills, state.last_exec_id, state.allocations) == (3, "e3", 1)


def test_replaying_the_same_inputs_rebuilds_the_same_copies_and_state_hash() -> None:
    """What a restart relies on: the copies rebuilt by replay are the ones made before, with
    the same ExecIDs and AllocIDs, so the clearing firm can recognise each resend."""
    inputs: list[Message] = [report("e1"), allocation("blk-1"), report("e2", status=OrderStatus.FILLED, last_qty="6")]
    first, replayed, shorter = DropCopyState(), DropCopyState(), DropCopyState()
    feed(first, inputs)
    feed(replayed, inputs)
    feed(shorter, inputs[:2])
    assert first.take_outgoing() == replayed.take_outgoing()
    assert first.state_hash() == replayed.state_hash() != shorter.state_hash()


def test_a_message_the_drop_copy_does_not_take_is_refused() -> None:
    state = DropCopyState()
    with pytest.raises(TypeError, match="drop-copy does not take QuoteEvent"):
        state.apply(QuoteEvent("IBM", None, 0, None, 0, TS), TS)
    assert copies(state) == []


def test_a_snapshot_restores_the_counts_and_the_copies_not_yet_handed_over() -> None:
    state = DropCopyState()
    feed(state, [report("e1"), allocation("blk-1")])
    encoded = msgspec.msgpack.encode(state.snapshot())
    restored = DropCopyState.restore(msgspec.msgpack.decode(encoded, type=DropCopyState.snapshot_type))
    assert restored.state_hash() == state.state_hash() and restored.take_outgoing() == state.take_outgoing()
