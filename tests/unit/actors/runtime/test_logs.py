"""Structured logs: one JSON object per line on stderr, below the configured level nothing,
a traceback (when one is asked for) inside its line. Run in a child process, whose stderr is
the real one, so the process-wide logging setup of these tests is left alone."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[4]


def logged(level: str, body: str) -> tuple[list[dict[str, Any]], str]:
    script = textwrap.dedent(
        f"""
        import structlog
        from actors.runtime.logs import configure
        configure({level!r})
        log = structlog.get_logger().bind(actor="account-0")
        """
    ) + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(ROOT)}, check=True)
    return [json.loads(line) for line in done.stderr.splitlines()], done.stdout


def test_each_event_is_one_json_line_on_stderr_with_its_level_time_and_bound_ids() -> None:
    events, stdout = logged("info", 'log.info("link refused", peer="127.0.0.1:5", reason="bad mac")\n')
    (event,) = events
    assert stdout == ""
    assert {key: event[key] for key in ("event", "level", "actor", "peer", "reason")} == {
        "event": "link refused", "level": "info", "actor": "account-0", "peer": "127.0.0.1:5", "reason": "bad mac",
    }
    assert event["timestamp"].endswith("Z")  # ISO, UTC


def test_events_below_the_configured_level_are_dropped() -> None:
    events, _ = logged("warning", 'log.info("quiet")\nlog.debug("quieter")\nlog.warning("loud")\nlog.error("louder")\n')
    assert [event["event"] for event in events] == ["loud", "louder"]


def test_the_level_name_is_case_insensitive() -> None:
    events, _ = logged("DEBUG", 'log.debug("seen")\n')
    assert [event["event"] for event in events] == ["seen"]


def test_an_exception_asked_for_stays_inside_its_one_line() -> None:
    events, _ = logged("info", 'try:\n    1 / 0\nexcept ZeroDivisionError:\n    log.error("failed", exc_info=True)\n')
    (event,) = events
    assert event["event"] == "failed" and "ZeroDivisionError" in event["exception"]
