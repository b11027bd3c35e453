"""The FIX market maker's market data subscriptions (``adapters/fix/simulator/marketdata.py``)."""

from __future__ import annotations

from adapters.fix.simulator.marketdata import Subscriptions
from adapters.fix.simulator.messages import MarketDataRejected, MarketDataRequest, MarketDataSent, Quote
from adapters.fix.tags import MDReqRejReason, SubscriptionRequestType

SYMBOLS = {"IBM", "AAPL"}


def quote(symbol: str) -> Quote:
    return Quote(symbol, f"Q-{symbol}", 1, 2, 3, 4)


def test_a_snapshot_answers_once_and_a_subscription_on_every_quote_until_it_ends() -> None:
    subscriptions = Subscriptions()
    snapshot = subscriptions.request(MarketDataRequest("S", "md0", SubscriptionRequestType.SNAPSHOT, ["IBM", "AAPL"]), SYMBOLS, quote)
    assert [(event.request_id, event.quote.symbol) for event in snapshot if isinstance(event, MarketDataSent)] == [("md0", "IBM"), ("md0", "AAPL")]
    assert subscriptions.on_quote(quote("IBM")) == []
    subscriptions.request(MarketDataRequest("S", "md1", SubscriptionRequestType.SUBSCRIBE, ["AAPL"]), SYMBOLS, quote)
    subscriptions.request(MarketDataRequest("U", "md1", SubscriptionRequestType.SUBSCRIBE, ["AAPL", "IBM"]), SYMBOLS, quote)
    assert [(event.session, event.request_id) for event in subscriptions.on_quote(quote("AAPL"))] == [("S", "md1"), ("U", "md1")]
    assert subscriptions.request(MarketDataRequest("S", "md1", SubscriptionRequestType.UNSUBSCRIBE, []), SYMBOLS, quote) == []
    subscriptions.end("U")
    assert subscriptions.on_quote(quote("AAPL")) == []


def test_unknown_symbols_and_a_repeated_md_req_id_are_rejected_whole() -> None:
    subscriptions = Subscriptions()
    (unknown,) = subscriptions.request(MarketDataRequest("S", "md1", SubscriptionRequestType.SUBSCRIBE, ["IBM", "NOPE"]), SYMBOLS, quote)
    assert isinstance(unknown, MarketDataRejected) and unknown.reason is MDReqRejReason.UNKNOWN_SYMBOL
    (empty,) = subscriptions.request(MarketDataRequest("S", "md2", SubscriptionRequestType.SNAPSHOT, []), SYMBOLS, quote)
    assert isinstance(empty, MarketDataRejected) and empty.text == "no symbols requested"
    subscriptions.request(MarketDataRequest("S", "md1", SubscriptionRequestType.SUBSCRIBE, ["IBM"]), SYMBOLS, quote)
    (again,) = subscriptions.request(MarketDataRequest("S", "md1", SubscriptionRequestType.SUBSCRIBE, ["IBM"]), SYMBOLS, quote)
    assert isinstance(again, MarketDataRejected) and again.reason is MDReqRejReason.DUPLICATE_MD_REQ_ID
    assert subscriptions.by_session == {"S": {"md1": ["IBM"]}}
