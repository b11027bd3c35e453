"""An InstrumentActor's window of batches to an account shard: written in seq order, at most
``size`` unacked at once, each once per link, every one eventually."""

from __future__ import annotations

import collections

import pytest

from actors.instrument.window import SendWindow


def queue(first: int, last: int) -> collections.deque[tuple[int, bytes]]:
    return collections.deque((seq, f"b{seq}".encode()) for seq in range(first, last + 1))


def test_at_most_size_batches_are_written_and_not_acked_and_acks_make_room_in_order() -> None:
    window = SendWindow(3)
    unacked = queue(1, 7)
    assert window.due("account-0", unacked) == [b"b1", b"b2", b"b3"]
    assert window.due("account-0", unacked) == []  # nothing acked: nothing more, nothing twice
    for _ in range(2):  # the shard acks up to 2
        unacked.popleft()
    assert window.due("account-0", unacked) == [b"b4", b"b5"]
    unacked.extend(queue(8, 9))  # a later record's batches
    while unacked and unacked[0][0] <= 5:
        unacked.popleft()
    assert window.due("account-0", unacked) == [b"b6", b"b7", b"b8"]
    unacked.clear()
    assert window.due("account-0", unacked) == []


def test_a_reopened_link_gets_every_unacked_batch_again_within_the_window() -> None:
    window = SendWindow(2)
    unacked = queue(4, 8)
    assert window.due("account-1", unacked) == [b"b4", b"b5"]
    window.reopened("account-1")
    assert window.due("account-1", unacked) == [b"b4", b"b5"]
    assert window.due("account-0", queue(1, 1)) == [b"b1"]  # each destination its own window


def test_every_batch_is_written_once_in_order_whatever_the_acks() -> None:
    window = SendWindow(4)
    unacked = queue(1, 50)
    written: list[bytes] = []
    step = 0
    while unacked:
        written.extend(window.due("account-0", unacked))
        step += 1
        for _ in range(min(len(unacked), step % 3)):  # acks of 0, 1 or 2 batches at a time
            unacked.popleft()
    assert written == [f"b{seq}".encode() for seq in range(1, 51)]


def test_a_window_holds_at_least_one_batch() -> None:
    with pytest.raises(ValueError):
        SendWindow(0)
