"""FIX messages for the FIX package's tests: as a venue's session delivers them, and as the
counterparty gets what brokerd builds (through quickfix's own wire form)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import quickfix as fix

from adapters.fix.dictionary import outgoing
from adapters.fix.inbound import Inbound, decode_execution_report
from adapters.fix.spec import fix44_dictionary
from adapters.fix.tags import Tag
from model import fixed
from model.enums import OrderType, Side, TimeInForce
from model.messages import VenueNewOrder
from model.orders import OrderSpec

SOH = "\x01"
STRICT = fix.DataDictionary(str(fix44_dictionary()))  # quickfix's defaults, as a counterparty's session checks
T0 = 1_763_700_000_123_456_789  # 2025-11-21 04:40:00.123456789 UTC
T0_FIX = "20251121-04:40:00.123"
VENUE = "MM1"
Fields = dict[int, str | None]


def number(text: str) -> int:
    return fixed.parse(text)


# --- helpers --------------------------------------------------------------------------------------


def stamp(msg: Any, seq: int = 7, sender: str = "BROKER", target: str = "MM1") -> Any:
    """Fill in the header a quickfix session adds before sending. A message brokerd built
    (a string) is first parsed back as the session does (``dictionary.outgoing``)."""
    if isinstance(msg, str):
        msg = outgoing(msg)
    header = msg.getHeader()
    header.setField(8, "FIX.4.4")
    header.setField(49, sender)
    header.setField(56, target)
    header.setField(34, str(seq))
    header.setField(52, T0_FIX)
    return msg


def over_the_wire(msg: Any) -> Any:
    """What the other side gets: the string quickfix sends, parsed back and validated strictly."""
    text = stamp(msg).toString()
    assert text.startswith("8=FIX.4.4" + SOH) and text.endswith(SOH)
    parsed = fix.Message(text, STRICT, True)
    STRICT.validate(parsed)
    assert parsed.toString() == text
    return parsed


def fields_of(msg: Any, *tags: int) -> dict[int, str | None]:
    return {tag: msg.getField(tag) if msg.isSetField(tag) else None for tag in tags}


def from_venue(msg_type: str, fields: Fields, groups: Sequence[Fields] = (), poss_dup: bool = False) -> Any:
    """A message as a venue's session would deliver it: stamped, sent, parsed with the FIX 4.4
    dictionary, but not validated (that is the codec's job)."""
    msg = fix.Message()
    stamp(msg, sender="MM1", target="BROKER")
    msg.getHeader().setField(35, msg_type)
    if poss_dup:
        msg.getHeader().setField(43, "Y")
        msg.getHeader().setField(122, T0_FIX)
    for tag, value in fields.items():
        if value is not None:
            msg.setField(tag, value)
    for entry in groups:
        group = fix.Group(Tag.NoMDEntries, Tag.MDEntryType)
        for tag, value in entry.items():
            if value is not None:
                group.setField(tag, value)
        msg.addGroup(group)
    return fix.Message(msg.toString(), STRICT, True)


def changed(base: Fields, changes: Fields) -> Fields:
    return {**base, **changes}


TRADE: Fields = {
    11: "child-1",
    37: "V-1",
    17: "E-1",
    150: "F",
    39: "1",
    55: "IBM",
    54: "1",
    32: "0.1",
    31: "150.25",
    151: "0.2",
    14: "0.1",
    6: "150.25",
    60: T0_FIX,
}
ACCEPTED: Fields = changed(TRADE, {150: "0", 39: "0", 32: None, 31: None, 151: "0.3", 14: "0", 6: "0"})
CANCEL_REJECT: Fields = {37: "V-1", 11: "cancel-1", 41: "child-1", 39: "0", 434: "1"}
QUOTE: Fields = {117: "Q-1", 55: "IBM", 132: "150.20", 133: "150.30", 134: "300", 135: "200.5"}


def execution(changes: Fields | None = None, poss_dup: bool = False) -> Inbound:
    return decode_execution_report(from_venue("8", changed(TRADE, changes or {}), poss_dup=poss_dup), VENUE, T0)


def limit_order(**changes: Any) -> VenueNewOrder:
    """A limit child; ``changes`` may name the order's terms (its spec) or the child's own fields."""
    spec = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, number("0.3"), None, number("150.25"), None)
    terms = {name: changes.pop(name) for name in list(changes) if name in OrderSpec.__struct_fields__}
    return msgspec.structs.replace(VenueNewOrder("child-1", msgspec.structs.replace(spec, **terms)), **changes)


# What the QuickFIX example executor answers a market order with (it takes limit orders only)
EXECUTOR_REJECT: Fields = {45: "5", 371: "40", 372: "D", 373: "5", 58: "Value is incorrect (out of range) for this tag"}
UNSUPPORTED: Fields = {45: "9", 372: "H", 380: "3", 58: "Unsupported Message Type"}
