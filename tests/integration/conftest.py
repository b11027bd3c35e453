"""One Ray cluster per test session; one brokerd topology per test module."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import ray

from actors.runtime.options import RAY_INIT_DEFAULTS
from server.app import BrokerServer
from tests.conftest import EMBEDDED_RAY, make_setup


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    ray.init(num_cpus=os.cpu_count(), namespace="brokerd-tests", **{**RAY_INIT_DEFAULTS, "log_to_driver": False}, **EMBEDDED_RAY)
    yield
    ray.shutdown()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(ray_cluster: None) -> AsyncIterator[BrokerServer]:
    setup = make_setup(f"t-{uuid.uuid4().hex[:8]}", quote_interval_ms=25)
    broker = BrokerServer(setup, "127.0.0.1", 0)
    await broker.start()
    yield broker
    await broker.stop()
