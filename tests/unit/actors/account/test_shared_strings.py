"""An account shard holds one string per venue, block, reason, account and symbol, not one
per order: live after booking decoded updates, and again after a snapshot's restore."""

from __future__ import annotations

from actors.account.core import AccountState
from actors.runtime.machine import Machine
from actors.runtime.router import Router
from model.config import Config
from model.enums import OrderType, TimeInForce, VenueEventKind
from model.messages import Batch, OrderUpdate, decode_batch, encode_batch
from tests.unit.actors.account.support import NOW, make_state, order, run

def _wire(message: OrderUpdate) -> OrderUpdate:
    """The update as a link delivers it: its strings new objects, made by the decoder."""
    decoded = decode_batch(encode_batch(Batch("instrument-0", 1, NOW, [message]))).messages[0]
    assert isinstance(decoded, OrderUpdate)
    return decoded


def _two_allocated_orders() -> AccountState:
    state = make_state()
    for cloid in ("c1", "c2"):
        run(state, order(cloid, qty="2", price=None, order_type=OrderType.MARKET, tif=TimeInForce.OPG))
    for order_id in list(state.orders):
        trade = OrderUpdate(order_id, "A1", VenueEventKind.TRADE, 10**9, 150 * 10**9, None, "SIM", NOW, cash=150 * 10**9, block="instrument-0-B1")
        run(state, _wire(trade))
        expired = OrderUpdate(order_id, "A1", VenueEventKind.EXPIRED, 0, None, "not_filled_at_open", "SIM", NOW)
        run(state, _wire(expired))
    return state


def _two_partly_filled_orders() -> AccountState:
    """Two open orders of the continuous session (kept hot), each filled in part."""
    state = make_state()
    for cloid in ("c1", "c2"):
        run(state, order(cloid, qty="2", price="150"))
    for order_id in list(state.orders):
        run(state, _wire(OrderUpdate(order_id, "A1", VenueEventKind.TRADE, 10**9, 150 * 10**9, None, "SIM", NOW, block="instrument-0-B1")))
    return state


def test_booked_orders_are_kept_cold_and_hold_no_strings_of_their_own() -> None:
    state = _two_allocated_orders()
    assert state.orders.hot() == 0
    first, second = state.orders.values()
    assert first.block == "instrument-0-B1" and first.reason == "not_filled_at_open" and first.venue == "SIM" and second.venue == "SIM"


def test_booking_keeps_one_string_per_venue_and_block_in_a_hot_order() -> None:
    state = _two_partly_filled_orders()
    assert state.orders.hot() == 2
    first, second = state.orders.values()
    assert first.block == "instrument-0-B1" and first.venue == "SIM"
    assert first.block is second.block
    assert first.venue is second.venue


def test_a_restored_shard_shares_its_strings_as_the_live_one_and_hashes_the_same() -> None:
    config = Config()
    for state in (_two_allocated_orders(), _two_partly_filled_orders()):
        payload = Machine("account-0", state, Router(config), 100).dump()
        restored_machine = Machine("account-0", make_state(), Router(config), 100)
        restored_machine.load(payload)
        restored = restored_machine.core
        assert isinstance(restored, AccountState)
        assert restored.state_hash() == state.state_hash()
        assert restored.orders.hot() == state.orders.hot()
        account = restored.accounts["A1"]
        ids = list(restored.orders)
        for client_order_id, order_id in account.orders.items():
            assert [key for key in ids if key is order_id] == [order_id]  # one string: the map's key, the account's value
        if restored.orders.hot():
            first, second = restored.orders.values()
            assert first.account is account.account and second.account is account.account
            assert first.spec.symbol is restored.instruments["IBM"].symbol
            assert first.block is second.block and first.venue is second.venue
            for client_order_id, order_id in account.orders.items():
                assert order_id is restored.orders[order_id].order_id
        assert list(account.orders) == list(state.accounts["A1"].orders)  # the map's order is kept


def test_an_order_stores_no_copy_of_its_terms_and_a_resend_is_still_recognised() -> None:
    import msgspec

    from actors.account.records import SAME_AS_SPEC
    from model.enums import ExecType
    from model.messages import ReportToAsker

    def reports(sends: list) -> list:  # type: ignore[type-arg]
        """The answers to the asker alone (a resend's, a duplicate's)."""
        return [s.message.report for s in sends if isinstance(s.message, ReportToAsker)]

    state = make_state()
    run(state, order("c1", qty="2"))
    run(state, order("c2", qty="3"))
    first, second = state.orders.values()
    assert first.fingerprint is SAME_AS_SPEC and second.fingerprint is SAME_AS_SPEC
    resend = run(state, order("c1", qty="2"))
    assert [r.exec_type for r in reports(resend)] == [ExecType.NEW] and len(state.orders) == 2
    other_terms = run(state, order("c1", qty="4"))
    assert [r.reason for r in reports(other_terms)] == ["duplicate_client_order_id"] and len(state.orders) == 2
    # a record stored by an earlier version holds its terms encoded: compared as before
    second.fingerprint = msgspec.msgpack.encode(second.spec)
    assert [r.exec_type for r in reports(run(state, order("c2", qty="3")))] == [ExecType.NEW]
    assert [r.reason for r in reports(run(state, order("c2", qty="5")))] == ["duplicate_client_order_id"]
