"""One Ray cluster per test session, which server processes may join; one brokerd topology per test module."""

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


@pytest.fixture(scope="session")
def ray_address(ray_cluster: None) -> str:
    """The session's Ray cluster, for ``run_server.py --address``: a server process that
    joins it starts without booting Ray's daemons of its own (about 3 of its 10 seconds on
    two cores), each in a namespace of its own (``tests/integration/recovery.py``)."""
    return str(ray.get_runtime_context().gcs_address)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(ray_cluster: None) -> AsyncIterator[BrokerServer]:
    setup = make_setup(f"t-{uuid.uuid4().hex[:8]}", quote_interval_ms=25)
    broker = BrokerServer(setup, "127.0.0.1", 0)
    await broker.start()
    yield broker
    await broker.stop()
