"""The conditions of a strategy file: a small expression language, parsed, never ``eval``-ed.

Grammar (precedence from loose to tight; ``and``/``or`` short-circuit)::

    condition  := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | compare
    compare    := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | atom
    atom       := NUMBER | "true" | "false" | FIELD | CALL ("." OUTPUT)? | "(" condition ")"
    CALL       := NAME "(" [arg ("," arg)*] ")"

``FIELD`` is a field of the bar: ``open``, ``high``, ``low``, ``close``, ``volume``; or of the
strategy: ``position`` (the symbol's signed quantity, in units), ``bars_held`` (bars since
the position was opened, 0 when flat). A ``CALL`` is an indicator from ``INDICATORS``
(whose arguments are number literals, its parameters: ``rsi(14)``, ``macd(12, 26, 9).signal``,
``bb(20, 2).upper``), or a function from ``FUNCTIONS`` over expressions (``abs``, ``min``,
``max``, and the stateful ``crosses_above(a, b)``/``crosses_below(a, b)``: ``a`` was at or
below ``b`` on the bar before and is above it now).

Types are checked when parsed: ``and``, ``or``, ``not`` take conditions, arithmetic and
comparisons take numbers, and a strategy's condition must be a condition. Every error is an
``ExpressionError`` naming the column where it was found.

Size: a condition holds at most ``MAX_TOKENS`` tokens and ``MAX_TERMS`` terms (numbers,
fields, ``true``/``false``, calls), nested at most ``MAX_DEPTH`` deep (each parenthesis, a
call's arguments, each ``not`` and each unary ``-`` is one level), and a registry — the
conditions of one strategy, per symbol — at most ``MAX_INDICATORS`` series (its distinct
indicators and each ``crosses_*``), each updated on every bar; beyond, an
``ExpressionError``. Guarantees: parsing and evaluating a condition that was accepted recurse
in proportion to its depth alone — a chain of ``+``/``-`` (or ``*``/``/``), ``and``, ``or``
is evaluated in one loop, however long — so neither can exhaust Python's stack.

Semantics: a number is a float (conditions read statistics, never money). Division by zero
gives NaN, and every comparison with NaN is false. ``Compiled.series`` lists what must be
updated on every bar, in order — indicators first, then the stateful functions — whatever
the short-circuits skip, and ``Compiled.ready()`` says whether all of them are ready: a
strategy evaluates a condition only then (its warm-up).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from model.strategy import indicators as ind
from model.strategy import patterns as pat

SHOWN_CHARS = 200  # how much of a condition an error quotes


class ExpressionError(ValueError):
    """An expression that cannot be parsed or checked: what and where (1-based column)."""

    def __init__(self, text: str, column: int, message: str) -> None:
        self.column = column
        shown = text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"
        super().__init__(f"column {column}: {message} in {shown!r}")


@dataclass(frozen=True)
class IndicatorDef:
    """How an expression names an indicator: its class, parameters (name, default, integer?) and outputs."""

    cls: type[ind.Indicator]
    params: tuple[tuple[str, float | None, bool], ...]
    outputs: tuple[str, ...] = ("value",)


def _int(name: str, default: float | None = None) -> tuple[str, float | None, bool]:
    return (name, default, True)


INDICATORS: dict[str, IndicatorDef] = {
    "sma": IndicatorDef(ind.SMA, (_int("n"),)),
    "ema": IndicatorDef(ind.EMA, (_int("n"),)),
    "rsi": IndicatorDef(ind.RSI, (_int("n", 14),)),
    "macd": IndicatorDef(ind.MACD, (_int("fast", 12), _int("slow", 26), _int("signal", 9)), ("macd", "signal", "hist")),
    "bb": IndicatorDef(ind.Bollinger, (_int("n", 20), ("k", 2.0, False)), ("upper", "middle", "lower")),
    "stoch": IndicatorDef(ind.Stochastic, (_int("k", 5), _int("slow_k", 3), _int("slow_d", 3)), ("k", "d")),
    "atr": IndicatorDef(ind.ATR, (_int("n", 14),)),
    "vwap": IndicatorDef(ind.VWAP, ()),
    "doji": IndicatorDef(pat.Doji, ()),
    "engulfing": IndicatorDef(pat.Engulfing, ()),
    "hammer": IndicatorDef(pat.Hammer, ()),
    "shooting_star": IndicatorDef(pat.ShootingStar, ()),
    "morning_star": IndicatorDef(pat.MorningStar, ()),
    "evening_star": IndicatorDef(pat.EveningStar, ()),
}
MAX_PERIOD = 10_000  # an indicator's period beyond this is a typo, not a strategy
MAX_DEPTH = 20  # nesting levels of a condition: parentheses, a call's arguments, not, unary minus
MAX_TERMS = 200  # numbers, fields, true/false and calls in one condition
MAX_TOKENS = 10 * MAX_TERMS  # a condition's tokens, read no further
MAX_INDICATORS = 64  # series of one registry (a strategy's, per symbol): distinct indicators and each crosses_*
FIELDS = ("open", "high", "low", "close", "volume", "position", "bars_held")
FUNCTIONS = {"abs": 1, "min": 2, "max": 2, "crosses_above": 2, "crosses_below": 2}
_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op><=|>=|==|!=|[-+*/<>(),.]))")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


class Frame:
    """What an expression reads besides indicators: the current bar and the symbol's position
    (floats, set by the strategy before each evaluation)."""

    __slots__ = ("open", "high", "low", "close", "volume", "position", "bars_held")

    def __init__(self) -> None:
        self.open = self.high = self.low = self.close = self.volume = self.position = 0.0
        self.bars_held = 0.0


class Cross(ind.Indicator):
    """``crosses_above``/``crosses_below`` as a series: updated every bar (never skipped by a
    short-circuit), ready once both sides have been ready for two bars."""

    __slots__ = ("a", "b", "above", "before")

    def __init__(self, a: Callable[[], float], b: Callable[[], float], above: bool) -> None:
        super().__init__()
        self.a, self.b, self.above, self.before = a, b, above, math.nan
        self.value = 0.0

    def update(self, o: float, h: float, l: float, c: float, v: float, session: int) -> None:  # noqa: E741
        difference = self.a() - self.b()
        if not self.above:
            difference = -difference
        before, self.before = self.before, difference
        if math.isnan(difference):
            self.ready = False
            return
        if not math.isnan(before):
            self.ready = True
            self.value = 1.0 if before <= 0.0 < difference else 0.0


@dataclass
class Compiled:
    """One parsed condition: ``evaluate()`` on the current frame, the series it needs."""

    text: str
    evaluate: Callable[[], Any]
    series: list[ind.Indicator] = field(default_factory=list)
    warm: bool = False  # every series has been ready: from then on only those that can cool are asked
    volatile: list[ind.Indicator] = field(default_factory=list)

    def ready(self) -> bool:
        if self.warm:
            for series in self.volatile:
                if not series.ready:
                    return False
            return True
        if all(series.ready for series in self.series):
            self.warm = True
            self.volatile = [s for s in self.series if isinstance(s, ind.VWAP | Cross)]  # a new session, a NaN side
            return True
        return False


class Registry:
    """The indicators of one symbol, shared between its conditions: ``rsi(14)`` written twice
    (or in the entry and the exit) is one indicator, updated once per bar."""

    def __init__(self) -> None:
        self.indicators: dict[tuple[str, tuple[float, ...]], ind.Indicator] = {}
        self.derived: list[ind.Indicator] = []  # stateful functions, updated after the indicators

    def indicator(self, name: str, args: tuple[float, ...]) -> ind.Indicator:
        key = (name, args)
        found = self.indicators.get(key)
        if found is None:
            found = self.indicators[key] = INDICATORS[name].cls(*args)  # type: ignore[arg-type]
        return found

    def series(self) -> list[ind.Indicator]:
        """Everything to update each bar, in the order to update it."""
        return [*self.indicators.values(), *self.derived]


@dataclass
class _Node:
    evaluate: Callable[[], Any]
    boolean: bool
    series: list[ind.Indicator]
    constant: float | None = None  # a number literal (maybe negated): an indicator's parameter


class _Parser:
    def __init__(self, text: str, frame: Frame, registry: Registry) -> None:
        self.text, self.frame, self.registry = text, frame, registry
        self.tokens: list[tuple[str, str, int]] = []  # (kind, text, column)
        position = 0
        stripped = text.rstrip()
        while position < len(stripped):
            match = _TOKEN.match(stripped, position)
            if match is None or match.end() == position:
                column = len(stripped) - len(stripped[position:].lstrip()) + 1
                raise ExpressionError(text, column, f"unexpected character {stripped[column - 1]!r}")
            kind = match.lastgroup or ""
            if len(self.tokens) == MAX_TOKENS:
                raise ExpressionError(text, match.start(kind) + 1, f"a condition of more than {MAX_TOKENS} tokens")
            self.tokens.append((kind, match.group(kind), match.start(kind) + 1))
            position = match.end()
        self.tokens.append(("end", "", len(text) + 1))
        self.at = 0
        self.depth = 0  # nesting levels open (``nested``)
        self.terms = 0

    # -- tokens
    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.at]

    def take(self) -> tuple[str, str, int]:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def expect(self, text: str) -> None:
        kind, value, column = self.take()
        if value != text or kind == "num":
            raise ExpressionError(self.text, column, f"expected {text!r}, found {value or 'the end'!r}")

    def fail(self, column: int, message: str) -> ExpressionError:
        return ExpressionError(self.text, column, message)

    def room(self, column: int) -> None:
        """One more series in the registry, or refused beyond ``MAX_INDICATORS``."""
        registry = self.registry
        if len(registry.indicators) + len(registry.derived) >= MAX_INDICATORS:
            raise self.fail(column, f"more than {MAX_INDICATORS} indicators (each crosses_* counted) in one strategy")

    def nested(self, column: int, parse: Callable[[], _Node]) -> _Node:
        """``parse()`` one nesting level deeper: refused beyond ``MAX_DEPTH``, before it recurses."""
        if self.depth >= MAX_DEPTH:
            raise self.fail(column, f"nested more than {MAX_DEPTH} deep")
        self.depth += 1
        node = parse()
        self.depth -= 1
        return node

    # -- grammar
    def parse(self) -> _Node:
        node = self.or_()
        kind, value, column = self.peek()
        if kind != "end":
            raise self.fail(column, f"unexpected {value!r}")
        return node

    def _logic(self, word: str, lower: Callable[[], _Node]) -> _Node:
        column = self.peek()[2]
        node = lower()
        parts = [node]
        while self.peek()[:2] == ("name", word):
            column = self.take()[2]
            parts.append(lower())
        if len(parts) == 1:
            return node
        for part in parts:
            if not part.boolean:
                raise self.fail(column, f"'{word}' joins conditions, not numbers")
        evaluate = _all([part.evaluate for part in parts]) if word == "and" else _any([part.evaluate for part in parts])
        return _Node(evaluate, True, [s for part in parts for s in part.series])

    def or_(self) -> _Node:
        return self._logic("or", self.and_)

    def and_(self) -> _Node:
        return self._logic("and", self.not_)

    def not_(self) -> _Node:
        if self.peek()[:2] == ("name", "not"):
            column = self.take()[2]
            inner = self.nested(column, self.not_)
            if not inner.boolean:
                raise self.fail(column, "'not' takes a condition, not a number")
            f = inner.evaluate
            return _Node(lambda: not f(), True, inner.series)
        return self.compare()

    def compare(self) -> _Node:
        left = self.sum()
        kind, op, column = self.peek()
        if kind != "op" or op not in _COMPARE:
            return left
        self.take()
        right = self.sum()
        self._numbers(column, op, left, right)
        if self.peek()[1] in _COMPARE and self.peek()[0] == "op":
            raise self.fail(self.peek()[2], "comparisons do not chain: join them with 'and'")
        f, g = left.evaluate, right.evaluate
        evaluate: Callable[[], bool]
        if op == "<":
            evaluate = lambda: f() < g()  # noqa: E731
        elif op == "<=":
            evaluate = lambda: f() <= g()  # noqa: E731
        elif op == ">":
            evaluate = lambda: f() > g()  # noqa: E731
        elif op == ">=":
            evaluate = lambda: f() >= g()  # noqa: E731
        elif op == "==":
            evaluate = lambda: f() == g()  # noqa: E731
        else:
            evaluate = lambda: f() != g()  # noqa: E731
        return _Node(evaluate, True, left.series + right.series)

    def _numbers(self, column: int, op: str, *nodes: _Node) -> None:
        for node in nodes:
            if node.boolean:
                raise self.fail(column, f"{op!r} takes numbers, not conditions")

    def sum(self) -> _Node:
        return self._chain("+-", self.product)

    def product(self) -> _Node:
        return self._chain("*/", self.unary)

    def _chain(self, ops: str, lower: Callable[[], _Node]) -> _Node:
        """``lower (op lower)*``, left to right, as one node evaluated in a loop (``_steps``)."""
        node = lower()
        parts, steps = [node], []
        while self.peek()[0] == "op" and self.peek()[1] in ops:
            _, op, column = self.take()
            right = lower()
            self._numbers(column, op, node, right)
            parts.append(right)
            steps.append(op)
        if len(parts) == 1:
            return node
        if len(parts) == 2:
            evaluate = _arithmetic(steps[0], node.evaluate, parts[1].evaluate)
        else:
            evaluate = _steps(node.evaluate, [(_OPERATORS[op], part.evaluate) for op, part in zip(steps, parts[1:], strict=True)])
        return _Node(evaluate, False, [s for part in parts for s in part.series])

    def unary(self) -> _Node:
        if self.peek()[:2] == ("op", "-"):
            column = self.take()[2]
            inner = self.nested(column, self.unary)
            self._numbers(column, "-", inner)
            f = inner.evaluate
            negated = None if inner.constant is None else -inner.constant
            return _Node(lambda: -f(), False, inner.series, negated)
        return self.atom()

    def atom(self) -> _Node:
        kind, value, column = self.take()
        if kind in ("num", "name"):
            self.terms += 1
            if self.terms > MAX_TERMS:
                raise self.fail(column, f"a condition of more than {MAX_TERMS} terms")
        if kind == "num":
            number = float(value)
            return _Node(lambda: number, False, [], number)
        if kind == "op" and value == "(":
            node = self.nested(column, self.or_)
            self.expect(")")
            return node
        if kind != "name":
            raise self.fail(column, f"expected a number, a name or '(', found {value or 'the end'!r}")
        if value in ("true", "false"):
            truth = value == "true"
            return _Node(lambda: truth, True, [])
        if self.peek()[:2] == ("op", "("):
            return self.call(value, column)
        if value in FIELDS:
            frame, name = self.frame, value
            return _Node(lambda: getattr(frame, name), False, [])
        if value in INDICATORS or value in FUNCTIONS:
            raise self.fail(column, f"{value!r} is called with parentheses: {value}(...)")
        raise self.fail(column, f"unknown name {value!r} (fields: {', '.join(FIELDS)})")

    def call(self, name: str, column: int) -> _Node:
        if name not in FUNCTIONS and name not in INDICATORS:
            raise self.fail(column, f"unknown indicator {name!r} (known: {', '.join(sorted(INDICATORS))}; functions: {', '.join(FUNCTIONS)})")
        self.expect("(")
        args: list[_Node] = []
        arg_columns: list[int] = []
        if self.peek()[1] != ")":
            while True:
                arg_columns.append(self.peek()[2])
                args.append(self.nested(column, self.or_))
                if self.peek()[1] != ",":
                    break
                self.take()
        self.expect(")")
        if name in FUNCTIONS:
            return self.function(name, column, args)
        return self.indicator(name, column, args, arg_columns)

    def function(self, name: str, column: int, args: list[_Node]) -> _Node:
        if len(args) != FUNCTIONS[name]:
            raise self.fail(column, f"{name}() takes {FUNCTIONS[name]} argument(s), given {len(args)}")
        self._numbers(column, name, *args)
        series = [s for arg in args for s in arg.series]
        if name == "abs":
            f = args[0].evaluate
            return _Node(lambda: abs(f()), False, series)
        a, b = args[0].evaluate, args[1].evaluate
        if name == "min":
            return _Node(lambda: min(a(), b()), False, series)
        if name == "max":
            return _Node(lambda: max(a(), b()), False, series)
        self.room(column)
        cross = Cross(a, b, above=name == "crosses_above")
        self.registry.derived.append(cross)
        return _Node(lambda: cross.value > 0.0, True, [*series, cross])

    def indicator(self, name: str, column: int, args: list[_Node], arg_columns: list[int]) -> _Node:
        definition = INDICATORS[name]
        if len(args) > len(definition.params):
            raise self.fail(column, f"{name}() takes at most {len(definition.params)} parameter(s) ({', '.join(p[0] for p in definition.params)}), given {len(args)}")
        values: list[float] = []
        for i, (param, default, integer) in enumerate(definition.params):
            if i < len(args):
                number = _literal(args[i])
                if number is None:
                    raise self.fail(arg_columns[i], f"{name}() parameter {param} must be a number")
            elif default is None:
                raise self.fail(column, f"{name}() needs its {param}")
            else:
                number = default
            if integer and (number != int(number) or not 1 <= number <= MAX_PERIOD):
                raise self.fail(arg_columns[i] if i < len(args) else column, f"{name}() parameter {param} must be a whole number from 1 to {MAX_PERIOD}, not {number:g}")
            if not integer and not 0 < number <= 100:
                raise self.fail(arg_columns[i] if i < len(args) else column, f"{name}() parameter {param} must be above 0 and at most 100")
            values.append(int(number) if integer else number)
        output = definition.outputs[0]
        if self.peek()[:2] == ("op", "."):
            self.take()
            kind, output, out_column = self.take()
            if kind != "name" or output not in definition.outputs:
                raise self.fail(out_column, f"{name}() has outputs {', '.join(definition.outputs)}, not {output!r}")
        if (name, tuple(values)) not in self.registry.indicators:
            self.room(column)
        indicator = self.registry.indicator(name, tuple(values))
        if output == "value":
            return _Node(lambda: indicator.value, False, [indicator])
        return _Node(lambda: getattr(indicator, output), False, [indicator])


def _arithmetic(op: str, f: Callable[[], Any], g: Callable[[], Any]) -> Callable[[], Any]:
    """``f op g`` as a closure of its own (a loop that rebinds names must not share them)."""
    if op == "+":
        return lambda: f() + g()
    if op == "-":
        return lambda: f() - g()
    if op == "*":
        return lambda: f() * g()
    return lambda: _divide(f(), g())


def _all(functions: list[Callable[[], Any]]) -> Callable[[], Any]:
    if len(functions) == 2:
        f, g = functions
        return lambda: f() and g()
    return lambda: all(f() for f in functions)


def _any(functions: list[Callable[[], Any]]) -> Callable[[], Any]:
    if len(functions) == 2:
        f, g = functions
        return lambda: f() or g()
    return lambda: any(f() for f in functions)


def _literal(node: _Node) -> float | None:
    """The value of a constant argument (a number, maybe negated), else None."""
    return node.constant


def _divide(a: float, b: float) -> float:
    return a / b if b else math.nan


_OPERATORS: dict[str, Callable[[float, float], float]] = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": _divide}


def _steps(first: Callable[[], Any], steps: list[tuple[Callable[[float, float], float], Callable[[], Any]]]) -> Callable[[], Any]:
    """``first op₁ f₁ op₂ f₂ …`` left to right in one loop: no frame per term."""

    def evaluate() -> Any:
        value = first()
        for op, f in steps:
            value = op(value, f())
        return value

    return evaluate


def compile_condition(text: str, frame: Frame, registry: Registry) -> Compiled:
    """``text`` parsed and checked into a condition over ``frame`` and ``registry``'s indicators."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(str(text), 1, "empty condition")
    node = _Parser(text, frame, registry).parse()
    if not node.boolean:
        raise ExpressionError(text, 1, "a condition must compare something (it is a number)")
    unique = list({id(series): series for series in node.series}.values())  # each once, in first-seen order
    return Compiled(text, node.evaluate, unique)
