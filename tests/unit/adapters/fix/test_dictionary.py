"""Reading FIX with quickfix's FIX 4.4 dictionary (``adapters/fix/dictionary.py``): parsing keeps
groups, validation names the reject each fault needs, typed reads refuse what is out of range.
(Each decoder on good and bad messages: ``test_inbound.py``.)"""

from __future__ import annotations

import pytest

from adapters.fix.dictionary import Fields, groups, msg_type, outgoing, parse, possible_duplicate, validate
from adapters.fix.outbound import allocation_instruction
from adapters.fix.tags import BusinessRejectReason, MsgType, SessionRejectReason, Tag
from adapters.fix.values import CodecError
from model import fixed
from model.enums import Side
from tests.unit.adapters.fix.wire import QUOTE, T0, TRADE, changed, from_venue


def test_a_message_built_here_reads_back_with_its_group_whole() -> None:
    raw = allocation_instruction("b", "IBM", Side.BUY, fixed.parse("1"), [("A1", fixed.SCALE), ("A2", 2 * fixed.SCALE)], T0)
    message = outgoing(raw)
    assert message.toString() == raw and message.groupCount(Tag.NoAllocs) == 2
    assert [group.getField(Tag.AllocAccount) for group in groups(message, Tag.NoAllocs, Tag.AllocAccount)] == ["A1", "A2"]


def test_parse_reads_what_the_session_received_unchecked() -> None:
    raw = from_venue("8", changed(TRADE, {32: "-1"})).toString()
    message = parse(raw)
    assert msg_type(message) == "8" and message.getField(Tag.LastQty) == "-1"


def test_validate_names_the_reject_the_dictionary_calls_for() -> None:
    validate(from_venue("8", TRADE), MsgType.EXECUTION_REPORT)
    with pytest.raises(CodecError) as missing:
        validate(from_venue("8", changed(TRADE, {37: None})), MsgType.EXECUTION_REPORT)
    assert (missing.value.tag, missing.value.code) == (Tag.OrderID, SessionRejectReason.REQUIRED_TAG_MISSING)
    with pytest.raises(CodecError) as other_type:
        validate(from_venue("S", QUOTE), MsgType.EXECUTION_REPORT)
    assert (other_type.value.reject_kind, other_type.value.code) == ("business", BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE)


def test_a_resend_is_told_by_its_poss_dup_flag() -> None:
    assert possible_duplicate(from_venue("8", TRADE, poss_dup=True))
    assert not possible_duplicate(from_venue("8", TRADE))


def test_typed_reads_refuse_what_brokerd_cannot_take() -> None:
    fields = Fields(from_venue("8", changed(TRADE, {32: "0", 151: "0"})), MsgType.EXECUTION_REPORT)
    assert fields.optional(Tag.Text) is None and fields.text(Tag.Symbol) == "IBM"
    assert fields.amount(Tag.LeavesQty, zero_ok=True) == 0
    with pytest.raises(CodecError) as zero:
        fields.amount(Tag.LastQty)
    assert zero.value.code == SessionRejectReason.VALUE_IS_INCORRECT
    with pytest.raises(CodecError) as unsupported:
        fields.choice(Tag.Side, {"2": Side.SELL})
    assert unsupported.value.tag == Tag.Side


@pytest.mark.parametrize(("text", "seq"), [(None, None), ("45", 45)])
def test_a_sequence_number_is_digits_or_absent(text: str | None, seq: int | None) -> None:
    fields = Fields(from_venue("3", {45: text, 58: "x"}), MsgType.REJECT)
    assert fields.seq_num(Tag.RefSeqNum) == seq


def test_a_group_that_does_not_number_what_it_says_is_refused() -> None:
    message = from_venue("W", {55: "IBM", 268: "2"})
    with pytest.raises(CodecError) as caught:
        list(groups(message, Tag.NoMDEntries, Tag.MDEntryType))
    assert caught.value.code == SessionRejectReason.INCORRECT_NUM_IN_GROUP_COUNT
