"""brokerd's FIX vocabulary (``adapters/fix/tags.py``) checked against the FIX 4.4 data
dictionary quickfix installs: every tag under its FIX name, every message type and every
enumerated value one FIX 4.4 defines."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from enum import Enum

import pytest

from adapters.fix import tags
from adapters.fix.spec import fix44_dictionary
from adapters.fix.tags import MsgType, OrdStatus, Tag
from model.enums import OrderStatus, OrderType, Side, TimeInForce

_ROOT = ET.parse(fix44_dictionary()).getroot()
FIELDS = {int(field.get("number", "0")): field for field in _ROOT.iter("field") if field.get("number")}
MSG_TYPES = {message.get("msgtype") for message in _ROOT.iter("message")}


def values_of(tag: int) -> set[str]:
    return {value.get("enum", "") for value in FIELDS[tag].iter("value")}


def test_every_tag_has_its_fix_44_name_and_number() -> None:
    for tag in Tag:
        assert FIELDS[tag.value].get("name") == tag.name


def test_every_message_type_is_one_fix_44_defines() -> None:
    assert {msg_type.value for msg_type in MsgType} <= MSG_TYPES
    assert {msg_type.value for msg_type in tags.ORDER_MESSAGES} == {"D", "F", "G", "H"}


# OrdStatus 5 (Replaced) is FIX 4.2's; FIX 4.4 reports a replaced order by its fill status. It
# stays in the map for completeness and is never sent: drop copies carry fills, the simulator
# never gives an order that status.
FIX_42_ONLY = {(Tag.OrdStatus, OrdStatus.REPLACED.value)}


@pytest.mark.parametrize(
    ("values", "tag"),
    [
        (tags.ExecTypeCode, Tag.ExecType),
        (tags.OrdStatus, Tag.OrdStatus),
        (tags.OrdRejReason, Tag.OrdRejReason),
        (tags.CxlRejReason, Tag.CxlRejReason),
        (tags.CxlRejResponseTo, Tag.CxlRejResponseTo),
        (tags.MDEntryType, Tag.MDEntryType),
        (tags.SubscriptionRequestType, Tag.SubscriptionRequestType),
        (tags.MDReqRejReason, Tag.MDReqRejReason),
        (tags.SessionRejectReason, Tag.SessionRejectReason),
        (tags.BusinessRejectReason, Tag.BusinessRejectReason),
        # the single values
        ([tags.HANDL_INST_AUTOMATED], Tag.HandlInst),
        ([tags.ALLOC_TRANS_TYPE_NEW], Tag.AllocTransType),
        ([tags.ALLOC_TYPE_CALCULATED], Tag.AllocType),
        ([tags.ALLOC_NO_ORDERS_NOT_SPECIFIED], Tag.AllocNoOrdersType),
        ([tags.YES], Tag.PossDupFlag),
    ],
)
def test_every_enumerated_value_is_one_fix_44_defines(values: Iterable[Enum | str], tag: Tag) -> None:
    wire = {str(value.value if isinstance(value, Enum) else value) for value in values}
    assert wire - {value for field, value in FIX_42_ONLY if field == tag} <= values_of(tag)


@pytest.mark.parametrize(
    ("encoding", "domain", "tag"),
    [(tags.SIDE, Side, Tag.Side), (tags.ORD_TYPE, OrderType, Tag.OrdType), (tags.TIME_IN_FORCE, TimeInForce, Tag.TimeInForce)],
)
def test_every_value_of_brokerds_enums_has_its_fix_code(encoding: dict[Enum, str], domain: type[Enum], tag: Tag) -> None:
    assert set(encoding) == set(domain)
    assert set(encoding.values()) <= values_of(tag)
    assert len(set(encoding.values())) == len(encoding)  # one code each: the map reads back


def test_every_order_status_has_its_ord_status() -> None:
    assert set(tags.ORD_STATUS) == set(OrderStatus)
    assert tags.DONE_ORD_STATUSES == {OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.REJECTED, OrdStatus.EXPIRED}


def test_decoding_reads_the_wire_back_limited_to_what_a_reader_takes() -> None:
    assert tags.decoding(tags.SIDE) == {"1": Side.BUY, "2": Side.SELL}
    assert tags.decoding(tags.ORD_TYPE, only=frozenset({OrderType.MARKET, OrderType.LIMIT})) == {"1": OrderType.MARKET, "2": OrderType.LIMIT}


def test_refusals_are_the_reject_and_the_business_reject() -> None:
    assert [msg_type for msg_type in MsgType if tags.is_refusal(msg_type)] == [MsgType.REJECT, MsgType.BUSINESS_MESSAGE_REJECT]
