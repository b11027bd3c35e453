"""Books: each symbol's quotes per venue, consolidated into one best bid and offer."""

from __future__ import annotations

from actors.instrument.base import InstrumentBase
from actors.instrument.records import Book
from actors.runtime.outputs import ALL, GATEWAY
from model.enums import AssetClass
from model.messages import MarketUpdate, QuoteEvent, SetTradingStatus, VenueQuote

_MUTUAL_FUND = AssetClass.MUTUAL_FUND  # read on every quote, bound once (model/enums.py says why)


class Books(InstrumentBase):
    """Guarantees: the consolidated quote is the highest bid and the lowest offer over the
    venues quoting the symbol, with the sizes shown at those prices summed; a closed
    venue's last quote leaves the book; every change is published to the ``quotes`` stream
    and, as the symbol's *mark* (``MarketUpdate``), to the account shards for pre-trade
    risk. Marks are soft: they leave in no journaled batch but in ``take_marks`` (the shell
    sends them unsequenced, ``actors/account/marks.py``), and ``marks`` gives every book's
    current one again whenever a shard needs them (it started, its link reopened)."""

    def _take_quote(self, quote: VenueQuote, now: int) -> Book | None:
        """The book the quote changed, or ``None`` when it changes none."""
        book = self.books.get(quote.symbol)
        if book is None or book.instrument.asset_class is _MUTUAL_FUND:
            return None  # a fund trades only at its NAV: a venue's bid or ask for it means nothing here
        book.quotes[quote.venue] = quote
        self._consolidate(book, now)
        return book

    def _drop_quotes(self, venue: str, now: int) -> None:
        """A closed venue's last quote is stale: out of the consolidated book."""
        for book in self.books.values():
            if book.quotes.pop(venue, None) is not None:
                self._consolidate(book, now)

    def _set_trading_status(self, command: SetTradingStatus, now: int) -> None:
        book = self.books.get(command.symbol)
        if book is None:
            return
        book.halted = command.halted
        self._publish(book, now)

    def _consolidate(self, book: Book, now: int) -> None:
        """The best bid (highest) and offer (lowest) over the venues' quotes, each with the
        sizes of every venue at that price; the reference their mid on the tick. One pass
        (every quote a venue sends comes here)."""
        self.nbbo_seen = None  # the quotes changed: the NBBO crossing worked out is no more (``internal.py``)
        bid: int | None = None
        ask: int | None = None
        bid_size = ask_size = 0
        for quote in book.quotes.values():
            price = quote.bid
            if price is not None:
                if bid is None or price > bid:
                    bid, bid_size = price, quote.bid_size
                elif price == bid:
                    bid_size += quote.bid_size
            price = quote.ask
            if price is not None:
                if ask is None or price < ask:
                    ask, ask_size = price, quote.ask_size
                elif price == ask:
                    ask_size += quote.ask_size
        book.bid, book.bid_size, book.ask, book.ask_size = bid, bid_size, ask, ask_size
        if bid is not None and ask is not None:
            tick = book.instrument.tick_size
            book.reference = (bid + ask) // 2 // tick * tick
        self._publish(book, now)

    def take_marks(self) -> list[MarketUpdate]:
        """The marks published since the last call, the latest per symbol (soft: not state)."""
        marks, self.marks_out = self.marks_out, {}
        return list(marks.values())

    def marks(self, now: int) -> list[MarketUpdate]:
        """Every book's current mark — what the shards have been sent, each symbol's last —
        except a book that shows only its instrument's reference price: a shard that has
        none prices at that already (``actors/account/risk.py``), so leaving it out leaves a
        restarted shard's state as a shard that never stopped has it."""
        return [
            _mark(book, now)
            for book in self.books.values()
            if book.bid is not None or book.ask is not None or book.reference != book.instrument.reference_price
        ]

    def _publish(self, book: Book, now: int) -> None:
        symbol = book.instrument.symbol
        self.marks_out[symbol] = _mark(book, now)
        if book.instrument.asset_class is _MUTUAL_FUND:
            # no bid or ask (it fills only at the NAV struck): its quote is the last NAV, once there is one
            if book.nav is not None:
                self.out.to(GATEWAY, ALL, QuoteEvent(symbol, None, 0, None, 0, now, nav=book.nav))
            return
        self.out.to(GATEWAY, ALL, QuoteEvent(symbol, book.bid, book.bid_size, book.ask, book.ask_size, now))


def _mark(book: Book, now: int) -> MarketUpdate:
    return MarketUpdate(book.instrument.symbol, book.bid, book.ask, book.reference, book.halted, now)
