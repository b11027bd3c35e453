"""The FIX market maker's market data subscriptions: per session, each MarketDataRequest (V)
subscribed by its MDReqID and the symbols it names. Pure; the market maker (``core.py``)
draws the quotes and says which symbols it has."""

from __future__ import annotations

from collections.abc import Callable, Collection

from adapters.fix.simulator.messages import Event, MarketDataRejected, MarketDataRequest, MarketDataSent, Quote
from adapters.fix.tags import MDReqRejReason, SubscriptionRequestType


class Subscriptions:
    """What each session has subscribed to, in the order it asked."""

    def __init__(self) -> None:
        self.by_session: dict[str, dict[str, list[str]]] = {}  # session → MDReqID → symbols

    def request(self, request: MarketDataRequest, symbols: Collection[str], quote: Callable[[str], Quote]) -> list[Event]:
        """A snapshot per symbol now; ``subscribe`` also sends one on every tick until
        ``unsubscribe`` (or logout). Symbols not among ``symbols`` reject the whole request,
        as does a subscription under an MDReqID already subscribed."""
        subscriptions = self.by_session.setdefault(request.session, {})
        if request.subscription is SubscriptionRequestType.UNSUBSCRIBE:
            subscriptions.pop(request.request_id, None)
            return []
        unknown = [symbol for symbol in request.symbols if symbol not in symbols]
        if unknown or not request.symbols:
            text = f"unknown symbols {unknown}" if unknown else "no symbols requested"
            return [MarketDataRejected(request.session, request.request_id, MDReqRejReason.UNKNOWN_SYMBOL, text)]
        if request.subscription is SubscriptionRequestType.SUBSCRIBE:
            if request.request_id in subscriptions:
                reason = MDReqRejReason.DUPLICATE_MD_REQ_ID
                return [MarketDataRejected(request.session, request.request_id, reason, "MDReqID already subscribed")]
            subscriptions[request.request_id] = list(request.symbols)
        return [MarketDataSent(request.session, request.request_id, quote(symbol)) for symbol in request.symbols]

    def on_quote(self, quote: Quote) -> list[Event]:
        """A snapshot of ``quote`` for every subscription that names its symbol."""
        return [
            MarketDataSent(session, request_id, quote)
            for session, subscriptions in self.by_session.items()
            for request_id, symbols in subscriptions.items()
            if quote.symbol in symbols
        ]

    def end(self, session: str) -> None:
        """``session`` logged out: its subscriptions end."""
        self.by_session.pop(session, None)
