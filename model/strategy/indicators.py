"""Streaming indicators: each takes one bar at a time and says when it is ready (warm-up).

Indicators are statistics, so they work in binary floats (a bar's fixed-point prices are
divided by ``fixed.SCALE`` once, by the caller); nothing they return is ever a price, a
quantity or money — a limit price derived from one is rounded to the tick by the strategy
(``model/strategy/rules.py``).

Every indicator has the same shape: ``update(o, h, l, c, v, session)`` takes the bar's
open, high, low, close, volume (floats) and its session number (the local trading day: VWAP
restarts on a new one), ``ready`` says whether ``value`` (and the named ``outputs``) mean
anything yet, and ``warmup`` is how many bars it needs before it is ready. The definitions
follow TA-Lib's (the reference the tests compare against, bar for bar, warm-up included):

* SMA(n): the mean of the last n closes; ready at bar n.
* EMA(n): k = 2/(n+1), seeded with the SMA of the first n closes; ready at bar n.
* RSI(n): Wilder's: the first average gain and loss are the means of the first n changes,
  then ``avg = (avg × (n-1) + x) / n``; ready at bar n+1 (n changes need n+1 closes).
* MACD(fast, slow, signal): EMA(fast) − EMA(slow), both seeded at bar ``slow`` (the fast one
  with the SMA of the last ``fast`` closes, TA-Lib's convention), the signal an EMA of the
  MACD line seeded with its first ``signal`` values; outputs ``macd``, ``signal``, ``hist``;
  ready at bar slow + signal − 1.
* Bollinger(n, k): middle SMA(n), upper/lower ± k population standard deviations; outputs
  ``upper``, ``middle``, ``lower``; ready at bar n.
* Stochastic(k, slow_k, slow_d): fast %K = 100 (close − lowest low) / (highest high − lowest
  low) over k bars (0 when the range is empty), %K its SMA(slow_k), %D the SMA(slow_d) of
  %K; outputs ``k``, ``d``; ready at bar k + slow_k + slow_d − 2.
* ATR(n): true range max(h − l, |h − previous c|, |l − previous c|) from the second bar on;
  the first ATR is the mean of the first n true ranges, then Wilder's smoothing; ready at
  bar n+1.
* VWAP: Σ typical price × volume / Σ volume since the session began, typical price =
  (h + l + c) / 3; a bar without volume weighs nothing; ready once the session has volume.

Guarantees: an indicator's value after bar i depends on bars ≤ i only (nothing reads
ahead); the same bars give the same values on every run.
"""

from __future__ import annotations

import math
from collections import deque


class Indicator:
    """The common shape (module docstring). ``outputs`` names what ``output(name)`` gives."""

    __slots__ = ("ready", "value", "warmup")
    outputs: tuple[str, ...] = ("value",)

    def __init__(self) -> None:
        self.ready = False
        self.value = math.nan
        self.warmup = 1  # bars before ``ready``; each indicator sets its own

    def update(self, o: float, h: float, l: float, c: float, v: float, session: int) -> None:  # noqa: E741
        raise NotImplementedError

    def output(self, name: str) -> float:
        return float(getattr(self, name))


class SMA(Indicator):
    __slots__ = ("n", "window", "total")

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.window, self.total = n, deque[float](), 0.0
        self.warmup = n

    def update(self, o: float, h: float, l: float, c: float, v: float, session: int) -> None:  # noqa: E741
        window = self.window  # ``push`` inlined: the hot path of every backtest
        window.append(c)
        self.total += c
        if len(window) > self.n:
            self.total -= window.popleft()
            self.value = self.total / self.n
        elif len(window) == self.n:
            self.ready = True
            self.value = self.total / self.n

    def push(self, x: float) -> float:
        window = self.window
        window.append(x)
        self.total += x
        if len(window) > self.n:
            self.total -= window.popleft()
        if len(window) == self.n:
            self.ready = True
            return self.total / self.n
        return math.nan


class EMA(Indicator):
    __slots__ = ("n", "k", "count", "seed")

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.k, self.count, self.seed = n, 2.0 / (n + 1), 0, 0.0
        self.warmup = n

    def update(self, o: float, h: float, l: float, c: float, v: float, session: int) -> None:  # noqa: E741
        self.push(c)

    def push(self, x: float) -> float:
        if self.ready:
            self.value += self.k * (x - self.value)
        else:
            self.count += 1
            self.seed += x
            if self.count == self.n:
                self.value, self.ready = self.seed / self.n, True
        return self.value

    def start(self, seed: float) -> None:
        """Ready at once with ``seed`` as its value (MACD seeds its averages itself)."""
        self.value, self.ready = seed, True


class RSI(Indicator):
    __slots__ = ("n", "count", "last", "gain", "loss")

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.count, self.last, self.gain, self.loss = n, 0, math.nan, 0.0, 0.0
        self.warmup = n + 1

    def update(self, o: float, h: float, l: float, c: float, v: float, session: int) -> None:  # noqa: E741
        count = self.count
        self.count = count + 1
        if count == 0:
            self.last = c
            return
        change, self.last = c - self.last, c
        gain, loss = (change, 0.0) if change > 0 else (0.0, -change)
        n = self.n
        if count < n:  # still summing the first n changes
            self.gain += gain
            self.loss += loss
            return
        if count == n:
            self.gain, self.loss = (self.gain + gain) / n, (self.loss + loss) / n
            self.ready = True
        else:
            self.gain = (self.gain * (n - 1) + gain) / n
            self.loss = (self.loss * (n - 1) + loss) / n
        total = self.gain + self.loss
        self.value = 100.0 * self.gain / total if total else 0.0  # TA-Lib: 0 when nothing moved


class MACD(Indicator):
    __slots__ = ("fast", "slow", "signal_ema", "window", "macd", "signal", "hist")
    outputs = ("macd", "signal", "hist")

    def __init__(self, fast: int, slow: int, signal: int) -> None:
        super().__init__()
        if fast > slow:
            fast, slow = slow, fast  # TA-Lib swaps them too
        self.fast, self.slow = EMA(fast), EMA(slow)
        self.signal_ema = EMA(signal)
        self.window = deque[float](maxlen=slow)
        self.macd = self.signal = self.hist = math.nan
        self.warmup = slow + signal - 1

    def update(self, o: float, h: float, l: float, c: float, v: float, session: int) -> None:  # noqa: E741
        fast, slow = self.fast, self.slow
        if not slow.ready:
            window = self.window
            window.append(c)
            if len(window) < slow.n:
                return
            values = list(window)
            slow.start(sum(values) / slow.n)
            fast.start(sum(values[-fast.n :]) / fast.n)
            self.window = deque()  # not needed any more
        else:
            fast.push(c)
            slow.push(c)
        self.macd = fast.value - slow.value
        signal = self.signal_ema.push(self.macd)
        if self.signal_ema.ready:
            self.signal, self.hist, self.ready = signal, self.macd - signal, True
            self.value = self.macd


class Bollinger(Indicator):
    __slots__ = ("n", "k", "window", "total", "squares", "upper", "middle", "lower")
    outputs = ("upper", "middle", "lower")

    def __init__(self, n: int, k: float = 2.0) -> None:
        super().__init__()
        self.n, self.k, self.window, self.total, self.squares = n, float(k), deque[float](), 0.0, 0.0
        self.upper = self.middle = self.lower = math.nan
        self.warmup = n

    def update(self, o: float, h: float, l: float, c: float, v: float, session: int) -> None:  # noqa: E741
        window = self.window
        window.append(c)
        self.total += c
        self.squares += c * c
        if len(window) > self.n:
            old = window.popleft()
            self.total -= old
            self.squares -= old * old
        if len(window) < self.n:
            return
        mean = self.total / self.n
        spread = self.k * math.sqrt(max(self.squares / self.n - mean * mean, 0.0))
        self.middle, self.upper, self.lower, self.value, self.ready = mean, mean + spread, mean - spread, mean, True


class Stochastic(Indicator):
    __slots__ = ("n", "highs", "lows", "slow_k", "slow_d", "k", "d")
    outputs = ("k", "d")

    def __init__(self, n: int = 5, slow_k: int = 3, slow_d: int = 3) -> None:
        super().__init__()
        self.n, self.highs, self.lows = n, deque[float](maxlen=n), deque[float](maxlen=n)
        self.slow_k, self.slow_d = SMA(slow_k), SMA(slow_d)
        self.k = self.d = math.nan
        self.warmup = n + slow_k + slow_d - 2

    def update(self, o: float, h: float, l: float, c: float, v: float, session: int) -> None:  # noqa: E741
        self.highs.append(h)
        self.lows.append(l)
        if len(self.highs) < self.n:
            return
        lowest, highest = min(self.lows), max(self.highs)
        fast = 100.0 * (c - lowest) / (highest - lowest) if highest > lowest else 0.0
        k = self.slow_k.push(fast)
        if not self.slow_k.ready:
            return
        d = self.slow_d.push(k)
        if self.slow_d.ready:
            self.k, self.d, self.value, self.ready = k, d, k, True


class ATR(Indicator):
    __slots__ = ("n", "count", "last", "total")

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.count, self.last, self.total = n, 0, math.nan, 0.0
        self.warmup = n + 1

    def update(self, o: float, h: float, l: float, c: float, v: float, session: int) -> None:  # noqa: E741
        count, last = self.count, self.last
        self.count, self.last = count + 1, c
        if count == 0:
            return
        true_range = max(h - l, abs(h - last), abs(l - last))
        n = self.n
        if count < n:
            self.total += true_range
        elif count == n:
            self.value, self.ready = (self.total + true_range) / n, True
        else:
            self.value = (self.value * (n - 1) + true_range) / n


class VWAP(Indicator):
    __slots__ = ("session", "weighted", "volume")

    def __init__(self) -> None:
        super().__init__()
        self.session, self.weighted, self.volume = -1, 0.0, 0.0

    def update(self, o: float, h: float, l: float, c: float, v: float, session: int) -> None:  # noqa: E741
        if session != self.session:
            self.session, self.weighted, self.volume = session, 0.0, 0.0
            self.ready, self.value = False, math.nan
        if v > 0:
            self.weighted += (h + l + c) / 3.0 * v
            self.volume += v
            self.value, self.ready = self.weighted / self.volume, True
