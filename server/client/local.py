"""The admin shell's own commands (``runs="shell"`` in ``model/admin_commands.py``, for a
command or one of its forms: ``report trades|cat|best-ex|admin-actions``): they run here,
without the server. Each is the function the table entry's ``handler`` names, called
with the checked arguments and ``as_json``; it prints and returns the shell's exit code.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import lmdb
import msgspec

from model.admin_commands import COMMANDS, Command, Given
from model.calendar import parse_iso_day
from model.config import AuditSection, Config, ConfigError, load_config
from model.reports import REPORTS, ReportError, ReportSpec, Row, day_range, order_key
from server.client.progress import Progress
from server.client.render import render_audit_report, render_report
from snapshots.audit import AuditCorrupt, export, read_public_key, read_records, verify_audit
from snapshots.files import atomic_text
from snapshots.journal import JournalCorrupt
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
    return HANDLERS[command.handler_of(given)](given, as_json)


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
        bar = Progress("verifying journals: actors", as_json=as_json)
        try:
            report = verify_data_dir(data_dir, bar.update)
        finally:
            bar.finish()
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
            bar = Progress("exporting the audit log: segments", as_json=as_json)
            try:
                counts = export(root, first or "", last or "", given["FOLDER"], bar.update)
            finally:
                bar.finish()
            print(json.dumps(counts, sort_keys=True) if as_json else f"exported {counts['records']} records of {counts['segments']} segments to {given['FOLDER']}")
            return OK
        if not root.is_dir() and not anchors.is_dir():
            raise DataDirError(f"no audit log under {root}")
        report = verify_audit(root, anchors, _public_key(given.get("public-key"), section.public_key_path(data_dir), anchors), first, last, section.timezone)
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
    data_dir, config = config_setup(options)
    return data_dir, config.audit


def config_setup(options: dict[str, str]) -> tuple[str, Config]:
    """The data dir (as ``journal verify`` finds it) and the configuration: that of
    ``--config``; with ``--data-dir`` alone, the defaults (paths under that data dir)."""
    data_dir = data_dir_of(options)
    if options.get("data-dir") and not options.get("config"):
        return data_dir, Config()
    path = options.get("config") or DEFAULT_CONFIG
    try:
        return data_dir, load_config(path)
    except OSError as error:
        raise ConfigError(f"cannot read the configuration {path}: {error.strerror or error}") from None


def reshard(given: Given, as_json: bool) -> int:
    """``reshard --shards N``: the offline procedure (``actors/reshard/procedure.py``) on the
    data dir, with the reference data of ``--config`` (else conf/server.toml). 0 when done
    or nothing to do, 1 when refused (the message says why and what to do), 2 for a bad N."""
    shards = given.get("shards")
    if shards is None or not shards.isascii() or not shards.isdigit() or int(shards) < 1:
        print("reshard: --shards N is required (N: the account shards wanted, at least 1)", file=sys.stderr)
        return USAGE
    from actors.reshard.procedure import ReshardError, environment_crash_points
    from actors.reshard.procedure import reshard as run_reshard
    from model.config import load_setup

    try:
        data_dir = Path(data_dir_of(given.values))
        setup = load_setup(given.get("config") or DEFAULT_CONFIG)
        say = (lambda line: None) if as_json else (lambda line: print(f"reshard: {line}", file=sys.stderr, flush=True))
        result = run_reshard(setup, data_dir, int(shards), environment_crash_points(data_dir), say)
    except (ReshardError, ConfigError, JournalCorrupt, lmdb.Error, OSError) as problem:
        if as_json:
            print(json.dumps({"ok": False, "error": str(problem)}, sort_keys=True))
        else:
            print(f"reshard: {problem}", file=sys.stderr)
        return FAILED
    if as_json:
        print(json.dumps(result, sort_keys=True))
    elif result["done"]:
        print(f"resharded {data_dir}: {result['from']} → {result['to']} account shards; set [topology] account_shards = {result['to']} before starting")
    else:
        print(result["message"])
    return OK


REPORT_FORMATS = ("csv", "jsonl")


def compliance_report(given: Given, as_json: bool) -> int:
    """``report trades|cat DATE OUT``, ``report best-ex|admin-actions FROM TO OUT``: the
    report (``model/reports.py``) of the audit records of those local days (``[open]
    timezone``) written to OUT, a new file, or into OUT when it is a folder (named
    ``<report>-<days>.<format>``). 0 when written (no records: the header alone); 2 for a bad
    date, range or format; 1 for no audit log, a damaged one, an OUT that exists, or a
    configuration that cannot be read. Never a traceback."""
    name = COMMANDS["report"].forms[given.form].words[0]
    spec = REPORTS[name]
    first, last = (given["DATE"], given["DATE"]) if spec.one_day else (given["FROM"], given["TO"])
    form = given.get("format") or REPORT_FORMATS[0]
    try:
        if form not in REPORT_FORMATS:
            raise ReportError(f"--format {form[:20]!r}: csv or jsonl")
        data_dir, config = config_setup(given.values)
        start_ns, end_ns = day_range(first, last, config.open.timezone)
    except (ReportError, ConfigError) as problem:
        print(f"report {name}: {problem}", file=sys.stderr)
        return USAGE if isinstance(problem, ReportError) else FAILED
    days = first if first == last else f"{first}_{last}"
    try:
        root = config.audit.root(data_dir)
        if not root.is_dir():
            raise DataDirError(f"no audit log under {root}")
        target = report_path(Path(given["OUT"]), f"{name}-{days}.{form}")
        records = read_records(root, start_ns, end_ns, config.audit.timezone, spec.kinds, key=order_key)
        bar = Progress(f"report {name}: rows", as_json=as_json)
        try:
            rows = write_report(target, spec, counted(spec.build(records, config.open.timezone), bar), form)
        finally:
            bar.finish()
    except (ReportError, DataDirError, AuditCorrupt, OSError) as problem:
        print(f"report {name}: {problem}", file=sys.stderr)
        return FAILED
    print(json.dumps({"report": name, "file": str(target), "rows": rows}, sort_keys=True) if as_json else f"report {name} {days}: {rows} rows written to {target}")
    return OK


def counted(rows: Iterable[Row], bar: Progress) -> Iterator[Row]:
    """``rows`` as they are, each counted on ``bar`` (how many there will be is not known)."""
    for count, row in enumerate(rows, 1):
        bar.update(count)
        yield row


def report_path(out: Path, default_name: str) -> Path:
    """Where a report goes: into ``out`` when it is a folder, else ``out`` itself (its folder
    must exist); refused when that file exists (a report never replaces a file)."""
    target = out / default_name if out.is_dir() else out
    if target.exists():
        raise FileExistsError(f"{target} exists; give another file or folder")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"no folder {target.parent} for the report")
    return target


def write_report(target: Path, spec: ReportSpec, rows: Iterable[Row], form: str) -> int:
    """``rows`` under ``spec``'s header as CSV, or as JSON lines (one object a row, keys the
    column names), written atomically (a failure leaves no file); how many rows."""
    count = 0
    with atomic_text(target) as handle:
        if form == "csv":
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(spec.columns)
            for row in rows:
                writer.writerow(row)
                count += 1
        else:
            encode, columns = msgspec.json.Encoder().encode, spec.columns
            for row in rows:
                handle.write(encode(dict(zip(columns, row, strict=True))).decode())
                handle.write("\n")
                count += 1
    return count


HANDLERS: dict[str, Callable[[Given, bool], int]] = {
    "show_help": show_help,
    "leave": leave,
    "journal_verify": journal_verify,
    "audit": audit,
    "compliance_report": compliance_report,
    "reshard": reshard,
}


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
