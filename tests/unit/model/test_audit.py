"""The audit format, pure (``model/audit.py``): frames, chains, replay skipping, anchors due."""

from __future__ import annotations

import hashlib

from model.audit import (
    FRAME_HEADER,
    AuditEvent,
    AuditKind,
    ChainCheck,
    Head,
    Item,
    already_written,
    anchor_due,
    body_of,
    Record,
    chain,
    decode_record,
    empty_head,
    encode_body,
    encode_record,
    frame,
    genesis,
    read_frames,
    record_hash,
    valid_prefix,
)

T = 1_700_000_000_000_000_000


def events(n: int) -> list[AuditEvent]:
    return [AuditEvent(AuditKind.FILL, {"order": f"o{i}", "qty": i, "price": "101.25"}) for i in range(n)]


def test_a_chain_links_each_record_to_the_previous_from_the_writers_genesis() -> None:
    data, head, count = chain(empty_head("account-0"), events(3), T, origin=7)
    assert count == 3 and head.seq == 3 and (head.origin, head.index) == (7, 2)
    records = [decode_record(frame.payload) for frame in read_frames(data) if frame.payload is not None]
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[0].prev == genesis("account-0") == hashlib.sha256(b"brokerd audit genesis\x00account-0").digest()
    payloads = [frame.payload for frame in read_frames(data)]
    assert records[1].prev == record_hash(payloads[0]) and head.hash == record_hash(payloads[2])  # type: ignore[arg-type]
    assert body_of(records[2]) == {"order": "o2", "qty": 2, "price": "101.25"} and records[2].kind == "fill"
    assert genesis("account-0") != genesis("account-1")


def test_the_same_events_give_the_same_bytes_so_a_replay_gives_the_same_hashes() -> None:
    assert chain(empty_head("w"), events(5), T, 3)[0] == chain(empty_head("w"), events(5), T, 3)[0]
    assert chain(empty_head("w"), events(5), T, 3)[0] != chain(empty_head("w"), events(5), T + 1, 3)[0]


def test_a_chain_is_the_records_encoded_framed_and_hashed_one_by_one() -> None:
    """The frames ``chain`` writes are ``frame(encode_record(...))`` of each record in turn,
    its kind the value of the member (or the plain string given), each linked by
    ``record_hash`` of the previous payload."""
    given = [AuditEvent(AuditKind.ORDER_ACCEPTED, {"a": 1}), AuditEvent("login", ["x"]), AuditEvent(AuditKind.FILL, {"q": "1"})]  # type: ignore[arg-type]
    data, head, count = chain(Head("w", 4, b"p" * 32, 9, 0), given, T, origin=10, first_index=1)
    expected, prev = b"", b"p" * 32
    for index, (event, kind) in enumerate(zip(given, ["order_accepted", "login", "fill"], strict=True), 1):
        payload = encode_record(Record("w", 4 + index, T, kind, 10, index, encode_body(event.body), prev))
        expected += frame(payload)
        prev = record_hash(payload)
    assert data == expected and (head.seq, head.hash, head.index, count) == (7, prev, 3, 3)


def test_a_replayed_input_is_recognised_by_its_origin_and_index() -> None:
    head = Head("w", 10, b"x" * 32, origin=42, index=1)
    assert already_written(head, 41, 5) and already_written(head, 42, 1)
    assert not already_written(head, 42, 2) and not already_written(head, 43, 0)
    assert not already_written(head, 0, 0)  # a writer without a journal never skips


def test_frames_stop_at_a_cut_and_flag_a_bad_checksum() -> None:
    data, _, _ = chain(empty_head("w"), events(3), T)
    assert valid_prefix(data)[:2] == (len(data), 3)
    cut = data[:-5]
    found = list(read_frames(cut))
    assert [f.payload is not None for f in found] == [True, True, False]
    assert valid_prefix(cut)[1] == 2
    flipped = bytearray(data)
    flipped[FRAME_HEADER.size + 3] ^= 0x01
    assert [f.payload is not None for f in read_frames(bytes(flipped))] == [False, True, True]


def test_a_zero_filled_block_is_damage_where_reading_stops_not_empty_frames() -> None:
    data, _, _ = chain(empty_head("w"), events(2), T)
    zeros = data + bytes(4096)  # a power cut: the new size kept, the blocks never written
    found = list(read_frames(zeros))
    assert [(f.payload is not None, f.end) for f in found] == [(True, found[0].end), (True, len(data)), (False, len(zeros))]
    assert valid_prefix(zeros)[:2] == (len(data), 2)
    assert [(f.offset, f.payload) for f in read_frames(bytes(16))] == [(0, None)]


def test_a_whole_chain_checks_and_counts() -> None:
    data, head, _ = chain(empty_head("w"), events(4), T)
    check = ChainCheck("w", empty_head("w"))
    for frame in read_frames(data):
        check.feed(Item(frame.payload, str(frame.offset)))
    assert check.finish() == [] and check.records == 4 and check.head == Head("w", 4, head.hash, 0, 3)


def test_an_anchor_is_due_at_first_then_by_interval_or_never_with_0() -> None:
    assert anchor_due(None, T, 300)
    assert not anchor_due(T, T + 299 * 10**9, 300) and anchor_due(T, T + 300 * 10**9, 300)
    assert not anchor_due(T, T + 10**15, 0)
