from __future__ import annotations

from model.messages import Batch, JournalEntry, RequestJournal, Reply, Transfer, TransferEvent, decode_batch, encode_batch, transfers
from model.transfers import TransferKind, TransferStatus
from tests.unit.model.messages.support import union_lists_the_module_in_tag_order


def test_the_union_a_batch_takes_lists_every_transfer_message_in_tag_order() -> None:
    assert union_lists_the_module_in_tag_order(transfers.TransferMessage, transfers)


def test_transfer_messages_travel_in_a_batch_unchanged() -> None:
    record = Transfer("account-0-t1", TransferKind.WITHDRAWAL, "A1", 10**9, TransferStatus.PENDING, 5, 5, "k1", "trader1", held=10**9)
    journal = RequestJournal("k2", [JournalEntry("A1", "A2", 10**7)], "trader1", False, 2, Reply("gateway-0", 3, b"7"))
    batch = Batch("account-0", 1, 9, [TransferEvent(record), journal])
    assert decode_batch(encode_batch(batch)) == batch
