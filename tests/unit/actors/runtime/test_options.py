"""How the embedded Ray cluster is told where to listen, from the server's host; the actors' Ray options."""

from __future__ import annotations

from actors.runtime.options import RAY_SINGLE_NODE_ENV, actor_options, embedded_ray, supervisor_options


def test_a_loopback_host_keeps_ray_on_loopback_and_other_hosts_are_the_operators_choice() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        environ: dict[str, str] = {}
        assert embedded_ray(host, environ) == {} and environ == {RAY_SINGLE_NODE_ENV: "0"}, host
    for host, extra in (("0.0.0.0", {}), ("::", {}), ("10.1.2.3", {"_node_ip_address": "10.1.2.3"})):
        environ = {}
        assert embedded_ray(host, environ) == extra and environ == {}, host


def test_every_actor_but_the_supervisor_is_detached_so_it_outlives_the_supervisor() -> None:
    actor = actor_options("account-0", "ns")
    assert actor["lifetime"] == "detached" and actor["name"] == "account-0" and actor["namespace"] == "ns"
    assert actor["max_restarts"] == -1 and actor["max_task_retries"] == -1
    supervisor = supervisor_options("ns")
    assert "lifetime" not in supervisor  # owned by the driver: the driver's end is the server's end
    assert supervisor["max_restarts"] == -1  # Ray restarts it; it re-attaches to the actors
    assert supervisor["max_task_retries"] == 0  # an admin command caught by its death fails, never runs twice
    on_a_cluster = supervisor_options("ns", detached=True)
    assert on_a_cluster["lifetime"] == "detached"  # outlives a driver that dies; the next one attaches
    assert on_a_cluster["max_task_retries"] == 0
