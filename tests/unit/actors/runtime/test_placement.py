"""``[placement]``: which node each actor is pinned to, the Ray options that pin it, its data
dir on that node, the shared files every node must find, and the start's refusals of a
placement the cluster cannot satisfy (docs/scale.md)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from actors.runtime.placement import (
    cluster_problems,
    failover_target,
    link_problem,
    lost,
    node_names,
    node_of,
    placed_config,
    placement_options,
    shared_paths,
    ship_root,
    shipped_dirs,
)
from actors.runtime.roles import ROLES
from actors.supervisor.core import plan
from model.config import Config, ConfigError, PlacementSection, load_config
from tests.conftest import demo_setup

THREE_NODES = """
[server]
data_dir = "/srv/main"

[placement]
shared_dir = "/srv/shared"

[placement.nodes.a]
resource = "brokerd_a"
data_dir = "/srv/a"

[placement.nodes.b]
resource = "brokerd_b"
data_dir = "/srv/b"

[placement.nodes.c]
resource = "brokerd_c"

[[placement.rules]]
actors = ["supervisor", "gateway", "venue"]
node = "c"

[[placement.rules]]
actors = ["account-0", "instrument-0"]
node = "a"

[[placement.rules]]
actors = ["account", "instrument-*"]
node = "b"
"""


def three_nodes(tmp_path: Path) -> Config:
    path = tmp_path / "server.toml"
    path.write_text(THREE_NODES)
    return load_config(path)


def test_no_placement_changes_nothing_and_adds_no_option() -> None:
    config = Config()
    assert node_of(config.placement, "account-0", "account") is None
    assert placement_options(config.placement, None) == {}
    assert placed_config(config, None) is config  # the same object: no copy per actor
    assert shared_paths(config) is config


def test_the_first_rule_that_matches_by_name_or_role_places_the_actor(tmp_path: Path) -> None:
    placement = three_nodes(tmp_path).placement
    assert node_of(placement, "account-0", "account") == "a"  # by name, before the role's rule
    assert node_of(placement, "account-1", "account") == "b"  # by role
    assert node_of(placement, "instrument-1", "instrument") == "b"  # by pattern
    assert node_of(placement, "gateway-0", "gateway") == "c"
    assert node_of(placement, "venue-SIM", "venue") == "c"
    assert node_of(placement, "supervisor", "supervisor") == "c"
    assert node_of(placement, "drop-copy", "drop_copy") is None  # no rule: Ray places it


def test_a_placed_actor_asks_for_a_share_of_its_node_s_resource(tmp_path: Path) -> None:
    placement = three_nodes(tmp_path).placement
    assert placement_options(placement, "a") == {"resources": {"brokerd_a": 0.001}}
    fewer = msgspec.structs.replace(placement, actors_per_unit=10)
    assert placement_options(fewer, "b") == {"resources": {"brokerd_b": 0.1}}


def test_a_placed_actor_keeps_its_data_on_its_node_and_finds_the_shared_files(tmp_path: Path) -> None:
    config = three_nodes(tmp_path)
    on_a = placed_config(config, "a")
    assert on_a.server.data_dir == "/srv/a"
    assert placed_config(config, "c").server.data_dir == "/srv/main"  # no data_dir: [server]'s, read on that node
    assert placed_config(config, None).server.data_dir == "/srv/main"
    shared = Path("/srv/shared")
    assert on_a.secrets.api_keys_path(on_a.server.data_dir) == shared / "api-keys.json"
    assert on_a.secrets.mfa_path(on_a.server.data_dir) == shared / "mfa.json"
    assert on_a.audit.anchor_root(on_a.server.data_dir) == shared / "audit-anchors"
    assert on_a.audit.signing_key_path(on_a.server.data_dir) == shared / "audit-signing-key.json"
    assert on_a.audit.public_key_path(on_a.server.data_dir) == shared / "audit-anchors" / "audit-key.pub"
    assert on_a.bars.folder(on_a.server.data_dir) == shared / "bars"
    assert on_a.admin.import_root(on_a.server.data_dir) == shared / "imports"
    assert on_a.admin.export_root(on_a.server.data_dir) == shared / "exports"
    assert on_a.audit.root(on_a.server.data_dir) == Path("/srv/a/audit")  # the chains stay beside the journals
    assert placed_config(on_a, "a") == on_a  # idempotent


def test_the_shared_dir_defaults_to_the_server_s_data_dir_and_keeps_absolute_paths(tmp_path: Path) -> None:
    config = three_nodes(tmp_path)
    placement = msgspec.structs.replace(config.placement, shared_dir="")
    audit = msgspec.structs.replace(config.audit, anchor_dir="/worm/anchors")
    config = msgspec.structs.replace(config, placement=placement, audit=audit)
    on_b = placed_config(config, "b")
    assert on_b.secrets.api_keys_path(on_b.server.data_dir) == Path("/srv/main/api-keys.json")
    assert on_b.audit.anchor_root(on_b.server.data_dir) == Path("/worm/anchors")
    assert on_b.audit.public_key_path(on_b.server.data_dir) == Path("/worm/anchors/audit-key.pub")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[[placement.rules]]\nactors = ["account"]\nnode = "x"\n', "node 'x' is not one of [placement.nodes]"),
        ('[placement.nodes.a]\nresource = "r"\ndata_dir = "data/a"\n', "must be absolute"),
        ('[placement.nodes.a]\nresource = ""\n', "resource must name"),
        ("[placement]\nactors_per_unit = 0\n", "actors_per_unit must be 1 to 10000"),
        ('[placement]\nshared_dir = "shared"\n', "shared_dir 'shared' must be absolute"),
        ('[placement.nodes.a]\nresource = "r"\n[[placement.rules]]\nactors = []\nnode = "a"\n', "names no actors"),
        ('[placement.nodes.a]\nresource = "r"\nhost = "10.0.0.1"\n', "host"),
        ("[placement]\nfailover = true\n", "failover needs placement.shared_dir"),
        ("[placement]\nmove_timeout_ms = 0\n", "move_timeout_ms must be at least 1"),
        ('[placement.nodes.a]\nresource = "r"\nfailover_to = "z"\n', "failover_to 'z' must name another"),
        ('[placement.nodes.a]\nresource = "r"\nfailover_to = "a"\n', "failover_to 'a' must name another"),
    ],
)
def test_a_bad_placement_is_refused_when_read(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "server.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert words in str(refused.value)


def actors_of(config: Config) -> list[tuple[str, str]]:
    from server.app import GATEWAY_ROLE

    setup = msgspec.structs.replace(demo_setup(), config=config)
    return [("supervisor", "supervisor"), *((p.name, p.role) for p in plan(setup, ROLES.extended([GATEWAY_ROLE])))]


def test_a_cluster_with_every_node_s_resource_passes(tmp_path: Path) -> None:
    config = three_nodes(tmp_path)
    assert cluster_problems(config.placement, actors_of(config), {"CPU": 2.0, "brokerd_a": 1.0, "brokerd_b": 1.0, "brokerd_c": 1.0}) == []


def test_a_node_the_cluster_lacks_is_named_with_how_to_start_it(tmp_path: Path) -> None:
    config = three_nodes(tmp_path)
    problems = cluster_problems(config.placement, actors_of(config), {"CPU": 2.0, "brokerd_a": 1.0, "brokerd_c": 1.0})
    assert problems == [
        "[placement] node 'b': no live node of the Ray cluster has the resource 'brokerd_b' "
        "(start that node with: ray start --resources '{\"brokerd_b\": 1}' ...)"
    ]


def test_a_node_too_small_for_its_actors_is_refused(tmp_path: Path) -> None:
    config = three_nodes(tmp_path)
    placement = msgspec.structs.replace(config.placement, actors_per_unit=2)  # c holds the supervisor, gateway and venue: 1.5 units
    problems = cluster_problems(placement, actors_of(config), {"brokerd_a": 1.0, "brokerd_b": 1.0, "brokerd_c": 1.0})
    assert problems == ["[placement] node 'c': 3 actors need 1.5 of resource 'brokerd_c', the cluster has 1"]


def test_a_rule_that_matches_no_actor_is_refused_as_a_typo(tmp_path: Path) -> None:
    config = three_nodes(tmp_path)
    rules = [*config.placement.rules, msgspec.convert({"actors": ["instrument-7", "acount"], "node": "a"}, type=type(config.placement.rules[0]))]
    placement = msgspec.structs.replace(config.placement, rules=rules)
    problems = cluster_problems(placement, actors_of(config), {"brokerd_a": 1.0, "brokerd_b": 1.0, "brokerd_c": 1.0})
    assert len(problems) == 1 and problems[0].startswith("[placement] rule ['instrument-7', 'acount'] (node 'a') matches no actor")


def test_no_rules_need_nothing_of_the_cluster() -> None:
    assert cluster_problems(PlacementSection(), actors_of(Config()), {}) == []


def test_loopback_links_across_machines_are_refused_with_the_setting_to_change() -> None:
    addresses = {"account-0": ("127.0.0.1", 4000), "gateway-0": ("127.0.0.1", 4001)}
    assert link_problem(addresses, {"account-0": "127.0.0.1", "gateway-0": "127.0.0.1", "supervisor": "127.0.0.1"}) is None
    problem = link_problem(addresses, {"account-0": "10.0.0.2", "gateway-0": "10.0.0.3", "supervisor": "10.0.0.2"})
    assert problem is not None and 'link_host = "node"' in problem and "10.0.0.2, 10.0.0.3" in problem
    on_nodes = {"account-0": ("10.0.0.2", 4000), "gateway-0": ("10.0.0.3", 4001)}
    assert link_problem(on_nodes, {"account-0": "10.0.0.2", "gateway-0": "10.0.0.3"}) is None


# --- a lost node -----------------------------------------------------------------------------------

ALIVE = {"brokerd_a": 1.0, "brokerd_b": 1.0, "brokerd_c": 1.0}


def test_a_node_is_lost_when_no_live_node_carries_its_resource(tmp_path: Path) -> None:
    placement = three_nodes(tmp_path).placement
    assert not lost(placement, "a", ALIVE)
    assert lost(placement, "a", {"brokerd_b": 1.0, "brokerd_c": 1.0})
    assert not lost(placement, None, {})  # an actor Ray placed is never "on a lost node" by name


def test_a_lost_node_s_actors_go_to_its_failover_node_else_the_least_loaded_live_one(tmp_path: Path) -> None:
    config = three_nodes(tmp_path)
    without_a = {"brokerd_b": 1.0, "brokerd_c": 1.0}
    placed = {"account-0": "a", "account-1": "b", "instrument-1": "b", "gateway-0": "c"}
    assert failover_target(config.placement, "a", placed, without_a) == "c"  # c holds one, b two
    named = msgspec.structs.replace(config.placement, nodes={**config.placement.nodes, "a": msgspec.structs.replace(config.placement.nodes["a"], failover_to="b")})
    assert failover_target(named, "a", placed, without_a) == "b"
    assert failover_target(named, "a", placed, {"brokerd_c": 1.0}) == "c"  # b is lost too: the live one
    assert failover_target(config.placement, "a", placed, {}) is None


def test_ray_s_live_nodes_are_named_by_the_resource_they_carry(tmp_path: Path) -> None:
    placement = three_nodes(tmp_path).placement
    nodes = [
        {"NodeID": "n1", "Alive": True, "Resources": {"CPU": 1.0, "brokerd_a": 1.0}},
        {"NodeID": "n2", "Alive": False, "Resources": {"brokerd_b": 1.0}},
        {"NodeID": "n3", "Alive": True, "Resources": {"CPU": 1.0}},
    ]
    assert node_names(placement, nodes) == {"n1": "a"}


def test_with_failover_journals_are_shipped_and_audit_chains_kept_under_the_shared_dir(tmp_path: Path) -> None:
    config = three_nodes(tmp_path)
    assert ship_root(config) is None
    failing_over = msgspec.structs.replace(config, placement=msgspec.structs.replace(config.placement, failover=True))
    assert ship_root(failing_over) == Path("/srv/shared/ship")
    assert placed_config(failing_over, "a").audit.dir == "/srv/shared/audit"
    assert placed_config(config, "a").audit.dir == ""  # without failover: the node's own data dir


def test_fresh_and_wipe_cover_what_failover_keeps_under_the_shared_dir(tmp_path: Path) -> None:
    config = three_nodes(tmp_path)
    assert shipped_dirs(config) == []
    failing_over = shared_paths(msgspec.structs.replace(config, placement=msgspec.structs.replace(config.placement, failover=True)))
    assert shipped_dirs(failing_over) == [Path("/srv/shared/ship"), Path("/srv/shared/audit")]
