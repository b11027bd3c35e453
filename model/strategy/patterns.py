"""Candlestick patterns, one bar at a time, with TA-Lib's definitions and candle settings.

Each pattern's ``value`` after a bar is TA-Lib's output divided by 100: ``+1`` bullish,
``-1`` bearish, ``0`` none (engulfing also ``±0.8`` when the bodies share an end, as TA-Lib
says ``±80``). "Average" below is TA-Lib's candle average over the candles *before* the one
it is about (``avg(setting, i)``: the mean of the setting's range over its period of
candles ending at i−1, times its factor):

=================  ==========================  ======  ======
setting            range of a candle           period  factor
=================  ==========================  ======  ======
body_long          real body |c − o|           10      1.0
body_short         real body                   10      1.0
body_doji          high − low                  10      0.1
shadow_long        the candle's own real body  0       1.0
shadow_very_short  high − low                  10      0.1
near               high − low                  5       0.2
=================  ==========================  ======  ======

* doji: real body ≤ avg(body_doji).
* engulfing: a white (c ≥ o) body engulfs the black one before it, or the reverse; ``±1``,
  ``±0.8`` when an end is shared.
* hammer (+1): small body (< avg(body_short)), lower shadow > its body, upper shadow <
  avg(shadow_very_short), the body's bottom ≤ the previous low + avg(near, i−1).
* shooting star (−1): small body, upper shadow > its body, lower shadow < avg(shadow_very_short),
  the body gapping up from the previous body.
* morning star (+1): a long black candle, a short body gapping down from it, a white body
  longer than short closing above the first's close + 30 % of its body. evening star (−1):
  the mirror.

Each is ready once it has the candles its averages need (TA-Lib's lookback + 1).
"""

from __future__ import annotations

from collections import deque

from model.strategy.indicators import Indicator

PENETRATION = 0.3  # TA-Lib's default for the morning and evening star
_BODY_PERIOD = 10
_NEAR_PERIOD = 5


class _Candles(Indicator):
    """The last ``keep`` candles as (open, high, low, close), oldest first."""

    __slots__ = ("bars", "count")
    keep = 1  # candles remembered
    needs = 1  # candles before the first answer

    def __init__(self) -> None:
        super().__init__()
        self.warmup = self.needs
        self.bars: deque[tuple[float, float, float, float]] = deque(maxlen=self.keep)
        self.count = 0

    def update(self, o: float, h: float, l: float, c: float, v: float, session: int) -> None:  # noqa: E741
        self.bars.append((o, h, l, c))
        self.count += 1
        if self.count >= self.warmup:
            self.ready = True
            self.value = self.detect(self.bars)
        else:
            self.value = 0.0

    def detect(self, bars: deque[tuple[float, float, float, float]]) -> float:
        raise NotImplementedError


def _body(bar: tuple[float, float, float, float]) -> float:
    return abs(bar[3] - bar[0])


def _range(bar: tuple[float, float, float, float]) -> float:
    return bar[1] - bar[2]


def _upper(bar: tuple[float, float, float, float]) -> float:
    return bar[1] - max(bar[0], bar[3])


def _lower(bar: tuple[float, float, float, float]) -> float:
    return min(bar[0], bar[3]) - bar[2]


def _white(bar: tuple[float, float, float, float]) -> bool:
    return bar[3] >= bar[0]


def _average(bars: list[tuple[float, float, float, float]], end: int, period: int, size: object, factor: float) -> float:
    """TA-Lib's candle average: ``factor ×`` the mean of ``size`` over ``period`` candles before ``end``."""
    total = 0.0
    for bar in bars[end - period : end]:
        total += size(bar)  # type: ignore[operator]
    return factor * total / period


class Doji(_Candles):
    keep = _BODY_PERIOD + 1
    needs = _BODY_PERIOD + 1

    def detect(self, bars: deque[tuple[float, float, float, float]]) -> float:
        rows = list(bars)
        return 1.0 if _body(rows[-1]) <= _average(rows, len(rows) - 1, _BODY_PERIOD, _range, 0.1) else 0.0


class Engulfing(_Candles):
    keep = 2
    needs = 3  # TA-Lib's lookback is 2 although the pattern needs two candles

    def detect(self, bars: deque[tuple[float, float, float, float]]) -> float:
        (o1, _, _, c1), (o2, _, _, c2) = bars[-2], bars[-1]
        white2, white1 = c2 >= o2, c1 >= o1
        if white2 and not white1:
            hit = (c2 >= o1 and o2 < c1) or (c2 > o1 and o2 <= c1)
        elif white1 and not white2:
            hit = (o2 >= c1 and c2 < o1) or (o2 > c1 and c2 <= o1)
        else:
            hit = False
        if not hit:
            return 0.0
        strength = 1.0 if o2 != c1 and c2 != o1 else 0.8
        return strength if white2 else -strength


class Hammer(_Candles):
    keep = _BODY_PERIOD + 1
    needs = _BODY_PERIOD + 2  # TA-Lib's lookback 11

    def detect(self, bars: deque[tuple[float, float, float, float]]) -> float:
        rows = list(bars)
        i = len(rows) - 1
        bar, before = rows[i], rows[i - 1]
        if (
            _body(bar) < _average(rows, i, _BODY_PERIOD, _body, 1.0)
            and _lower(bar) > _body(bar)
            and _upper(bar) < _average(rows, i, _BODY_PERIOD, _range, 0.1)
            and min(bar[0], bar[3]) <= before[2] + _average(rows, i - 1, _NEAR_PERIOD, _range, 0.2)
        ):
            return 1.0
        return 0.0


class ShootingStar(_Candles):
    keep = _BODY_PERIOD + 1
    needs = _BODY_PERIOD + 2

    def detect(self, bars: deque[tuple[float, float, float, float]]) -> float:
        rows = list(bars)
        i = len(rows) - 1
        bar, before = rows[i], rows[i - 1]
        if (
            _body(bar) < _average(rows, i, _BODY_PERIOD, _body, 1.0)
            and _upper(bar) > _body(bar)
            and _lower(bar) < _average(rows, i, _BODY_PERIOD, _range, 0.1)
            and max(before[0], before[3]) < min(bar[0], bar[3])
        ):
            return -1.0
        return 0.0


class _Star(_Candles):
    keep = _BODY_PERIOD + 3
    needs = _BODY_PERIOD + 3  # TA-Lib's lookback 12
    bullish = True

    def detect(self, bars: deque[tuple[float, float, float, float]]) -> float:
        rows = list(bars)
        i = len(rows) - 1
        first, second, third = rows[i - 2], rows[i - 1], rows[i]
        if not (
            _body(first) > _average(rows, i - 2, _BODY_PERIOD, _body, 1.0)
            and _body(second) <= _average(rows, i - 1, _BODY_PERIOD, _body, 1.0)
            and _body(third) > _average(rows, i, _BODY_PERIOD, _body, 1.0)
        ):
            return 0.0
        if self.bullish:
            hit = (
                not _white(first)
                and max(second[0], second[3]) < min(first[0], first[3])
                and _white(third)
                and third[3] > first[3] + _body(first) * PENETRATION
            )
            return 1.0 if hit else 0.0
        hit = (
            _white(first)
            and min(second[0], second[3]) > max(first[0], first[3])
            and not _white(third)
            and third[3] < first[3] - _body(first) * PENETRATION
        )
        return -1.0 if hit else 0.0


class MorningStar(_Star):
    bullish = True


class EveningStar(_Star):
    bullish = False
