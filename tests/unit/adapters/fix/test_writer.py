"""A FIX message built as its string without quickfix (``adapters/fix/writer.py``) is the very
string quickfix makes of the same fields, and quickfix reads it back whole."""

from __future__ import annotations

import quickfix as fix
from hypothesis import given
from hypothesis import strategies as st

from adapters.fix.dictionary import outgoing
from adapters.fix.tags import MsgType, Tag
from adapters.fix.writer import SOH, MessageWriter


def by_quickfix(msg_type: MsgType, fields: dict[int, str], group: list[dict[int, str]] | None = None) -> str:
    message = fix.Message()
    message.getHeader().setField(Tag.BeginString, "FIX.4.4")
    message.getHeader().setField(Tag.MsgType, msg_type.value)
    for tag, value in fields.items():
        message.setField(tag, value)
    for entry in group or []:
        fix_group = fix.Group(Tag.NoAllocs, Tag.AllocAccount)
        for tag, value in entry.items():
            fix_group.setField(tag, value)
        message.addGroup(fix_group)
    return str(message.toString())


def by_writer(msg_type: MsgType, fields: dict[int, str], group: list[dict[int, str]] | None = None) -> str:
    message = MessageWriter(msg_type)
    for tag, value in fields.items():
        message.set(tag, value)
    for entry in group or []:
        message.add_group(Tag.NoAllocs, Tag.AllocAccount, entry)
    return message.render()


def test_fields_go_in_tag_order_between_the_header_and_the_checksum() -> None:
    fields = {Tag.TransactTime: "20251121-04:40:00.123", Tag.ClOrdID: "c-1", Tag.Symbol: "IBM", Tag.Side: "1", Tag.OrderQty: "0.3"}
    text = by_writer(MsgType.NEW_ORDER_SINGLE, fields)
    assert text == by_quickfix(MsgType.NEW_ORDER_SINGLE, fields)
    assert text.startswith(f"8=FIX.4.4{SOH}9=") and f"{SOH}35=D{SOH}11=c-1{SOH}" in text and text.endswith(SOH)


def test_a_repeating_group_sits_at_its_count_each_entry_led_by_its_delimiter() -> None:
    fields = {Tag.AllocID: "block-1", Tag.Side: "1", Tag.Symbol: "IBM", Tag.AllocNoOrdersType: "0"}
    entries = [{Tag.AllocQty: "100", Tag.AllocAccount: "A1"}, {Tag.AllocAccount: "A2", Tag.AllocQty: "0.5"}]
    text = by_writer(MsgType.ALLOCATION_INSTRUCTION, fields, entries)
    assert text == by_quickfix(MsgType.ALLOCATION_INSTRUCTION, fields, entries)
    assert f"{SOH}78=2{SOH}79=A1{SOH}80=100{SOH}79=A2{SOH}80=0.5{SOH}857=0{SOH}" in text
    assert outgoing(text).toString() == text  # read back with the dictionary: the group survives


def test_a_tag_set_twice_keeps_its_last_value() -> None:
    message = MessageWriter(MsgType.REJECT)
    message.set(Tag.Text, "first")
    message.set(Tag.Text, "second")
    assert f"{SOH}58=second{SOH}" in message.render() and "first" not in message.render()


@given(st.text(alphabet=st.characters(blacklist_characters="\x00\x01", blacklist_categories=("Cs",)), min_size=1, max_size=40))
def test_body_length_and_checksum_count_bytes_as_quickfix_does(text: str) -> None:
    fields = {Tag.RefSeqNum: "7", Tag.Text: text}
    written = by_writer(MsgType.REJECT, fields)
    assert written == by_quickfix(MsgType.REJECT, fields)
    fix.Message(written, True)  # quickfix checks BodyLength and CheckSum
