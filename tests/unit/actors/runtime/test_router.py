"""Actor names and where a core's outputs go."""

from __future__ import annotations

import pytest

from actors.runtime.outputs import ACCOUNT, ALL, GATEWAY, INSTRUMENT
from actors.runtime.router import Router
from model.config import Config, TopologySection

CONFIG = Config(topology=TopologySection(account_shards=3, instrument_actors=2))
ROUTER = Router(CONFIG)


def test_router_places_accounts_and_symbols_stably_and_fans_out_all() -> None:
    router = Router(CONFIG)
    assert router.resolve(ACCOUNT, "A1") == router.resolve(ACCOUNT, "A1")
    assert router.resolve(ACCOUNT, ALL) == ["account-0", "account-1", "account-2"]
    assert router.resolve(INSTRUMENT, ALL) == ["instrument-0", "instrument-1"]
    assert router.resolve(GATEWAY, ALL) == ["gateway-0"]
    with pytest.raises(ValueError):
        router.resolve("nowhere", "x")



def test_only_names_of_the_topology_may_send() -> None:
    assert all(ROUTER.is_sender(name) for name in ("account-0", "instrument-1", "venue-SIM", "gateway-0~12", "supervisor"))
    for name in ("account-3", "gateway-0", "gateway-0~", "gateway-0~x", "gateway-0~\u0663", "account-0~1", "", "drop-copy"):
        assert not ROUTER.is_sender(name), name
