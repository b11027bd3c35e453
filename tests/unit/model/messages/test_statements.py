from __future__ import annotations

from datetime import date

from model.messages import Batch, QueryStatement, Reply, StatementReply, decode_batch, encode_batch, statements
from model.statements import Balances, CashEntry, GainEntry, Statement, TradeEntry
from tests.unit.model.messages.support import union_lists_the_module_in_tag_order


def test_the_union_a_batch_takes_lists_every_statement_message_in_tag_order() -> None:
    assert union_lists_the_module_in_tag_order(statements.StatementMessage, statements)


def test_statement_messages_travel_in_a_batch_unchanged() -> None:
    reply = Reply("gateway-0", 3, b"7")
    statement = Statement(
        "A1", "trader1", "default", date(2026, 3, 2), date(2026, 3, 6), "America/New_York",
        Balances(10**12, {"IBM": 10**10}), Balances(10**12 - 5, {}),
        [TradeEntry(1, "account-0-1", "IBM", "sell", 10**10, 15 * 10**10, 10**12)],
        [CashEntry(2, "account-0-t1", "withdrawal", -5, "")], [],
        [GainEntry(1, "IBM", 10**10, 0, 1, 10**12, 9 * 10**11, 0, 10**11, True, "account-0-1")],
    )
    batch = Batch("account-0", 1, 9, [QueryStatement("A1", reply, 739_000, 739_004, 10_000), StatementReply(reply, statement)])
    assert decode_batch(encode_batch(batch)) == batch
