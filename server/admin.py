"""The admin shell (PROTOCOL.md §4): ``python run_server.py admin [--json] [COMMAND ARGS...]``.

It logs in over the WebSocket API with an admin key and sends ``{"op": "admin", ...}``.
With a command it runs it once and exits (non-zero on failure); without one it is an
interactive shell with ``help`` and line-editing history.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
from typing import Any

from server.client import BrokerClient, LoginError

HELP = {
    "status": "actors, their health and counters; halted symbols",
    "halt SYMBOL": "stop trading in a symbol (new orders are rejected with reason halted)",
    "resume SYMBOL": "trade the symbol again",
    "help": "this list",
    "quit": "leave the shell",
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run_server.py admin", description="brokerd admin shell")
    parser.add_argument("--url", default=os.environ.get("BROKERD_URL", "ws://127.0.0.1:8765"))
    parser.add_argument("--key", default=os.environ.get("BROKERD_ADMIN_KEY", "admin"))
    parser.add_argument("--secret", default=os.environ.get("BROKERD_ADMIN_SECRET", "admin-secret"))
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--timeout", type=int, default=30, help="seconds to wait for an answer")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="command and arguments; none: interactive")
    return parser.parse_args(argv)


def render(reply: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(reply, sort_keys=True, default=str)
    if reply.get("type") == "error":
        return f"error ({reply.get('code')}): {reply.get('message')}"
    result = reply.get("result", {})
    if "actors" in result:
        lines = [f"ws port {result.get('ws_port')}   halted: {', '.join(result.get('halted', [])) or 'none'}"]
        for actor in result["actors"]:
            details = "  ".join(f"{key}={value}" for key, value in actor.items() if key != "name")
            lines.append(f"  {actor.get('name', '?'):<24} {details}")
        return "\n".join(lines)
    return "  ".join(f"{key}={value}" for key, value in result.items())


def succeeded(reply: dict[str, Any]) -> bool:
    return reply.get("type") == "admin" and bool(reply.get("ok"))


async def run(args: argparse.Namespace) -> int:
    try:
        client = await BrokerClient.connect(args.url, args.key, args.secret)
    except (OSError, LoginError) as failure:
        print(f"cannot reach brokerd at {args.url}: {failure}", file=sys.stderr)
        return 3
    try:
        if args.command:
            return await one_shot(client, args)
        return await interactive(client, args)
    finally:
        await client.close()


async def one_shot(client: BrokerClient, args: argparse.Namespace) -> int:
    command, *rest = args.command
    reply = await client.request({"op": "admin", "command": command, "args": rest}, timeout=args.timeout)
    print(render(reply, args.json))
    return 0 if succeeded(reply) else 1


async def interactive(client: BrokerClient, args: argparse.Namespace) -> int:
    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        pass
    loop = asyncio.get_running_loop()
    print("brokerd admin shell; 'help' lists the commands")
    while True:
        try:
            line = await loop.run_in_executor(None, input, "brokerd> ")
        except EOFError:
            return 0
        words = shlex.split(line)
        if not words:
            continue
        if words[0] in ("quit", "exit"):
            return 0
        if words[0] == "help":
            for name, text in HELP.items():
                print(f"  {name:<16} {text}")
            continue
        reply = await client.request({"op": "admin", "command": words[0], "args": words[1:]}, timeout=args.timeout)
        print(render(reply, args.json))


def main(argv: list[str]) -> int:
    return asyncio.run(run(parse_args(argv)))
