"""The sealed store file (``keystore/store.py``): the vault's round trip, no plaintext in the
file, and every kind of tampering found, named, and nothing decrypted."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from keystore.masterkey import MasterKey
from keystore.store import MissingSecret, SecretStore, StoreError

PASSWORD = b"s3cret-venue-password"


def store_at(tmp_path: Path, purpose: str = "vault", key: MasterKey | None = None) -> SecretStore:
    return SecretStore(tmp_path / "vault.json", key or MasterKey(b"k" * 32), purpose)


def test_the_round_trip_and_the_file_holds_no_plaintext_secret(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    added = store.add("MM1", PASSWORD)
    store.add("CLEARING", b"other")
    assert store.get("MM1") == PASSWORD and store.get_text("CLEARING") == "other"
    assert [info.name for info in store.list()] == ["CLEARING", "MM1"]
    assert added.created == added.rotated
    raw = store.path.read_bytes()
    assert PASSWORD not in raw and b"other" not in raw and b"czNjcmV0" not in raw  # nor its base64
    assert store.path.stat().st_mode & 0o777 == 0o600
    assert json.loads(raw)["version"] == 1
    # a fresh store object (another process) reads the same
    assert store_at(tmp_path).get("MM1") == PASSWORD


def test_rotate_keeps_created_and_remove_forgets(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    first = store.add("MM1", b"one")
    rotated = store.rotate("MM1", b"two")
    assert (rotated.created, store.get("MM1")) == (first.created, b"two")
    with pytest.raises(StoreError, match="exists; rotate it"):
        store.add("MM1", b"three")
    with pytest.raises(MissingSecret, match="add it first"):
        store.rotate("MM2", b"x")
    store.remove("MM1")
    with pytest.raises(MissingSecret):
        store.get("MM1")
    with pytest.raises(StoreError, match="not a secret name"):
        store.add("../etc", b"x")
    with pytest.raises(StoreError, match="empty"):
        store.add("MM3", b"")


def edit(store: SecretStore, change) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(store.path.read_text())
    change(data)
    store.path.write_text(json.dumps(data))


def flip(text: str) -> str:
    import base64

    raw = bytearray(base64.b64decode(text))
    raw[-1] ^= 1
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["entries"]["MM1"].update(sealed=flip(d["entries"]["MM1"]["sealed"])), "entry 'MM1' does not authenticate"),
        (lambda d: d["entries"]["MM1"].update(rotated="2030-01-01T00:00:00Z"), "entry 'MM1' does not authenticate"),
        # an entry's box under another name: bound to its name
        (lambda d: d["entries"]["MM1"].update(sealed=d["entries"]["MM2"]["sealed"]), "entry 'MM1' does not authenticate"),
        (lambda d: d["entries"].pop("MM2"), "entry 'MM2' was removed outside brokerd"),
        (lambda d: d.update(index=flip(d["index"])), "the index does not authenticate"),
        (lambda d: d.update(key_id="0" * 16), "sealed under another master key"),
        (lambda d: d.update(version=2), "format version 2"),
        (lambda d: d.update(purpose="api-keys"), "not a 'brokerd-sealed-store' file for 'vault'"),
        (lambda d: d.update(extra=1), "not a brokerd sealed store"),
    ],
)
def test_a_tampered_file_names_the_fault_and_decrypts_nothing(tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    store = store_at(tmp_path)
    store.add("MM1", PASSWORD)
    store.add("MM2", b"second")
    edit(store, change)
    for read in (store.list, lambda: store.get("MM2"), lambda: store.get("MM1"), lambda: store.rotate("MM2", b"x")):
        with pytest.raises(StoreError, match=message) as refused:
            read()
        assert PASSWORD.decode() not in str(refused.value)


def test_an_older_copy_of_an_entry_is_found(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.add("MM1", b"old")
    old = json.loads(store.path.read_text())["entries"]["MM1"]
    store.rotate("MM1", b"new")
    edit(store, lambda d: d["entries"].update(MM1=old))
    with pytest.raises(StoreError, match="entry 'MM1' was replaced outside brokerd"):
        store.get("MM1")


def test_a_wrong_master_key_is_told_apart_and_purposes_do_not_mix(tmp_path: Path) -> None:
    store_at(tmp_path).add("MM1", PASSWORD)
    with pytest.raises(StoreError, match="sealed under another master key"):
        store_at(tmp_path, key=MasterKey(b"x" * 32)).get("MM1")
    with pytest.raises(StoreError, match="for 'vault', not"):
        store_at(tmp_path, purpose="api-keys").list()


def test_not_a_json_file_and_a_missing_file(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    with pytest.raises(StoreError, match="no vault file"):
        store.list()
    store.path.write_text("garbage")
    with pytest.raises(StoreError, match="not a brokerd sealed store"):
        store.get("MM1")


def test_a_write_is_atomic_and_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    key = MasterKey(os.urandom(32))
    threads = [threading.Thread(target=lambda n=n: store_at(tmp_path, key=key).add(f"E{n}", b"v")) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [info.name for info in store_at(tmp_path, key=key).list()] == [f"E{n}" for n in range(8)]
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith(".tmp")] == []
