"""API keys (``keystore/apikeys.py``): what a key may be given, and the sealed store of keys on
a real file under a real master key."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from keystore.apikeys import (
    DAY_MS,
    KeyRefused,
    KeyStore,
    address_allowed,
    parse_allow,
    parse_expiry,
    parse_label,
    parse_scopes,
)
from keystore.masterkey import read_key_file
from keystore.store import SecretStore, StoreError
from model.config import User
from tests.unit.keystore.support import secrets_in

NOW_MS = 1_800_000_000_000
TRADER = User(key="trader1", secret="trader1-secret", role="trader", accounts=["A1"])


def key_store(folder: Path) -> KeyStore:
    section = secrets_in(folder)
    return KeyStore(SecretStore(folder / "api-keys.json", read_key_file(Path(section.master_key_file)), "api-keys"))


def test_scopes_are_those_the_role_can_use_in_the_table_s_order() -> None:
    assert parse_scopes("trade, read", "trader") == ("read", "trade")
    assert parse_scopes("read,transfer", "cashier") == ("read", "transfer")
    with pytest.raises(KeyRefused, match="role viewer has no permission of scope trade; its keys may hold: read"):
        parse_scopes("read,trade", "viewer")
    assert parse_scopes("transfer,read", "trader") == ("read", "transfer")  # a trader asks to move its own cash
    with pytest.raises(KeyRefused, match="role viewer has no permission of scope admin, transfer|role viewer has no permission of scope transfer, admin"):
        parse_scopes("admin,transfer", "viewer")
    with pytest.raises(KeyRefused, match="unknown scope root"):
        parse_scopes("read,root", "trader")
    with pytest.raises(KeyRefused, match="needs --scopes"):
        parse_scopes(None, "trader")


def test_an_allow_list_is_normalised_networks_and_an_address_outside_it_is_not_allowed() -> None:
    allow = parse_allow("10.0.0.0/8, 192.0.2.7,2001:db8::/32")
    assert allow == ("10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32")
    assert address_allowed(allow, "10.1.2.3") and address_allowed(allow, "192.0.2.7") and address_allowed(allow, "2001:db8::1")
    assert address_allowed(allow, "::ffff:10.9.9.9")  # IPv4 seen through IPv6
    assert not address_allowed(allow, "192.0.2.8") and not address_allowed(allow, "127.0.0.1") and not address_allowed(allow, "")
    assert address_allowed((), "203.0.113.5")  # none: any address
    with pytest.raises(KeyRefused, match="'10.0.0.300' is not an address or a network"):
        parse_allow("10.0.0.300")


def test_an_expiry_is_relative_or_iso_and_never_past_nor_beyond_the_maximum() -> None:
    assert parse_expiry(None, NOW_MS, 90, 365) == NOW_MS + 90 * DAY_MS
    assert parse_expiry("+30d", NOW_MS, 90, 365) == NOW_MS + 30 * DAY_MS
    assert parse_expiry("+12h", NOW_MS, 90, 365) == NOW_MS + 12 * 3_600_000
    assert parse_expiry("2027-03-01T00:00:00Z", NOW_MS, 90, 365) == 1_803_859_200_000
    assert parse_expiry("2027-03-01T00:00:00", NOW_MS, 90, 365) == 1_803_859_200_000  # no zone: UTC
    for bad, problem in (("2020-01-01", "not in the future"), ("+400d", "at most 365 days"), ("soon", "neither"), ("+0d", "not in the future")):
        with pytest.raises(KeyRefused, match=problem):
            parse_expiry(bad, NOW_MS, 90, 365)
    with pytest.raises(KeyRefused, match="printable"):
        parse_label("a\nb")


def test_a_key_is_created_listed_rotated_and_revoked_and_its_secret_is_never_in_the_file(tmp_path: Path) -> None:
    store = key_store(tmp_path)
    key = store.create(TRADER, ("read",), ("10.0.0.0/8",), NOW_MS + DAY_MS, "dashboard")
    assert key.key_id.startswith("k") and len(key.secret) >= 43 and key.secret not in repr(key)
    text = (tmp_path / "api-keys.json").read_text()
    assert key.secret not in text and "trader1" not in text and "dashboard" not in text  # metadata sealed too
    assert store.load() == {key.key_id: key}
    assert "secret" not in key.public() and key.public()["scopes"] == ["read"]
    rotated = store.rotate(key.key_id)
    assert rotated.secret != key.secret and rotated.created == key.created and store.get(key.key_id) == rotated
    revoked = store.revoke(key.key_id)
    assert revoked.secret == "" and revoked.revoked and store.get(key.key_id).revoked == revoked.revoked
    with pytest.raises(KeyRefused, match=f"key {key.key_id} was revoked at"):
        store.rotate(key.key_id)
    with pytest.raises(KeyRefused, match="unknown key knope"):
        store.revoke("knope")


def test_a_key_edited_or_swapped_outside_brokerd_does_not_load(tmp_path: Path) -> None:
    store = key_store(tmp_path)
    first = store.create(TRADER, ("read",), (), NOW_MS + DAY_MS, "")
    second = store.create(TRADER, ("read", "trade"), (), NOW_MS + DAY_MS, "")
    path = tmp_path / "api-keys.json"
    original = path.read_bytes()
    data = json.loads(original)
    entries = data["entries"]
    entries[first.key_id]["sealed"], entries[second.key_id]["sealed"] = entries[second.key_id]["sealed"], entries[first.key_id]["sealed"]
    path.write_text(json.dumps(data))  # the read-only key given the trading key's box
    with pytest.raises(StoreError, match="does not authenticate"):
        store.load()
    path.write_bytes(original)
    assert msgspec.json.decode(path.read_bytes())["entries"].keys() == {first.key_id, second.key_id}
    assert store.load()[second.key_id].scopes == ("read", "trade")
