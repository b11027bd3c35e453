"""The actors' large creation data in the cluster's key-value store: what was put comes back
exactly; a missing or altered value is refused, never returned; a server's values are there
while it runs and gone once it stopped."""

from __future__ import annotations

import uuid
import zlib

import pytest
from ray.experimental import internal_kv

from actors.runtime import stash
from model.enums import AssetClass
from model.instruments import Instrument
from server.app import BrokerServer
from tests.conftest import make_setup


def test_a_value_comes_back_exactly_and_is_gone_once_dropped(ray_cluster: None) -> None:
    value = b"account,owner\n" * 50_000  # far over Ray's inline limit
    key = stash.put("t-stash", "accounts", value)
    assert key == stash.key_of("t-stash", "accounts", value) and key.startswith("t-stash/accounts/")
    assert stash.get(key) == value
    stash.drop(key)
    with pytest.raises(LookupError, match="nothing stored"):
        stash.get(key)


def test_a_ref_passed_for_a_list_of_instruments_is_taken_as_the_list(ray_cluster: None) -> None:
    instruments = [Instrument(f"S{n:04d}", AssetClass.EQUITY, 10_000_000, 1_000, 150 * 10**9) for n in range(3_000)]  # over Ray's 100 KB pickled
    ref = stash.ref("t-stash", instruments)
    assert isinstance(ref, stash.Ref) and len(ref.key) < 100
    assert stash.take(ref, list[Instrument]) == instruments
    assert stash.take(instruments, list[Instrument]) is instruments  # a value passed as itself (the unit tests' shells)
    assert stash.drop_all("t-stash") >= 1
    with pytest.raises(LookupError):
        stash.take(ref, list[Instrument])


def test_a_value_altered_in_the_store_is_refused(ray_cluster: None) -> None:
    key = stash.put("t-stash", "accounts", b"the file as read")
    try:
        for altered in (zlib.compress(b"another file"), b"not even compressed"):
            internal_kv._internal_kv_put(key, altered, overwrite=True, namespace=stash.KV_NAMESPACE)
            with pytest.raises(LookupError, match="not what was put"):
                stash.get(key)
    finally:
        stash.drop(key)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_server_s_setup_and_instruments_are_stored_while_it_runs_and_dropped_at_its_stop(ray_cluster: None) -> None:
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    broker = BrokerServer(make_setup(namespace), "127.0.0.1", 0)
    await broker.start()
    try:
        keys = sorted(key.decode() for key in internal_kv._internal_kv_list(f"{namespace}/", namespace=stash.KV_NAMESPACE))
        assert any(key.startswith(f"{namespace}/Setup/") for key in keys), keys  # the supervisor's; the gateway's, without the accounts
        assert any(key.startswith(f"{namespace}/list/") for key in keys), keys  # the instruments of each actor that owns some
    finally:
        await broker.stop()
    assert internal_kv._internal_kv_list(f"{namespace}/", namespace=stash.KV_NAMESPACE) == []
