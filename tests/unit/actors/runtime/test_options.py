"""How the embedded Ray cluster is told where to listen, from the server's host."""

from __future__ import annotations

from actors.runtime.options import RAY_SINGLE_NODE_ENV, embedded_ray


def test_a_loopback_host_keeps_ray_on_loopback_and_other_hosts_are_the_operators_choice() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        environ: dict[str, str] = {}
        assert embedded_ray(host, environ) == {} and environ == {RAY_SINGLE_NODE_ENV: "0"}, host
    for host, extra in (("0.0.0.0", {}), ("::", {}), ("10.1.2.3", {"_node_ip_address": "10.1.2.3"})):
        environ = {}
        assert embedded_ray(host, environ) == extra and environ == {}, host
