"""Property: whatever mix of orders, continuous fills, allocations from blocks, deposits,
withdrawals and cash journals a shard books, over any spacing in time, each account's books
hold together — its open lots sum to its positions, cost is conserved, and realized +
unrealized = market value − net cash invested, with the net cash invested counted by this
test from the cash the account holds and the cash it moved (not from the books)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.account.core import AccountState
from model import fixed, lots
from model.config import AccountSeed
from model.enums import OrderType, Side, TimeInForce, VenueEventKind
from model.messages import DecideTransfer, JournalEntry, NewOrder, OrderUpdate, RequestJournal, RequestTransfer, RouteOrder
from model.orders import OrderSpec
from model.transfers import Decision, TransferKind, TransferStatus
from tests.unit.actors.account.support import IBM, LIMITS, NOW, REPLY, XYZ

DAY = 86_400 * 10**9
ACCOUNTS = ("A1", "A2")
OPENING = {"A1": 1_000_000 * fixed.SCALE, "A2": 200_000 * fixed.SCALE}

order_step = st.tuples(st.just("order"), st.sampled_from(ACCOUNTS), st.sampled_from(["IBM", "XYZ"]), st.sampled_from(Side), st.integers(1, 30), st.booleans())
fill_step = st.tuples(st.just("fill"), st.integers(0, 60), st.integers(1, 30), st.integers(90, 210), st.booleans())
deposit_step = st.tuples(st.just("deposit"), st.sampled_from(ACCOUNTS), st.integers(1, 5_000), st.sampled_from([Decision.SETTLE, Decision.REJECT]))
withdraw_step = st.tuples(st.just("withdraw"), st.sampled_from(ACCOUNTS), st.integers(1, 5_000), st.sampled_from(list(Decision)))
journal_step = st.tuples(st.just("journal"), st.sampled_from(ACCOUNTS), st.integers(1, 5_000))
time_step = st.tuples(st.just("time"), st.integers(0, 400))
# orders and fills come most often: sales then meet lots to close, and purchases losses to wash
steps = st.lists(st.one_of(order_step, order_step, fill_step, fill_step, fill_step, deposit_step, withdraw_step, journal_step, time_step), min_size=30, max_size=80)


@settings(max_examples=200, deadline=None)
@given(steps=steps, mark=st.integers(80, 220))
def test_any_books_hold_together(steps: list[tuple], mark: int) -> None:  # type: ignore[type-arg]
    state = AccountState("account-0", [IBM, XYZ], LIMITS)
    for name in ACCOUNTS:
        state.open_account(AccountSeed(name, "owner", OPENING[name], allow_short=name == "A1"))
    moved = dict.fromkeys(ACCOUNTS, 0)  # cash in (+) and out (−) by deposits, withdrawals and journals, as settled
    routed: list[str] = []
    now, counter = NOW, 0
    for step in steps:
        kind = step[0]
        counter += 1
        if kind == "order":
            _, account, symbol, side, units, opg = step
            qty = units * (fixed.SCALE // 10 if symbol == "IBM" else fixed.SCALE)
            spec = OrderSpec(symbol, side, OrderType.MARKET, TimeInForce.OPG if opg else TimeInForce.DAY, qty, None, None, None)
            state.apply(NewOrder(account, f"c{counter}", spec, REPLY), now)
        elif kind == "fill" and routed:
            _, pick, units, price, from_block = step
            order = state.orders.get(routed[pick % len(routed)])
            if order is None or not order.status.is_open:
                continue
            unit = fixed.SCALE // 10 if order.spec.symbol == "IBM" else fixed.SCALE
            qty = min(units * unit, (order.spec.qty or 0) - order.cum_qty)
            if qty <= 0:
                continue
            px = price * fixed.SCALE
            done = order.cum_qty + qty == order.spec.qty
            update = OrderUpdate(order.order_id, order.account, VenueEventKind.TRADE, qty, px, None, "SIM", now, done)
            if from_block:  # an allocation: the block gives it whole cents
                update = OrderUpdate(order.order_id, order.account, VenueEventKind.TRADE, qty, px, None, "SIM", now, done, block="B1", cash=_cents(qty * px, order.spec.side))
            state.apply(update, now)
        elif kind in ("deposit", "withdraw"):
            _, account, dollars, decision = step
            amount = dollars * fixed.SCALE
            transfer_kind = TransferKind.DEPOSIT if kind == "deposit" else TransferKind.WITHDRAWAL
            state.apply(RequestTransfer(account, transfer_kind, amount, f"k{counter}", "alice", REPLY), now)
            record = state.transfers.get(state.transfer_keys.get(account, {}).get(f"k{counter}", ""))
            if record is not None and record.status is TransferStatus.PENDING:
                if decision is Decision.CANCEL and kind == "deposit":
                    decision = Decision.REJECT
                state.apply(DecideTransfer(record.transfer_id, decision, None, "cashier"), now)
                if state.transfers[record.transfer_id].status is TransferStatus.SETTLED:
                    moved[account] += amount if kind == "deposit" else -amount
        elif kind == "journal":
            _, source, dollars = step
            target = "A2" if source == "A1" else "A1"
            before = {name: state.accounts[name].cash for name in ACCOUNTS}
            state.apply(RequestJournal(f"j{counter}", [JournalEntry(source, target, dollars * fixed.SCALE)], "alice", False, 1, REPLY), now)
            for name in ACCOUNTS:  # a journal books at once, or not at all
                moved[name] += state.accounts[name].cash - before[name]
        elif kind == "time":
            now += step[1] * 3 * 3600 * 10**9  # up to 50 days: wash windows open and close, lots turn long term
        for send in state.out.drain():
            if isinstance(send.message, RouteOrder):
                routed.append(send.message.order_id)
        state.check_invariants()  # includes each account's books: lots = positions, cost conserved
    for name in ACCOUNTS:
        account = state.accounts[name]
        books = account.books
        net_invested = OPENING[name] + moved[name] - account.cash
        realized = sum(c.gain for c in lots.closing_rows(books, lots.closings_array(books))) if books is not None else 0
        value = unrealized = 0
        for symbol, position in account.positions.items():
            held_qty, held_cost = lots.held(books, symbol) if books is not None else (0, 0)
            assert held_qty == position.qty
            worth = position.qty * mark  # qty (10^-9) × a whole-dollar mark: the value at 10^-9
            value += worth
            unrealized += worth - held_cost
        assert realized + unrealized == value - net_invested, (name, realized, unrealized, value, net_invested)


def _cents(value: int, side: Side) -> int:
    """What a block allocates for ``value`` (10^-18): whole cents, up for a buy, down for a sell."""
    return fixed.ceil_cent(value) if side is Side.BUY else fixed.floor_cent(value)
