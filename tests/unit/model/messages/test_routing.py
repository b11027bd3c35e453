from __future__ import annotations

from model.messages import routing
from model.messages.routing import (
    AllocationReport,
    CancelRoute,
    MarketUpdate,
    OrderUpdate,
    QuoteEvent,
    ReplaceRoute,
    RouteOrder,
    VenueCancel,
    VenueCancelAll,
    VenueNewOrder,
    VenueQuote,
    VenueReplace,
    VenueReport,
    VenueSessionChanged,
)
from tests.unit.model.messages.support import tags_of

TAGS = {
    RouteOrder: 30,
    CancelRoute: 31,
    ReplaceRoute: 32,
    VenueNewOrder: 40,
    VenueCancel: 41,
    VenueReplace: 42,
    VenueCancelAll: 43,
    VenueReport: 50,
    VenueQuote: 51,
    VenueSessionChanged: 52,
    OrderUpdate: 60,
    MarketUpdate: 61,
    AllocationReport: 62,
    QuoteEvent: 70,
}


def test_every_message_that_works_an_order_keeps_its_tag() -> None:
    assert tags_of(routing) == TAGS
