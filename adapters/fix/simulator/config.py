"""Settings of the FIX market-maker simulator: typed, frozen, read once at start from
``conf/fix/mmsim.toml``; the command line overrides the top-level keys.

Decimal values are strings in the file and fixed-point ``int`` s (``model.fixed``) once
loaded, so no binary float is ever involved. The quickfix sessions themselves are in the
``.cfg`` file beside it; this file is only the market maker's behaviour.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from model import fixed
from model.enums import AssetClass
from model.instruments import Instrument


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class QuoteSection(_Section, frozen=True):
    """How the market maker quotes: a seeded random walk of the mid per symbol."""

    spread_bps: int  # full spread around the mid; half of it each side, at least one tick
    volatility_bps: int  # each tick moves the mid by a whole number of bps in ±volatility_bps
    quote_size: int  # whole shares; each side's size is drawn from [quote_size/2, 3·quote_size/2]
    tick_size: str
    default_start_price: str  # a symbol without an entry in start_prices starts here
    start_prices: dict[str, str] = msgspec.field(default_factory=dict)


class OrderSection(_Section, frozen=True):
    """What the market maker accepts; anything outside is rejected with a reason."""

    qty_increment: str  # every quantity and fill is a whole multiple of it
    max_order_qty: str  # larger OrderQty is absurd: rejected
    max_notional: str  # larger CashOrderQty is absurd: rejected
    price_band_pct: int  # a limit price further than this from the mid is absurd: rejected


class SimulatorSettings(_Section, frozen=True):
    symbols: list[str]
    seed: int
    quote_interval_ms: int
    latency_ms: int  # from the ack to the first fill, and between fills
    fill_parts: int  # a qty order fills in at most this many parts
    resend_on_logon: int  # test mode: resend the last N execution reports with PossDupFlag=Y on logon
    quotes: QuoteSection
    orders: OrderSection
    cancel_on_disconnect: bool = False  # a session's working orders are canceled when it logs out or drops

    def check(self) -> None:
        """Raise ``ValueError`` naming the first setting that cannot work."""
        if not self.symbols or any(not symbol or symbol != symbol.strip() for symbol in self.symbols):
            raise ValueError("symbols: at least one, none blank")
        if self.quote_interval_ms <= 0:
            raise ValueError("quote_interval_ms must be positive")
        if self.latency_ms < 0 or self.resend_on_logon < 0:
            raise ValueError("latency_ms and resend_on_logon must not be negative")
        if self.fill_parts < 1:
            raise ValueError("fill_parts must be at least 1")
        quotes, orders = self.quotes, self.orders
        if quotes.spread_bps < 0 or quotes.volatility_bps < 0 or quotes.quote_size < 1:
            raise ValueError("quotes: spread_bps and volatility_bps ≥ 0, quote_size ≥ 1")
        if not 0 < orders.price_band_pct < 100:
            raise ValueError("orders.price_band_pct must be between 0 and 100")
        for name, text in [
            ("quotes.tick_size", quotes.tick_size),
            ("quotes.default_start_price", quotes.default_start_price),
            ("orders.qty_increment", orders.qty_increment),
            ("orders.max_order_qty", orders.max_order_qty),
            ("orders.max_notional", orders.max_notional),
            *((f"quotes.start_prices.{symbol}", price) for symbol, price in quotes.start_prices.items()),
        ]:
            if _positive(text) is None:
                raise ValueError(f"{name} must be a positive decimal, not {text!r}")

    def start_price(self, symbol: str) -> int:
        return fixed.parse(self.quotes.start_prices.get(symbol, self.quotes.default_start_price))

    def instruments(self) -> list[Instrument]:
        """The symbols quoted as instruments: each with the file's one tick and increment,
        its start price as the reference price, in the order of ``symbols``."""
        tick, increment = fixed.parse(self.quotes.tick_size), fixed.parse(self.orders.qty_increment)
        return [Instrument(symbol, AssetClass.EQUITY, tick, increment, self.start_price(symbol)) for symbol in self.symbols]


def _positive(text: str) -> int | None:
    try:
        value = fixed.parse(text)
    except fixed.DecimalFormatError:
        return None
    return value if value > 0 else None


def load_settings(path: str | Path, **overrides: object) -> SimulatorSettings:
    """The settings in ``path`` with the top-level keys in ``overrides`` (``None`` values
    ignored) replaced; checked. Raises ``ValueError`` for a bad file or value."""
    try:
        settings = msgspec.toml.decode(Path(path).read_bytes(), type=SimulatorSettings)
        settings = msgspec.structs.replace(settings, **{key: value for key, value in overrides.items() if value is not None})
    except (OSError, msgspec.DecodeError, msgspec.ValidationError, TypeError) as error:
        raise ValueError(f"{path}: {error}") from error
    settings.check()
    return settings
