"""Shared test set-up: the demo configuration with test-only users and accounts."""

from __future__ import annotations

import tempfile
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, settings

from actors.runtime.options import embedded_ray
from model import fixed
from model.config import AccountSeed, Setup, User, load_setup

# Property tests judge results, not speed: on a loaded 2-core machine an example can take
# longer than hypothesis' default 200 ms deadline, which failed the run without a wrong answer.
settings.register_profile("brokerd", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("brokerd")

# The tests' Ray cluster listens on loopback only, like the server's by default. Set here,
# in the first conftest, because Ray reads it when it is first imported.
EMBEDDED_RAY = embedded_ray("127.0.0.1")

ROOT = Path(__file__).resolve().parent.parent
TEST_ACCOUNTS = [f"T{index:02d}" for index in range(1, 41)]
# Where make_setup puts a data dir it is not given: pytest's temporary root during a test run
# (kept for the last few runs, then pruned by pytest), the system's temporary folder otherwise.
DATA_ROOT: list[Path] = []


def demo_setup() -> Setup:
    return load_setup(ROOT / "conf" / "server.toml")


def make_setup(namespace: str, data_dir: str | Path | None = None, **sim: object) -> Setup:
    """The demo setup plus a ``tester`` owning accounts T01..T40 with 1,000,000.00 each,
    listening on a free port in its own Ray namespace, journaling under ``data_dir`` (a new
    temporary directory when not given)."""
    setup = demo_setup()
    config = setup.config
    if data_dir is None:
        data_dir = tempfile.mkdtemp(prefix=f"brokerd-{namespace}-", dir=DATA_ROOT[0] if DATA_ROOT else None)
    config = msgspec.structs.replace(
        config,
        server=msgspec.structs.replace(config.server, ws_port=0, data_dir=str(Path(data_dir).resolve())),
        topology=msgspec.structs.replace(config.topology, namespace=namespace),
        sim=msgspec.structs.replace(config.sim, **sim),  # type: ignore[arg-type]
    )
    tester = User(key="tester", secret="tester-secret", role="trader", accounts=TEST_ACCOUNTS)
    accounts = [AccountSeed(account, "tester", 1_000_000 * fixed.SCALE) for account in TEST_ACCOUNTS]
    return msgspec.structs.replace(setup, config=config, users=[*setup.users, tester], accounts=[*setup.accounts, *accounts])


@pytest.fixture(scope="session", autouse=True)
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's data dirs under pytest's temporary root, not a thousand folders left in /tmp."""
    DATA_ROOT[:] = [tmp_path_factory.mktemp("data")]
    return DATA_ROOT[0]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
