"""``python -m server.backtest``: a strategy file over a bars file, its report written.

    python -m server.backtest STRATEGY.toml BARS.csv|.parquet [--json report.json] [--html report.html]
                              [--config conf/server.toml]

The instruments and the ``[strategies]`` settings come from the server's configuration. A bad
strategy file or bars file prints every finding and exits 2 before anything runs; a run
prints its summary as JSON on stdout and exits 0 (docs/strategies.md). The strategy file is
the operator's own: here alone it may name a Python class (``strategy.python``), imported
and checked before the run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from model.config import load_setup
from model.risk.history import HistoryError, load_bars
from model.strategy.backtest import run_backtest
from model.strategy.engine import python_class
from model.strategy.report import report_html, report_json, summary
from model.strategy.spec import StrategyError, load_strategy

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.backtest", description="backtest a strategy file over minute bars")
    parser.add_argument("strategy", help="the strategy file (TOML)")
    parser.add_argument("bars", help="minute bars: CSV or .parquet, symbol,start,open,high,low,close,volume")
    parser.add_argument("--json", help="write the report as JSON here")
    parser.add_argument("--html", help="write the picture (HTML with inline SVG) here")
    parser.add_argument("--config", default=str(ROOT / "conf" / "server.toml"))
    args = parser.parse_args(argv)
    setup = load_setup(args.config)
    settings = setup.config.strategies
    instruments = {instrument.symbol: instrument for instrument in setup.instruments}
    try:
        spec = load_strategy(args.strategy, instruments, python=True)
        if spec.python:
            python_class(spec, args.strategy)
        bars = load_bars(args.bars, settings.history_max_gap_minutes)
        missing = [symbol for symbol in spec.symbols if symbol not in bars.symbols]
        if missing:
            raise HistoryError(args.bars, [f"no bars for {symbol}, a symbol of the strategy" for symbol in missing])
    except (StrategyError, HistoryError) as error:
        print(error, file=sys.stderr)
        return 2
    result = run_backtest(spec, instruments, bars, record=bool(args.html), max_rejections=settings.max_rejections)
    if args.json:
        Path(args.json).write_bytes(report_json(result))
    if args.html:
        Path(args.html).write_text(report_html(result, settings.report_max_points), encoding="utf-8")
    print(json.dumps(summary(result, settings.periods_per_year), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
