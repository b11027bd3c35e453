"""The admin shell's own commands (``runs="shell"`` in ``model/admin_commands.py``): they run
here, without the server. Each is the function the table entry's ``handler`` names, called
with the checked arguments and ``as_json``; it prints and returns the shell's exit code.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model.admin_commands import COMMANDS, Command, Given
from model.calendar import parse_iso_day
from model.config import AuditSection, ConfigError, load_config
from server.client.render import render_audit_report, render_report
from snapshots.audit import AuditCorrupt, export, read_public_key, verify_audit
from snapshots.verify import DataDirError, verify_data_dir

OK, FAILED, USAGE, UNREACHABLE = 0, 1, 2, 3
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "conf" / "server.toml"  # as the server's --config
HELP_WIDTH = 34  # the usage column of ``help``


def help_text(name: str | None = None) -> str:
    """Every command with its usage and summary (from the table), or one command's."""
    if name is not None:
        command = COMMANDS[name]
        return f"usage: {command.usage}\n  {command.summary}"
    lines = []
    for command in COMMANDS.values():
        usage, summary = command.usage, command.summary
        lines.append(f"  {usage:<{HELP_WIDTH}} {summary}" if len(usage) < HELP_WIDTH else f"  {usage}\n  {'':<{HELP_WIDTH}} {summary}")
    lines.append("exit codes: 0 done, 1 the server refused or verify found errors, 2 usage error, 3 server unreachable")
    return "\n".join(lines)


def run_local(command: Command, given: Given, as_json: bool) -> int:
    """Run a shell command by its table entry's handler."""
    return HANDLERS[command.handler](given, as_json)


# --- the handlers ----------------------------------------------------------------------------------


def show_help(given: Given, as_json: bool) -> int:
    print(help_text(given.get("COMMAND")))
    return OK


def leave(given: Given, as_json: bool) -> int:
    """``quit``: the interactive shell ends on it; run once, there is nothing to do."""
    return OK


def journal_verify(given: Given, as_json: bool) -> int:
    """0 when no journal has an error (warnings are what recovery repairs), else 1."""
    data_dir = ""
    try:
        data_dir = data_dir_of(given.values)
        report = verify_data_dir(data_dir)
    except (DataDirError, ConfigError) as problem:
        if as_json:
            print(json.dumps({"ok": False, "data_dir": data_dir, "error": str(problem)}, sort_keys=True))
        else:
            print(f"journal verify: {problem}", file=sys.stderr)
        return FAILED
    print(json.dumps(report, sort_keys=True) if as_json else render_report(report))
    return OK if report["ok"] else FAILED


def audit(given: Given, as_json: bool) -> int:
    """``audit verify``: 0 when no chain has an error (a torn tail, which the writer cuts, is a
    warning), else 1. ``audit export``: 0 when written. A date that is not ``YYYY-MM-DD``: 2."""
    verb = "verify" if given.form == 0 else "export"
    try:
        first, last = (_day(given.get("from")), _day(given.get("to"))) if verb == "verify" else (_day(given["FROM"]), _day(given["TO"]))
    except ValueError as problem:
        print(f"audit {verb}: {problem}", file=sys.stderr)
        return USAGE
    try:
        data_dir, section = audit_setup(given.values)
        root, anchors = section.root(data_dir), section.anchor_root(data_dir)
        if verb == "export":
            counts = export(root, first or "", last or "", given["FOLDER"])
            print(json.dumps(counts, sort_keys=True) if as_json else f"exported {counts['records']} records of {counts['segments']} segments to {given['FOLDER']}")
            return OK
        if not root.is_dir() and not anchors.is_dir():
            raise DataDirError(f"no audit log under {root}")
        report = verify_audit(root, anchors, _public_key(given.get("public-key"), section.public_key_path(data_dir), anchors), first, last)
    except (DataDirError, ConfigError, AuditCorrupt, OSError, ValueError) as problem:
        if as_json:
            print(json.dumps({"ok": False, "error": str(problem)}, sort_keys=True))
        else:
            print(f"audit {verb}: {problem}", file=sys.stderr)
        return FAILED
    print(json.dumps(report, sort_keys=True) if as_json else render_audit_report(report))
    return OK if report["ok"] else FAILED


def _day(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return parse_iso_day(text).isoformat()
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _public_key(given: str | None, default: Path, anchors: Path) -> Any:
    """The anchors' public key: ``--public-key``, else the configured file. Without one, anchors
    cannot be checked: refused when there are any (a forged anchor would pass)."""
    path = Path(given) if given else default
    if path.is_file():
        return read_public_key(path)
    if given or any(anchors.glob("*/*.anchor")):
        raise DataDirError(f"no public key at {path} to check the anchors with; give --public-key PEM")
    return None


def audit_setup(options: dict[str, str]) -> tuple[str, AuditSection]:
    """The data dir (as ``journal verify`` finds it) and the ``[audit]`` section: that of
    ``--config``; with ``--data-dir`` alone, the defaults (paths under that data dir)."""
    data_dir = data_dir_of(options)
    if options.get("data-dir") and not options.get("config"):
        return data_dir, AuditSection()
    path = options.get("config") or DEFAULT_CONFIG
    try:
        return data_dir, load_config(path).audit
    except OSError as error:
        raise ConfigError(f"cannot read the configuration {path}: {error.strerror or error}") from None


HANDLERS: dict[str, Callable[[Given, bool], int]] = {"show_help": show_help, "leave": leave, "journal_verify": journal_verify, "audit": audit}


def data_dir_of(options: dict[str, str]) -> str:
    """The data dir to verify: ``--data-dir`` (``options["data-dir"]``); else ``[server]
    data_dir`` of ``--config``; else ``$BROKERD_DATA_DIR``; else ``[server] data_dir`` of
    ``conf/server.toml`` (the server's default config). A flag wins over the environment,
    the environment over the default. A relative data dir is relative to the working
    directory, as for the server. Raises ``ConfigError`` for a configuration that cannot be read."""
    if options.get("data-dir"):
        return options["data-dir"]
    if not options.get("config") and os.environ.get("BROKERD_DATA_DIR"):
        return os.environ["BROKERD_DATA_DIR"]
    path = options.get("config") or DEFAULT_CONFIG
    try:
        return load_config(path).server.data_dir
    except OSError as error:
        raise ConfigError(f"cannot read the configuration {path}: {error.strerror or error}") from None
    except ConfigError as error:
        raise ConfigError(f"bad configuration: {error}") from None
