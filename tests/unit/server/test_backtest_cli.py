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


@pytest.mark.parametrize("problem", ["strategy", "bars", "symbol", "deep", "nested"])
def test_bad_input_exits_2_with_the_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str], problem: str) -> None:
    changed = {
        "strategy": "rsi(14) <",
        "deep": "(" * 200 + "rsi(14) < 35" + ")" * 200,
        "nested": 'rsi(14) < 35"\nx = ' + "[" * 5_000 + "]" * 5_000 + '\ny = "',
    }
    text = STRATEGY.replace("rsi(14) < 35", changed[problem]) if problem in changed else STRATEGY
    (tmp_path / "s.toml").write_text(text)
    bars = walk(100, symbol="AAPL" if problem == "symbol" else "IBM")
    append_bars_csv(tmp_path / "bars.csv", bars[:50] + bars[51:] if problem == "bars" else bars)
    assert main([str(tmp_path / "s.toml"), str(tmp_path / "bars.csv"), "--json", str(tmp_path / "r.json")]) == 2
    error = capsys.readouterr().err
    findings = {
        "strategy": "entry.when: column 10",
        "bars": "row 51: a gap",
        "symbol": "no bars for IBM",
        "deep": "entry.when: column 21: nested more than 20 deep",
        "nested": "nested too deeply to read",
    }
    assert findings[problem] in error
    assert "Traceback" not in error and not (tmp_path / "r.json").exists()


CODED = """
[strategy]
name = "coded"
symbols = ["IBM"]
python = "{name}"
"""

CLASS = """
class BuyOnce:
    def __init__(self, spec):
        pass

    def on_start(self, ctx):
        pass

    def on_bar(self, ctx, symbol, bar):
        if not ctx.position(symbol) and ctx.working(symbol) is None:
            ctx.buy(symbol, 1_000_000_000)

    def on_fill(self, ctx, fill):
        pass

    def on_reject(self, ctx, order, reason):
        pass

    def on_expire(self, ctx, order):
        pass


NotOne = 3
"""


@pytest.mark.parametrize(
    "name,finding",
    [
        ("strategy_cli_class:BuyOnce", ""),
        ("no_such_module_here:BuyOnce", "cannot be imported: ModuleNotFoundError"),
        ("strategy_cli_class:Missing", "cannot be imported: AttributeError"),
        ("strategy_cli_class:NotOne", "is not a class with"),
    ],
)
def test_the_operators_own_file_may_name_a_class_checked_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, finding: str
) -> None:
    (tmp_path / "strategy_cli_class.py").write_text(CLASS)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "s.toml").write_text(CODED.format(name=name))
    append_bars_csv(tmp_path / "bars.csv", walk(100))
    code = main([str(tmp_path / "s.toml"), str(tmp_path / "bars.csv")])
    captured = capsys.readouterr()
    if not finding:
        assert code == 0 and json.loads(captured.out)["orders"] == 1
        return
    assert code == 2 and finding in captured.err and "Traceback" not in captured.err
