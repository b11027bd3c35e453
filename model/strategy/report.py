"""A backtest's report: the figures as JSON and a picture as one self-contained HTML file.

Figures (``summary``): P&L (exact: final equity − capital, as a decimal string), fees,
trades, win rate (trades with a positive P&L ÷ trades), exposure (minutes with a position ÷
minutes), the largest drawdown (amount and fraction of the peak), Sharpe and Sortino. The
ratios are statistics of the per-minute returns of the equity curve, annualised by
``periods_per_year`` (252 days × 390 minutes by default): Sharpe = mean ÷ standard deviation
× √periods; Sortino = mean ÷ downside deviation (the root mean square of the negative
returns, over all periods) × √periods; 0 when the deviation is 0. Amounts are exact decimals;
the ratios, statistics, are floats.

The picture: for each symbol its close with the strategy's indicators and its fills (▲ buy,
▼ sell), then the equity curve and the drawdown, as inline SVG (no script, no external
file). Long series are thinned to at most ``max_points`` points per line for drawing only.
"""

from __future__ import annotations

import html
import math
from typing import Any

import msgspec
import numpy as np

from model import fixed
from model.strategy.backtest import BacktestResult

PERIODS_PER_YEAR = 252 * 390
MAX_POINTS = 2_000
_COLOURS = ("#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def summary(result: BacktestResult, periods_per_year: int = PERIODS_PER_YEAR) -> dict[str, Any]:
    equity = result.equity
    capital = result.spec.capital
    final = int(equity[-1]) if len(equity) else capital
    curve = np.r_[capital, equity].astype(np.float64)
    returns = curve[1:] / curve[:-1] - 1.0
    peak = np.maximum.accumulate(np.r_[capital, equity])
    drawdown = peak - np.r_[capital, equity]
    worst = int(np.argmax(drawdown))
    trades = result.trades
    wins = sum(1 for trade in trades if trade.pnl > 0)
    return {
        "strategy": result.spec.name,
        "symbols": list(result.spec.symbols),
        "bars": result.bars,
        "capital": fixed.format_cash(capital),
        "final_equity": fixed.format_cash(final - final % fixed.CENT),
        "pnl": fixed.format_cash(final - capital - (final - capital) % fixed.CENT),
        "fees": fixed.format_cash(sum(trade.fees for trade in trades)),
        "orders": len(result.orders),
        "fills": len(result.fills),
        "trades": len(trades),
        "win_rate": wins / len(trades) if trades else 0.0,
        "exposure": result.exposed / result.bars if result.bars else 0.0,
        "max_drawdown": fixed.format_cash(int(drawdown[worst]) - int(drawdown[worst]) % fixed.CENT),
        "max_drawdown_pct": 100.0 * float(drawdown[worst]) / float(peak[worst]) if peak[worst] else 0.0,
        "sharpe": _ratio(returns, float(np.std(returns)), periods_per_year),
        "sortino": _ratio(returns, math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2))) if len(returns) else 0.0, periods_per_year),
        "stopped": result.stopped,
    }


def _ratio(returns: np.ndarray, deviation: float, periods: int) -> float:
    if not len(returns) or deviation == 0.0:
        return 0.0
    return float(np.mean(returns)) / deviation * math.sqrt(periods)


def report_json(result: BacktestResult) -> bytes:
    """The summary, every trade and the equity curve (decimal strings), as JSON."""
    body = {
        "summary": summary(result),
        "trades": [
            {
                "symbol": t.symbol,
                "opened_ns": t.opened,
                "closed_ns": t.closed,
                "qty": fixed.format(t.qty),
                "entry_price": fixed.format(t.entry_price),
                "exit_price": fixed.format(t.exit_price),
                "pnl": fixed.format_cash(t.pnl),
                "fees": fixed.format_cash(t.fees),
            }
            for t in result.trades
        ],
        "fills": [{"order": f.order_id, "symbol": f.symbol, "side": f.side, "qty": fixed.format(f.qty), "price": fixed.format(f.price), "fee": fixed.format_cash(f.fee), "time_ns": f.time} for f in result.fills],
        "equity": {"time_ns": result.times.tolist(), "equity": [fixed.format(int(v)) for v in result.equity]},
    }
    return msgspec.json.encode(body)


def report_html(result: BacktestResult, max_points: int = MAX_POINTS) -> str:
    """The picture (module docstring): one HTML file, inline SVG only."""
    figures = summary(result)
    parts = [f"<h1>{html.escape(result.spec.name)}</h1>", _table(figures)]
    for symbol in result.spec.symbols:
        closes = result.closes.get(symbol)
        if closes is None or not len(closes):
            continue
        times = result.starts[symbol]
        lines = [("close", times, closes / fixed.SCALE, "#1f77b4")]
        for colour, (name, values) in zip(_COLOURS, sorted(result.recorded.get(symbol, {}).items()), strict=False):
            if not any(name.startswith(p) for p in ("rsi", "stoch", "macd", "atr", "doji", "engulfing", "hammer", "shooting", "morning", "evening")):
                lines.append((name, times, np.asarray(values), colour))  # price-scaled series share the price panel
        marks = [(f.time, f.price / fixed.SCALE, f.side) for f in result.fills if f.symbol == symbol]
        parts.append(f"<h2>{html.escape(symbol)}</h2>" + _svg(lines, marks, max_points))
    equity = result.equity / fixed.SCALE
    peak = np.maximum.accumulate(equity) if len(equity) else equity
    parts.append("<h2>equity</h2>" + _svg([("equity", result.times, equity, "#1f77b4")], [], max_points))
    parts.append("<h2>drawdown</h2>" + _svg([("drawdown", result.times, equity - peak, "#d62728")], [], max_points))
    style = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td{padding:2px 12px;border-bottom:1px solid #ddd}svg{background:#fafafa}"
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(result.spec.name)}</title><style>{style}</style></head><body>{''.join(parts)}</body></html>"


def _table(figures: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(f'{v:.4f}' if isinstance(v, float) else str(v))}</td></tr>" for k, v in figures.items())
    return f"<table>{rows}</table>"


def _thin(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= max_points:
        return x, y
    step = math.ceil(len(x) / max_points)
    return x[::step], y[::step]


def _svg(lines: list[tuple[str, np.ndarray, np.ndarray, str]], marks: list[tuple[int, float, str]], max_points: int, width: int = 1000, height: int = 300) -> str:
    finite = [y[np.isfinite(y)] for _, _, y, _ in lines]
    values = np.concatenate([f for f in finite if len(f)] + [np.array([p for _, p, _ in marks])]) if marks or any(len(f) for f in finite) else np.array([0.0])
    x_all = np.concatenate([x for _, x, _, _ in lines])
    x0, x1 = float(x_all.min()), float(x_all.max())
    y0, y1 = float(np.min(values)), float(np.max(values))
    if y1 == y0:
        y1 = y0 + 1.0
    pad = 40

    def sx(x: float) -> float:
        return pad + (x - x0) / ((x1 - x0) or 1.0) * (width - 2 * pad)

    def sy(y: float) -> float:
        return height - pad - (y - y0) / (y1 - y0) * (height - 2 * pad)

    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}'>"]
    out.append(f"<text x='2' y='{pad - 8}' font-size='11'>{y1:.2f}</text><text x='2' y='{height - pad + 12}' font-size='11'>{y0:.2f}</text>")
    for index, (name, x, y, colour) in enumerate(lines):
        xs, ys = _thin(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), max_points)
        points = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(xs.tolist(), ys.tolist(), strict=False) if math.isfinite(b))
        out.append(f"<polyline fill='none' stroke='{colour}' stroke-width='1' points='{points}'/>")
        out.append(f"<text x='{pad + 120 * index}' y='14' font-size='12' fill='{colour}'>{html.escape(name)}</text>")
    for time, price, side in marks:
        px, py = sx(time), sy(price)
        tip = 8 if side == "buy" else -8  # ▲ under the price for a buy, ▼ over it for a sale
        shape = f"{px - 4:.1f},{py + tip:.1f} {px + 4:.1f},{py + tip:.1f} {px:.1f},{py:.1f}"
        out.append(f"<polygon points='{shape}' fill='{'#2ca02c' if side == 'buy' else '#d62728'}'/>")
    out.append("</svg>")
    return "".join(out)
