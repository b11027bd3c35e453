"""The ``brokerd`` command (docs/configuration.md): the server, the admin shell, the trader CLI.

    brokerd [--config conf/server.toml] [--data-dir DIR] [--host 127.0.0.1]
            [--ws-port 8765] [--fix-port 9878] [--address RAY_ADDRESS] [--fresh [--wipe]]
    brokerd admin [OPTIONS] [COMMAND ARGS...]      the admin shell (docs/admin.md)
    brokerd client [OPTIONS] COMMAND ...           the trader command line (python -m server.client)
    brokerd secrets COMMAND ...                    the master key and the vault (keystore/cli.py)

``pip install`` installs ``brokerd`` (``[project.scripts]``); ``python run_server.py`` is the
same from a checkout. With no flags: an embedded Ray, the simulated venue, the demo
instruments, users and accounts from ``conf/``. Prints one ``brokerd ready ...`` line when it
takes orders; SIGINT/SIGTERM stop taking orders, flush, and exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]  # the checkout: conf/ is beside server/
SUBCOMMANDS = """other forms:
  PROG admin [OPTIONS] [COMMAND ARGS...]   the admin shell (PROG admin --help, PROG admin help)
  PROG client [OPTIONS] COMMAND ...        the trader command line (PROG client --help)
  PROG secrets COMMAND ...                 the master key and the vault of venue credentials (PROG secrets --help)"""


def parse_args(argv: list[str], prog: str = "brokerd") -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="brokerd trading server",
        epilog=SUBCOMMANDS.replace("PROG", prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", default=str(ROOT / "conf" / "server.toml"), help="server.toml (default: conf/server.toml)")
    parser.add_argument("--data-dir", help="where journals and snapshots live (default from config: ./data)")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--ws-port", type=int, help="WebSocket port (default 8765; 0 picks a free one)")
    parser.add_argument("--web-port", type=int, help="the web page and /metrics: 0 on the WebSocket port (the default), or a port of its own")
    parser.add_argument("--fix-port", type=int, help="FIX acceptor port (default 9878)")
    parser.add_argument("--address", help="join this Ray cluster instead of starting an embedded one")
    parser.add_argument("--fresh", action="store_true", help="start from empty state; refuses a non-empty data dir without --wipe")
    parser.add_argument("--wipe", action="store_true", help="with --fresh: delete the data dir's contents first")
    return parser.parse_args(argv)


def prepare_data_dir(path: Path, fresh: bool, wipe: bool, shipped: Iterable[Path] = ()) -> None:
    """``--fresh``: the data dir empty, and the journals' shipped copies and audit chains
    under the shared dir too (``[placement] failover``: a journal would be rebuilt from its
    copy); ``--wipe`` deletes them first."""
    for folder in shipped:
        if fresh and folder.exists() and any(folder.iterdir()):
            if not wipe:
                raise SystemExit(f"--fresh: {folder} ([placement] failover: shipped journals or audit chains) is not empty; add --wipe to delete it")
            shutil.rmtree(folder)
    if fresh and path.exists() and any(path.iterdir()):
        if not wipe:
            raise SystemExit(f"--fresh: data dir {path} is not empty; add --wipe to delete it, or choose another --data-dir")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)


def check_secrets(config: Any) -> str | None:
    """Before anything starts: the master key, the vault and every entry the config names
    (when sealed secrets are in use), the API keys and MFA enrolments (when their files
    exist), and the gateway's TLS certificate and key (when
    configured). The problem in one line, or ``None``."""
    from keystore.apikeys import load_keys
    from keystore.masterkey import MasterKeyError
    from keystore.store import StoreError
    from keystore.totp import mfa_path, open_mfa
    from keystore.vault import check_at_start
    from model.config import ConfigError
    from server.gateway.tls import server_context

    try:
        check_at_start(config)
        load_keys(config)  # a key file that exists must open and verify whole (no file: no key yet)
        if mfa_path(config).exists():
            open_mfa(config).store.verify()
        server_context(config.gateway)
    except (ConfigError, MasterKeyError, StoreError) as problem:
        return str(problem)
    except OSError as problem:  # a session file that went missing since it was read
        return f"cannot read {problem.filename}: {problem.strerror}"
    return None


async def serve(args: argparse.Namespace) -> int:
    import msgspec

    from actors.reshard.layout import ReshardError, check_layout
    from actors.runtime.logs import configure
    from actors.runtime.options import RAY_INIT_DEFAULTS, embedded_ray
    from actors.runtime.placement import shared_paths, shipped_dirs
    from model.config import ConfigError, load_setup
    from snapshots.crashpoints import spec_from_environment

    try:
        setup = load_setup(args.config)
    except ConfigError as error:
        print(f"brokerd: bad configuration: {error}", file=sys.stderr)
        return 2
    try:
        crash_at = spec_from_environment()
    except ValueError as error:
        print(f"brokerd: {error}", file=sys.stderr)
        return 2
    server_conf = setup.config.server
    overrides = {
        "crash_at": crash_at,  # a recovery test's: to every actor with the configuration
        "host": args.host or server_conf.host,
        "ws_port": server_conf.ws_port if args.ws_port is None else args.ws_port,
        "fix_port": server_conf.fix_port if args.fix_port is None else args.fix_port,
        "data_dir": str(Path(args.data_dir or server_conf.data_dir).resolve()),  # actors run elsewhere
    }
    config = msgspec.structs.replace(setup.config, server=msgspec.structs.replace(server_conf, **overrides))
    config = shared_paths(config)  # [placement]: the files every node must see, pinned where all find them
    if args.web_port is not None:
        config = msgspec.structs.replace(config, web=msgspec.structs.replace(config.web, port=args.web_port))
    setup = msgspec.structs.replace(setup, config=config)
    problem = check_secrets(config)  # with the data dir chosen: the API keys and MFA files live there by default
    if problem:
        print(f"brokerd: {problem}", file=sys.stderr)
        return 2
    configure(config.logging.level)
    data_dir = Path(config.server.data_dir)
    namespace = config.topology.namespace
    own_ray = {} if args.address else embedded_ray(config.server.host)  # before Ray is imported: it reads the environment then
    import ray

    from actors.runtime.placement import PlacementError
    from server.app import BrokerServer, ServerRunning, running_supervisor

    if args.address:
        ray.init(address=args.address, namespace=namespace, **RAY_INIT_DEFAULTS)
        if (args.fresh or args.wipe) and running_supervisor(namespace) is not None:  # never empty a running server's data dir
            print(f"brokerd: a brokerd server runs in the Ray namespace {namespace!r}: --fresh and --wipe are refused", file=sys.stderr)
            ray.shutdown()
            return 2
    prepare_data_dir(data_dir, args.fresh, args.wipe, shipped_dirs(config))
    try:  # a reshard under way or done: the journals' layout must be the configured one
        _layout_lock = check_layout(data_dir, config.topology.account_shards)  # held until the process ends
    except ReshardError as error:
        print(f"brokerd: {error}", file=sys.stderr)
        if ray.is_initialized():
            ray.shutdown()
        return 2
    if not args.address:  # the embedded cluster boots only for a data dir the server can run on
        ray.init(namespace=namespace, num_cpus=os.cpu_count(), **RAY_INIT_DEFAULTS, **own_ray)

    server = BrokerServer(setup, config.server.host, config.server.ws_port, detached=bool(args.address))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            url = await server.start()
        except (PlacementError, ServerRunning) as error:  # the cluster cannot run the topology as [placement] says, or runs it already
            print(f"brokerd: {getattr(error, 'cause', None) or error}", file=sys.stderr, flush=True)
            return 2
        fix = f" fix={config.server.fix_port}" if config.drop_copy.enabled else ""  # only when something listens there
        # the page is on the WebSocket port unless [web] port gives it its own: named then only
        web = f" web={server.web_url}" if server.web_url and server.web_port != server.ws_port else ""
        attached = " attached" if server.attached else ""  # a running server whose driver had ended
        print(f"brokerd ready {url}{fix}{web} data={config.server.data_dir}{attached}", flush=True)
        stopping = loop.create_task(stop.wait())
        supervising = loop.create_task(server.supervise(config.server.supervisor_check_ms / 1000))
        done, _ = await asyncio.wait({stopping, supervising}, return_when=asyncio.FIRST_COMPLETED)
        if supervising in done:
            stopping.cancel()
            print(f"brokerd: the supervisor died ({supervising.result()}); exiting 1 — start again to recover from the journals",
                  file=sys.stderr, flush=True)
            return 1
        supervising.cancel()
        print("brokerd stopping", file=sys.stderr, flush=True)
        await server.stop()
    finally:
        ray.shutdown()
    return 0


def main(argv: list[str] | None = None, prog: str = "brokerd") -> int:
    """``brokerd`` (the console script calls it with no arguments: ``sys.argv``), or
    ``run_server.py``: the server, or ``admin ...`` (the shell), or ``client ...`` (the
    trader CLI), or ``secrets ...`` (the master key and the vault). Returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "admin":
        from server.client.shell import main as admin_main

        return admin_main(argv[1:], prog=f"{prog} admin")
    if argv and argv[0] == "client":
        from server.client.cli import main as client_main

        return client_main(argv[1:], prog=f"{prog} client")
    if argv and argv[0] == "secrets":
        from keystore.cli import main as secrets_main

        return secrets_main(argv[1:], prog=f"{prog} secrets")
    args = parse_args(argv, prog)
    if args.wipe and not args.fresh:
        print("--wipe goes with --fresh", file=sys.stderr)
        return 2
    try:
        import uvloop

        return uvloop.run(serve(args))
    except KeyboardInterrupt:
        return 0

