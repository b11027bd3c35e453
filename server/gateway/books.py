"""The books' part of the trader protocol (docs/books.md): the lot fields of an order,
``get_lots`` and ``get_gains`` checked into shard queries, and their answers as JSON. Pure."""

from __future__ import annotations

import msgspec

from model import fixed
from model.calendar import parse_iso_day
from model.config import BooksSection
from model.instruments import Instrument
from model.lots import METHODS, LotMethod
from model.messages import GainsReply, LotsReply, QueryGains, Reply
from model.orders import OrderSpec
from model.transfers import MAX_CASH, lots_problem, qty_problem
from server.gateway.protocol import LotPick, shorten
from server.gateway.validation import Invalid

_encoder = msgspec.json.Encoder()
MAX_LOTS_NAMED = 100  # lots one order may name: a sale of more is several orders


def lot_terms(lot_method: str | None, picks: list[LotPick] | None, spec: OrderSpec, instrument: Instrument) -> tuple[str | None, tuple[tuple[int, int], ...] | None]:
    """An order's ``lot_method`` and ``lots`` checked: the method one of ``model.lots``; lots
    only on a sell with a quantity, each a positive quantity in the instrument's steps, at
    most ``MAX_LOTS_NAMED``, no lot twice; ``specific`` only with lots, and lots only with
    ``specific`` or no method (another would choose other lots than those named). Whether
    the lots exist and hold enough is the owning shard's to say (the order is then rejected)."""
    if lot_method is not None and lot_method not in METHODS:
        raise Invalid("invalid_request", f"lot_method must be one of {', '.join(METHODS)}, not {shorten(lot_method)}")
    if picks is None:
        if lot_method == LotMethod.SPECIFIC:
            raise Invalid("invalid_request", "lot_method specific needs lots")
        return lot_method, None
    if spec.side.value != "sell" or spec.qty is None:
        raise Invalid("invalid_request", "lots are for sell orders with a qty")
    if lot_method not in (None, LotMethod.SPECIFIC):
        raise Invalid("invalid_request", f"lots name the lots to close: lot_method must be specific or absent, not {lot_method}")
    if not 0 < len(picks) <= MAX_LOTS_NAMED:
        raise Invalid("invalid_request", f"lots must name 1 to {MAX_LOTS_NAMED} lots")
    chosen: list[tuple[int, int]] = []
    for pick in picks:
        try:
            qty = fixed.parse_bounded(pick.qty)
        except fixed.DecimalFormatError as error:
            raise Invalid("invalid_request", f"lots: qty: {error}") from None
        if qty <= 0 or qty % instrument.qty_increment:
            raise Invalid("invalid_request", f"lots: qty {pick.qty} must be positive and a multiple of {fixed.format(instrument.qty_increment)}")
        if not 0 < pick.lot_id < 2**63:
            raise Invalid("invalid_request", f"lots: lot_id {pick.lot_id} is not a lot id")
        chosen.append((pick.lot_id, qty))
    if len({lot_id for lot_id, _ in chosen}) != len(chosen):
        raise Invalid("invalid_request", "lots: a lot is named twice")
    return lot_method or LotMethod.SPECIFIC.value, tuple(chosen)


def journal_shares(
    symbol: str, qty_text: str, picks: list[LotPick] | None, instruments: dict[str, Instrument], field: str
) -> tuple[str, int, tuple[tuple[int, int], ...] | None]:
    """A journal entry of shares checked: a known symbol, ``qty`` a decimal above zero in the
    instrument's steps, the ``lots`` named (at most ``MAX_LOTS_NAMED``) each a lot id and a
    quantity in those steps, no lot twice, together at most ``qty``. Whether the account
    holds them is its shard's to say. ``field``: how messages name the entry."""
    instrument = instruments.get(symbol)
    if instrument is None:
        raise Invalid("unknown_symbol", f"{field}unknown symbol {symbol[:32]!r}")
    try:
        qty = fixed.parse(qty_text)
    except fixed.DecimalFormatError:
        raise Invalid("invalid_qty", f"{field}qty must be a decimal string, not {qty_text[:32]!r}") from None
    problem = qty_problem(qty, instrument.qty_increment, MAX_CASH)
    if problem is not None:
        raise Invalid("invalid_qty", f"{field}{problem}")
    if picks is None:
        return instrument.symbol, qty, None
    if len(picks) > MAX_LOTS_NAMED:
        raise Invalid("invalid_lots", f"{field}lots may name at most {MAX_LOTS_NAMED} lots")
    chosen: list[tuple[int, int]] = []
    for pick in picks:
        try:
            chosen.append((pick.lot_id, fixed.parse(pick.qty)))
        except fixed.DecimalFormatError:
            raise Invalid("invalid_lots", f"{field}lots: qty must be a decimal string, not {pick.qty[:32]!r}") from None
    problem = lots_problem(tuple(chosen), qty, instrument.qty_increment)
    if problem is not None:
        raise Invalid("invalid_lots", f"{field}lots: {problem}")
    return instrument.symbol, qty, tuple(chosen)


def day(text: str, field: str) -> int:
    """A ``YYYY-MM-DD`` date as its proleptic ordinal, or ``Invalid``."""
    try:
        return parse_iso_day(text).toordinal()
    except ValueError:
        raise Invalid("invalid_request", f"{field} must be a date YYYY-MM-DD, not {text[:32]!r}") from None


def to_query_gains(account: str, start: str, end: str, cursor: int | None, limit: int | None, books: BooksSection, reply: Reply) -> QueryGains:
    """A ``get_gains`` checked: dates, ``from`` ≤ ``to``, ``limit`` 1 to ``[books] max_gains_page``,
    a cursor ≥ 0 (whether it is a position in the account's gains is the shard's to say)."""
    first, last = day(start, "from"), day(end, "to")
    if first > last:
        raise Invalid("invalid_request", f"from {start} is after to {end}")
    size = books.gains_page_size if limit is None else limit
    if not 1 <= size <= books.max_gains_page:
        raise Invalid("invalid_request", f"limit must be 1 to {books.max_gains_page}")
    if cursor is not None and not 0 <= cursor < 2**63:
        raise Invalid("invalid_request", "cursor must be the next_cursor of a previous page")
    return QueryGains(account, reply, first, last, size, cursor)


def _money(value: int | None) -> str | None:
    return None if value is None else fixed.format_cash(value) if value % fixed.CENT == 0 else fixed.format(value)


def lots_view(reply: LotsReply) -> dict[str, object]:
    return {
        "account": reply.account,
        "lot_method": reply.method,
        "lots": [
            {
                "symbol": lot.symbol,
                "lot_id": lot.lot_id,
                "qty": fixed.format(lot.qty),
                "cost": _money(lot.cost),
                "acquired": lot.acquired,
                "wash_adjustment": _money(lot.adjust),
                "mark": None if lot.mark is None else fixed.format(lot.mark),
                "unrealized": _money(lot.unrealized),
                "term": "long" if lot.long_term else "short",
            }
            for lot in reply.lots
        ],
    }


def gains_view(reply: GainsReply) -> dict[str, object]:
    return {
        "account": reply.account,
        "gains": [
            {
                "lot_id": row.lot_id,
                "symbol": row.symbol,
                "qty": fixed.format(row.qty),
                "acquired": row.acquired,
                "sold": row.sold,
                "proceeds": _money(row.proceeds),
                "cost": _money(row.cost),
                "wash_disallowed": _money(row.disallowed),
                "gain": _money(row.gain),
                "term": "long" if row.long_term else "short",
                "wash_sale": row.wash,
                "order_id": row.order_id,
            }
            for row in reply.closings
        ],
        "next_cursor": reply.next_cursor,
        "totals": {
            "closings": reply.count,
            "proceeds": _money(reply.proceeds),
            "cost": _money(reply.cost),
            "wash_disallowed": _money(reply.disallowed),
            "short_term_gain": _money(reply.short_term),
            "long_term_gain": _money(reply.long_term),
            "gain": _money(reply.short_term + reply.long_term),
        },
    }


def encode_lots(reply: LotsReply) -> bytes:
    return _encoder.encode({"type": "lots", **lots_view(reply)})


def encode_gains(reply: GainsReply) -> bytes:
    return _encoder.encode({"type": "gains", **gains_view(reply)})
