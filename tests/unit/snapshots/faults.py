"""Build actor journals with ``Journal`` and damage them in place with raw LMDB, as a bad
disk or a careless hand would. Shared by the journal, verify and admin CLI tests."""

from __future__ import annotations

import struct
from pathlib import Path

import lmdb

from snapshots.journal import Journal

KEY = struct.Struct(">Q")


def build(path: Path, name: str, groups: list[list[bytes]], snapshots: tuple[int, ...] = ()) -> None:
    """A closed journal with ``groups`` appended and a snapshot ``state@seq`` after each
    group that reaches one of ``snapshots``."""
    journal = Journal(path, name, durability="buffered")
    for group in groups:
        last = journal.append(group)
        for seq in snapshots:
            if last - len(group) < seq <= last:
                journal.write_snapshot(seq, f"state@{seq}".encode())
    journal.sync()
    journal.close()


def build_data_dir(data_dir: Path, actors: tuple[str, ...] = ("account-0", "instrument-0", "supervisor")) -> None:
    """A data dir whose every actor has a good journal 1..5 and snapshots at 2 and 4."""
    for name in actors:
        build(data_dir / name, name, [[b"a", b"b"], [b"c", b"d"], [b"e"]], snapshots=(2, 4))


def _raw(path: Path) -> lmdb.Environment:
    return lmdb.open(str(path), max_dbs=4, create=False)


def put_raw(path: Path, db: bytes, seq: int, value: bytes) -> None:
    """Store ``value`` as the record at ``seq``, bypassing the journal's checksum."""
    env = _raw(path)
    table = env.open_db(db)
    with env.begin(write=True) as txn:
        txn.put(KEY.pack(seq), value, db=table)
    env.close()


def get_raw(path: Path, db: bytes, seq: int) -> bytes | None:
    env = _raw(path)
    table = env.open_db(db)
    with env.begin() as txn:
        value = txn.get(KEY.pack(seq), db=table)
    env.close()
    return None if value is None else bytes(value)


def corrupt(path: Path, db: bytes, seq: int) -> None:
    """Flip the last payload byte of one stored record: its checksum no longer holds."""
    record = get_raw(path, db, seq)
    assert record is not None, f"no record {seq} in {db!r}"
    put_raw(path, db, seq, record[:-1] + bytes([record[-1] ^ 0xFF]))


def delete_raw(path: Path, db: bytes, *seqs: int) -> None:
    env = _raw(path)
    table = env.open_db(db)
    with env.begin(write=True) as txn:
        for seq in seqs:
            txn.delete(KEY.pack(seq), db=table)
    env.close()
