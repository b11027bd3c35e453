"""The supervisor's large creation data in the cluster's key-value store: what was put comes
back exactly; a missing or altered value is refused, never returned."""

from __future__ import annotations

import zlib

import pytest
from ray.experimental import internal_kv

from actors.runtime import stash


def test_a_value_comes_back_exactly_and_is_gone_once_dropped(ray_cluster: None) -> None:
    value = b"account,owner\n" * 50_000  # far over Ray's inline limit
    key = stash.put("t-stash", "accounts", value)
    assert key == stash.key_of("t-stash", "accounts", value) and key.startswith("t-stash/accounts/")
    assert stash.get(key) == value
    stash.drop(key)
    with pytest.raises(LookupError, match="nothing stored"):
        stash.get(key)


def test_a_value_altered_in_the_store_is_refused(ray_cluster: None) -> None:
    key = stash.put("t-stash", "accounts", b"the file as read")
    internal_kv._internal_kv_put(key, zlib.compress(b"another file"), overwrite=True, namespace=stash.KV_NAMESPACE)
    try:
        with pytest.raises(LookupError, match="not what was put"):
            stash.get(key)
    finally:
        stash.drop(key)
