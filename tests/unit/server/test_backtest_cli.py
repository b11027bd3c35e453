"""``python -m server.backtest``: a run writes its report; bad input exits 2 before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.risk.history import append_bars_csv
from server.backtest import main
from tests.unit.model.strategy.conftest import walk

STRATEGY = """
[strategy]
name = "cli"
symbols = ["IBM"]
[entry]
when = "rsi(14) < 35"
[exit]
when = "rsi(14) > 60"
"""


def test_a_run_writes_its_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.toml").write_text(STRATEGY)
    append_bars_csv(tmp_path / "bars.csv", walk(3_000))
    code = main([str(tmp_path / "s.toml"), str(tmp_path / "bars.csv"), "--json", str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html")])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["trades"] > 0 and json.loads((tmp_path / "r.json").read_text())["summary"] == printed
    assert "<svg" in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize("problem", ["strategy", "bars", "symbol"])
def test_bad_input_exits_2_with_the_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str], problem: str) -> None:
    text = STRATEGY.replace("rsi(14) < 35", "rsi(14) <") if problem == "strategy" else STRATEGY
    (tmp_path / "s.toml").write_text(text)
    bars = walk(100, symbol="AAPL" if problem == "symbol" else "IBM")
    append_bars_csv(tmp_path / "bars.csv", bars[:50] + bars[51:] if problem == "bars" else bars)
    assert main([str(tmp_path / "s.toml"), str(tmp_path / "bars.csv"), "--json", str(tmp_path / "r.json")]) == 2
    error = capsys.readouterr().err
    assert {"strategy": "entry.when: column 10", "bars": "row 51: a gap", "symbol": "no bars for IBM"}[problem] in error
    assert "Traceback" not in error and not (tmp_path / "r.json").exists()
