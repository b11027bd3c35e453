from __future__ import annotations

from model.messages import control
from model.messages.control import (
    AdminCancelAll,
    OpenAccount,
    OpenMarket,
    SetKill,
    SetTradingStatus,
    StrikeNav,
    VenueRecovered,
    VenueSetSession,
    VenueStart,
    VenueTick,
    VenueWireIn,
    VenueWireSent,
)
from tests.unit.model.messages.support import tags_of

TAGS = {
    SetTradingStatus: 80,
    SetKill: 81,
    AdminCancelAll: 82,
    OpenAccount: 83,
    OpenMarket: 84,
    StrikeNav: 85,
    VenueStart: 90,
    VenueTick: 91,
    VenueSetSession: 92,
    VenueWireIn: 93,
    VenueWireSent: 94,
    VenueRecovered: 95,
}


def test_every_control_message_keeps_its_tag() -> None:
    assert tags_of(control) == TAGS
