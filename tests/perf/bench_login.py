"""Login rate: today's HMAC login of a users-file key, an API key's login, and an admin login
with a TOTP code, alternated in the same run.

    python tests/perf/bench_login.py [--logins 400] [--users 100] [--rounds 5] [--clients 4]

Each round measures every mode twice (medians over the rounds are reported):

1. over WebSocket: a gateway (``server/gateway/core.py``, no Ray) serving on loopback in this
   process, ``--clients`` connections at a time each connecting, logging in and closing —
   the whole cost of a login as a client sees it, beside the same loop without any login
   (connect and close only) as the baseline;
2. in-process: ``Access.login`` alone, no socket — the login's own cost.

A TOTP code is accepted once per user and 30 s step (RFC 6238 §5.2), so the TOTP mode logs in
``--users`` enrolled operators once each per round, each round with a fresh enrolment file;
every such login reads the sealed file, checks the code and writes the step back (fsynced)
before it counts. The HMAC and API-key modes log in ``--logins`` times.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from actors.runtime.outbox import Outbox  # noqa: E402
from actors.runtime.router import Router  # noqa: E402
from keystore.apikeys import open_keys  # noqa: E402
from keystore.masterkey import write_new_key  # noqa: E402
from keystore.totp import code_at, open_mfa, step_of  # noqa: E402
from model.config import SecretsSection, Setup, User  # noqa: E402
from server.gateway.access import Access  # noqa: E402
from server.gateway.auth import signature  # noqa: E402
from server.gateway.connection import Connection  # noqa: E402
from server.gateway.core import Gateway  # noqa: E402
from server.gateway.mfa import SecondFactor  # noqa: E402
from server.gateway.protocol import Login  # noqa: E402
from server.gateway.ratelimit import TokenBucket  # noqa: E402
from tests.conftest import demo_setup  # noqa: E402

encode, decode = msgspec.json.encode, msgspec.json.decode
TRADER = User(key="bench", secret="bench-secret", role="trader", accounts=["A1"])


def bench_setup(folder: Path, users: int) -> tuple[Setup, list[User]]:
    setup = demo_setup()
    write_new_key(folder / "master.key")
    operators = [User(key=f"op{n}", secret=f"op{n}-secret", role="operator") for n in range(users)]
    config = msgspec.structs.replace(
        setup.config,
        server=msgspec.structs.replace(setup.config.server, data_dir=str(folder)),
        secrets=SecretsSection(master_key_file=str(folder / "master.key"), vault_file=str(folder / "vault.json")),
        gateway=msgspec.structs.replace(
            setup.config.gateway, require_mfa_for_admin=True, max_connections_per_user=10**6, max_connections_per_address=10**6
        ),
        logging=msgspec.structs.replace(setup.config.logging, level="warning"),
    )
    return msgspec.structs.replace(setup, config=config, users=[*setup.users, TRADER, *operators]), operators


def enrolled(setup: Setup, folder: Path, operators: list[User]) -> tuple[SecondFactor, dict[str, str]]:
    """A fresh enrolment file in ``folder`` with every operator enrolled: its check and the secrets."""
    folder.mkdir(parents=True, exist_ok=True)
    config = msgspec.structs.replace(setup.config, secrets=msgspec.structs.replace(setup.config.secrets, mfa_file=str(folder / "mfa.json")))
    store = open_mfa(config)
    secrets = {user.key: store.enroll(user.key, "bench")[0] for user in operators}
    return SecondFactor(config), secrets


def login_frame(key: str, secret: str, totp: str | None = None) -> dict[str, Any]:
    ts, nonce = int(time.time() * 1000), os.urandom(8).hex()
    frame: dict[str, Any] = {"op": "login", "id": 1, "key": key, "ts": ts, "nonce": nonce, "sig": signature(secret, ts, nonce)}
    if totp is not None:
        frame["totp"] = totp
    return frame


async def over_websocket(url: str, frames: list[dict[str, Any]] | int, clients: int) -> float:
    """Connect, log in with each frame (or, given a count, only connect) and close, ``clients``
    at a time: logins (connections) per second."""
    from websockets.asyncio.client import connect

    work = list(frames) if isinstance(frames, list) else [None] * frames
    total = len(work)

    async def client() -> None:
        while work:
            frame = work.pop()
            async with connect(url, compression=None) as socket:
                if frame is not None:
                    await socket.send(encode(frame))
                    reply = decode(await socket.recv())
                    assert reply.get("ok"), reply

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return total / (time.perf_counter() - started)


def in_process(access: Access, frames: list[dict[str, Any]]) -> float:
    """``Access.login`` for each frame on a fresh connection object: logins per second."""
    logins = [Login(key=f["key"], ts=f["ts"], nonce=f["nonce"], sig=f["sig"], totp=f.get("totp")) for f in frames]
    conns = [Connection(n, object(), TokenBucket(1, 1), 10, address="127.0.0.1") for n in range(len(logins))]  # type: ignore[arg-type]
    started = time.perf_counter()
    for conn, login in zip(conns, logins, strict=True):
        assert access.login(conn, login, b"1", 0, login.ts), conn.outgoing
    elapsed = time.perf_counter() - started
    for conn in conns:
        access.release(conn)
    return len(logins) / elapsed


def totp_frames(operators: list[User], secrets: dict[str, str]) -> list[dict[str, Any]]:
    step = step_of(time.time())
    return [login_frame(user.key, user.secret, code_at(secrets[user.key], step)) for user in operators]


async def run(args: argparse.Namespace) -> None:
    from actors.runtime.logs import configure

    configure("warning")  # a line per login would measure the terminal
    folder = Path(tempfile.mkdtemp(prefix="brokerd-bench-login-"))
    try:
        setup, operators = bench_setup(folder, args.users)
        key = open_keys(setup.config).create(TRADER, ("read", "trade"), (), int(time.time() * 1000) + 86_400_000, "bench")
        outbox = Outbox("gateway-0", Router(setup.config), setup.config.batching, lambda name, data: None)
        gateway = Gateway("gateway-0", setup, outbox)
        port = await gateway.start("127.0.0.1", 0)
        url = f"ws://127.0.0.1:{port}"
        await over_websocket(url, [login_frame(TRADER.key, TRADER.secret) for _ in range(args.logins)], args.clients)  # warm up
        results: dict[str, list[float]] = {}
        for round_ in range(args.rounds):
            factor, secrets = enrolled(setup, folder / f"ws{round_}", operators)
            gateway.access.second_factor = factor
            modes: list[tuple[str, Any]] = [
                ("connect+close only", args.logins),
                ("HMAC (users file)", [login_frame(TRADER.key, TRADER.secret) for _ in range(args.logins)]),
                ("HMAC (API key)", [login_frame(key.key_id, key.secret) for _ in range(args.logins)]),
                ("HMAC + TOTP", totp_frames(operators, secrets)),
            ]
            for name, frames in modes:
                results.setdefault(f"ws {name}", []).append(await over_websocket(url, frames, args.clients))
            access = Access(setup)
            access.second_factor, secrets = enrolled(setup, folder / f"ip{round_}", operators)
            for name, frames in modes[1:]:
                frames = totp_frames(operators, secrets) if "TOTP" in name else [login_frame(f["key"], TRADER.secret if f["key"] == TRADER.key else key.secret) for f in frames]
                results.setdefault(f"in-process {name}", []).append(in_process(access, frames))
            print(f"  round {round_ + 1}: " + ", ".join(f"{k}={v[-1]:,.0f}/s" for k, v in results.items()), flush=True)
        await gateway.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    m = {name: statistics.median(values) for name, values in results.items()}
    print(f"\nlogins/s, medians of {args.rounds} rounds ({args.logins} HMAC logins, {args.users} TOTP logins per mode and round; {args.clients} clients over WebSocket)")
    base = m["ws connect+close only"]
    print(f"  over WebSocket: connect+close only {base:,.0f}/s (the baseline)")
    today = m["ws HMAC (users file)"]
    for name in ("HMAC (users file)", "HMAC (API key)", "HMAC + TOTP"):
        print(f"    {name:<18} {m['ws ' + name]:>9,.0f}/s   ÷ connect+close {m['ws ' + name] / base:.2f}   ÷ today's login {m['ws ' + name] / today:.2f}")
    today = m["in-process HMAC (users file)"]
    print("  in-process (Access.login alone):")
    for name in ("HMAC (users file)", "HMAC (API key)", "HMAC + TOTP"):
        print(f"    {name:<18} {m['in-process ' + name]:>9,.0f}/s   ÷ today's login {m['in-process ' + name] / today:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logins", type=int, default=400, help="HMAC logins per mode and round")
    parser.add_argument("--users", type=int, default=100, help="enrolled operators: TOTP logins per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections over WebSocket")
    args = parser.parse_args()
    import uvloop

    uvloop.run(run(args))


if __name__ == "__main__":
    main()
