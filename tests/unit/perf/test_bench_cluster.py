"""The scale-out benchmark's config dir (``tests/perf/bench_cluster.py``): a benchmark's
setup, placed on the cluster, written as files that ``run_server.py --config`` loads back
exactly — or refused; the ``--failover`` / ``--lose-node`` setups of the benchmarks."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import msgspec
import pytest

from actors.runtime.placement import shared_paths
from model import fixed
from model.config import AccountSeed, load_setup
from tests.perf import bench_open, bench_order_entry
from tests.perf.bench_cluster import CLUSTER, CLUSTER_RULES, Deployment, deployments, toml_value, write_setup


@pytest.fixture(autouse=True)
def temporary_dirs_under_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The benchmarks' setups make their data dirs with ``tempfile.mkdtemp``: here, not in /tmp."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def cluster_placed(setup):  # type: ignore[no-untyped-def]
    return next(d for d in deployments() if d.label == CLUSTER).placed(setup)


def test_the_order_entry_setup_placed_on_three_nodes_loads_back_as_it_was(tmp_path: Path) -> None:
    setup = cluster_placed(bench_order_entry.bench_setup("unit", shards=2))
    path = write_setup(setup, tmp_path / "conf")
    loaded = load_setup(path)
    assert loaded == setup
    placement = loaded.config.placement
    assert {name: node.data_dir for name, node in placement.nodes.items()} == {name: f"{setup.config.server.data_dir}/node-{name}" for name in ("c", "a", "b")}
    assert [(rule.actors, rule.node) for rule in placement.rules] == [(["supervisor", "gateway", "venue"], "c"), (["account-0", "instrument-0"], "a"), (["account", "instrument-*"], "b")]
    assert loaded.config.batching.link_host == "node"


def test_the_open_setup_with_its_own_instruments_and_short_accounts_loads_back(tmp_path: Path) -> None:
    args = bench_open.options().parse_args(["--orders", "1000", "--accounts", "50", "--symbols", "20"])
    setup = cluster_placed(bench_open.bench_setup(args, tempfile.mkdtemp()))
    assert load_setup(write_setup(setup, tmp_path / "conf")) == setup


def test_positions_with_a_cost_and_a_date_load_back(tmp_path: Path) -> None:
    setup = bench_order_entry.bench_setup("unit")
    seed = AccountSeed("Z1", "bench", 1000 * fixed.SCALE, positions=(("IBM", 10 * fixed.SCALE), ("AAPL", fixed.SCALE // 2)),
                       basis=(("AAPL", 90 * fixed.SCALE, 738_946),))
    setup = msgspec.structs.replace(setup, accounts=[*setup.accounts, seed])
    loaded = load_setup(write_setup(setup, tmp_path / "conf"))
    assert next(a for a in loaded.accounts if a.account == "Z1") == seed


def test_a_setup_that_does_not_survive_the_trip_is_refused_naming_what_differs(tmp_path: Path) -> None:
    setup = bench_order_entry.bench_setup("unit")
    padded = msgspec.structs.replace(setup.instruments[0], sector=" tech ")  # the loader strips a sector
    setup = msgspec.structs.replace(setup, instruments=[padded, *setup.instruments[1:]])
    with pytest.raises(ValueError, match="instruments differ"):
        write_setup(setup, tmp_path / "conf")


def test_a_value_toml_cannot_hold_is_refused() -> None:
    assert toml_value(["a", 1, True, 0.5]) == '["a", 1, true, 0.5]'
    with pytest.raises(TypeError):
        toml_value(argparse.Namespace())


def test_the_lost_node_setup_ships_journals_and_sends_node_a_to_b_and_loads_back(tmp_path: Path) -> None:
    deployment = Deployment(CLUSTER, ["c", "a", "b"], CLUSTER_RULES, failover=True)
    setup = deployment.placed(bench_order_entry.bench_setup("unit"))
    loaded = load_setup(write_setup(setup, tmp_path / "conf"))
    assert loaded == setup
    placement = loaded.config.placement
    assert placement.failover and placement.shared_dir == f"{setup.config.server.data_dir}/shared"
    assert {name: node.failover_to for name, node in placement.nodes.items()} == {"c": "", "a": "b", "b": ""}
    assert not cluster_placed(bench_order_entry.bench_setup("unit")).config.placement.failover  # the other phases: no shipping


def test_the_order_entry_setup_with_failover_ships_to_its_own_temp_dir() -> None:
    setup = bench_order_entry.bench_setup("unit", failover=True)
    data_dir = Path(setup.config.server.data_dir)
    assert (setup.config.placement.shared_dir, setup.config.placement.failover) == (str(data_dir / "shared"), True)
    assert not setup.config.placement.nodes  # one machine: nothing moves
    assert bench_order_entry.bench_setup("unit").config.placement.failover is False


def test_the_open_setup_with_failover_ships_and_its_baskets_go_to_the_shared_import_dir() -> None:
    args = bench_open.options().parse_args(["--orders", "1000", "--accounts", "50", "--symbols", "20", "--failover"])
    data_dir = tempfile.mkdtemp()
    setup = bench_open.bench_setup(args, data_dir)
    assert (setup.config.placement.shared_dir, setup.config.placement.failover) == (f"{data_dir}/shared", True)
    assert shared_paths(setup.config).admin.import_root(data_dir) == Path(data_dir) / "shared" / "imports"


def test_the_baseline_flags_of_order_entry_are_one_at_a_time(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench_order_entry.options().parse_args(["--failover", "--audit-off"])
    assert "not allowed with argument" in capsys.readouterr().err
