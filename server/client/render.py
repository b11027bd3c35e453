"""The admin shell's output (docs/admin.md#output): a server reply, or the ``journal
verify`` report, as readable text or as JSON. Pure: text in, text out."""

from __future__ import annotations

import json
from typing import Any


def render(reply: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(reply, sort_keys=True, default=str)
    if reply.get("type") == "error":
        return f"error ({reply.get('code')}): {reply.get('message')}"
    if reply.get("type") != "admin":
        return "\n".join(render_value(reply))
    result = reply.get("result", {})
    if isinstance(result, dict) and "actors" in result:
        return render_status(result)
    if isinstance(result, dict) and result.get("ok") is True:
        result = {key: value for key, value in result.items() if key != "ok"}
    return "\n".join(render_value(result)) if result else "ok"


def render_status(result: dict[str, Any]) -> str:
    lines = [f"ws port {result.get('ws_port')}   halted: {', '.join(result.get('halted', [])) or 'none'}"]
    if "killed" in result:
        lines[0] += f"   killed: {', '.join(result['killed']) or 'none'}"
    if "import_dir" in result or "export_dir" in result:
        lines.append(f"import dir {result.get('import_dir')}   export dir {result.get('export_dir')}")
    for actor in result["actors"]:
        details = "  ".join(f"{key}={_text(value)}" for key, value in actor.items() if key != "name")
        lines.append(f"  {actor.get('name', '?'):<24} {details}")
    return "\n".join(lines)


def render_value(value: Any, indent: str = "") -> list[str]:
    """Readable lines for any JSON value: a dict as aligned ``key: value`` lines (nested
    values indented below their key), a list of dicts as a table (without the columns that
    are empty in every row), a list of plain values on one line."""
    if isinstance(value, dict):
        return _render_mapping(value, indent)
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return _render_table(value, indent)
    if isinstance(value, list) and not _inline(value):
        lines = []
        for item in value:
            lines += [f"{indent}- {_text(item)}"] if _inline(item) else [f"{indent}-", *render_value(item, indent + "  ")]
        return lines
    return [indent + _text(value)]


def _render_mapping(mapping: dict[str, Any], indent: str) -> list[str]:
    if not mapping:
        return [indent + "(none)"]
    width = max(len(str(key)) for key in mapping) + 1
    lines = []
    for key, item in mapping.items():
        label = f"{key}:"
        if _inline(item):
            lines.append(f"{indent}{label:<{width}} {_text(item)}")
        else:
            lines.append(f"{indent}{label}")
            lines.extend(render_value(item, indent + "  "))
    return lines


def _render_table(rows: list[dict[str, Any]], indent: str) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    # a column no row has a value for (an order's stop_price, notional...) only widens the table
    columns = [column for column in columns if any(row.get(column) is not None for row in rows)] or columns
    cells = [[_text(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(row[index]) for row in cells)) for index, column in enumerate(columns)]

    def line(values: list[str]) -> str:
        return (indent + "  ".join(value.ljust(width) for value, width in zip(values, widths, strict=True))).rstrip()

    return [line(columns), *(line(row) for row in cells)]


def _inline(value: Any) -> bool:
    """Shown on its key's line: a plain value, an empty container, a list of plain values."""
    if isinstance(value, dict):
        return not value
    if isinstance(value, list):
        return not any(isinstance(item, dict | list) for item in value)
    return True


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and _inline(value):
        return ", ".join(_text(item) for item in value) or "(none)"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str) if value else "(none)"
    return str(value)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def render_report(report: dict[str, Any]) -> str:
    """``journal verify``: one line per actor (journal range, snapshots), its issues below."""
    errors, warnings = report["errors"], report["warnings"]
    counts = ", ".join(_count(n, noun) for n, noun in ((len(report["actors"]), "actor"), (errors, "error"), (warnings, "warning")))
    lines = [f"data dir {report['data_dir']}: {counts}"]
    width = max(len(actor["name"]) for actor in report["actors"])
    for actor in report["actors"]:
        first, last = actor["first_seq"], actor["last_seq"]
        journal = f"journal {first}..{last}" if first is not None else "journal empty"
        snapshots = ", ".join(str(seq) for seq in actor["snapshots"]) or "none"
        lines.append(f"  {actor['name']:<{width}}  {journal:<22} snapshots {snapshots}")
        lines += [f"      {issue['severity']:<8} {issue['where']}: {issue['detail']}" for issue in actor["issues"]]
    lines.append("ok" if report["ok"] else "errors found: recovery would stop or load wrong state (see above)")
    return "\n".join(lines)




def render_audit_report(report: dict[str, Any]) -> str:
    """``audit verify``: one line per chain (sequences, records, segments, anchors), its
    findings below (the first bad record, by sequence and reason)."""
    errors, warnings = report["errors"], report["warnings"]
    counts = ", ".join(_count(n, noun) for n, noun in ((len(report["chains"]), "chain"), (report["records"], "record"), (errors, "error"), (warnings, "warning")))
    lines = [f"audit dir {report['audit_dir']}, anchors {report['anchor_dir']}: {counts}"]
    width = max((len(chain["writer"]) for chain in report["chains"]), default=0)
    for chain in report["chains"]:
        first, last = chain["first_seq"], chain["last_seq"]
        span = f"records {first}..{last}" if first is not None else "no records"
        lines.append(f"  {chain['writer']:<{width}}  {span:<24} {_count(chain['segments'], 'segment')}, {_count(chain['anchors'], 'anchor')}")
        lines += [f"      {issue['severity']:<8} {issue['seq']} {issue['reason']}: {issue['detail']}" for issue in chain["issues"]]
    lines.append("ok" if report["ok"] else "errors found: the audit log was changed after it was written (see above)")
    return "\n".join(lines)
