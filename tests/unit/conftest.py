"""The unit tests run without Ray: a test that starts one (an API that connects on first use,
such as ``ray.get_runtime_context()``, called outside an actor) fails here, where it is
found, rather than breaking the integration tests' own ``ray.init`` later in the run."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_ray_started() -> Iterator[None]:
    yield
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
        pytest.fail("this unit test started Ray in the test process")
