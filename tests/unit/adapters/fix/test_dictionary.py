"""Reading FIX with quickfix's FIX 4.4 dictionary (``adapters/fix/dictionary.py``): parsing keeps
groups, validation names the reject each fault needs, typed reads refuse what is out of range.
(Each decoder on good and bad messages: ``test_inbound.py``.)"""

from __future__ import annotations

import pytest

from adapters.fix import outbound
from adapters.fix.dictionary import (
    Fields,
    Received,
    dictionary,
    groups,
    msg_type,
    outgoing,
    parse,
    plain,
    possible_duplicate,
    read,
    spec,
    validate,
)
from adapters.fix.inbound import decode
from adapters.fix.outbound import allocation_instruction
from adapters.fix.tags import BusinessRejectReason, MsgType, SessionRejectReason, Tag
from adapters.fix.values import CodecError
from model import fixed
from model.enums import Side
from tests.unit.adapters.fix.wire import (
    ACCEPTED,
    CANCEL_REJECT,
    EXECUTOR_REJECT,
    QUOTE,
    SOH,
    T0,
    T0_FIX,
    TRADE,
    UNSUPPORTED,
    changed,
    from_venue,
)


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


# --- the fast path: plain messages read in Python ---------------------------------------------------


def outcome(message: object) -> object:
    """All a venue adapter takes from a received message: its decoding (or the refusal it
    calls for, as sent), its MsgSeqNum and MsgType, and what a refusal of it would say."""
    header = message.getHeader()  # type: ignore[attr-defined]
    seen = tuple(header.getField(tag) if header.isSetField(tag) else None for tag in (Tag.MsgSeqNum, Tag.MsgType, Tag.PossDupFlag))
    error = CodecError("refused here", Tag.ClOrdID, "business")
    refusals = (outbound.business_reject(message, error), outbound.session_reject(message, error))
    try:
        return ("decoded", decode(message, "MM1", T0), seen, refusals)
    except CodecError as refused:
        return ("refused", refused.reason, refused.tag, refused.reject_kind, refused.code, outbound.reject(message, refused), seen)


def rebuild(fields: list[tuple[str, str]]) -> str:
    """A message from its fields as written, BodyLength and CheckSum made to fit."""
    body = "".join(f"{tag}={value}{SOH}" for tag, value in fields if tag not in ("8", "9", "10"))
    head = f"8=FIX.4.4{SOH}9={len(body.encode())}{SOH}"
    return f"{head}{body}10={sum((head + body).encode()) % 256:03d}{SOH}"


def written(raw: str) -> list[tuple[str, str]]:
    return [(part.partition("=")[0], part.partition("=")[2]) for part in raw.split(SOH) if part]


VALUES = ["", " ", "0", "1", "-1", "1.5", "-0.25", ".5", "5.", "1e3", "nan", "0.0000000001", "1000000000000", "Y", "N", "X", "Z",
          "abc", "a=b", "é", "20251121-04:40:00", "20251121-04:40:00.123", "20251321-04:40:00", "2", "8", "F", "IBM"]  # fmt: skip
EXTRA = [("58", "text"), ("1", "ACCT"), ("9999", "x"), ("5001", "user"), ("453", "1"), ("448", "P"), ("95", "3"), ("96", "abc"),
         ("43", "Y"), ("122", T0_FIX), ("93", "2"), ("60", T0_FIX), ("44", "1.5"), ("18", "1 2"), ("15", "USD"), ("75", "20251121")]  # fmt: skip

TYPED = ["206", "157", "126", "912", "44", "45"]  # a char, an int, a timestamp, a boolean, a price, a seq num, none enumerated


def variants() -> list[str]:
    """Good messages of every type the fast path reads, and each broken in many ways: a
    field dropped, given another value, repeated, moved, or one more field of any kind."""
    bases = [from_venue(t, f).toString() for t, f in (("8", TRADE), ("8", ACCEPTED), ("9", CANCEL_REJECT), ("S", QUOTE),
             ("3", EXECUTOR_REJECT), ("j", UNSUPPORTED))] + [from_venue("8", TRADE, poss_dup=True).toString()]  # fmt: skip
    found = []
    for raw in bases:
        fields = written(raw)
        found.append(raw)
        for index, (tag, _) in enumerate(fields):
            if tag in ("8", "9", "10"):
                continue
            found.append(rebuild(fields[:index] + fields[index + 1 :]))
            found += [rebuild([*fields[:index], (tag, value), *fields[index + 1 :]]) for value in VALUES]
            found.append(rebuild([*fields, (tag, fields[index][1])]))  # repeated at the end
            found.append(rebuild([*fields[:index], (f"0{tag}", fields[index][1]), *fields[index + 1 :]]))
        found += [rebuild([*fields, extra]) for extra in EXTRA]
        found += [rebuild([*fields, (tag, value)]) for tag in TYPED for value in VALUES]
        found += [rebuild([fields[2], *fields[:2], *fields[3:]]), raw.replace("10=", "10=x"), raw[:-1], raw + "58=x" + SOH]
    return found


def test_the_fast_path_reads_only_what_quickfix_reads_alike_and_refuses_nothing_itself() -> None:
    taken = 0
    for raw in variants():
        fast = plain(raw)
        if fast is None:
            continue  # quickfix decides
        taken += 1
        assert outcome(fast) == outcome(parse(raw)), raw.replace(SOH, "|")
    assert taken > 100  # good messages, and ones only brokerd's codec refuses (a zero LastQty)


def test_a_plain_message_takes_the_fast_path_and_anything_unusual_goes_to_quickfix() -> None:
    for kind, fields in (("8", TRADE), ("8", ACCEPTED), ("9", CANCEL_REJECT), ("S", QUOTE), ("3", EXECUTOR_REJECT), ("j", UNSUPPORTED)):
        raw = from_venue(kind, fields).toString()
        assert isinstance(read(raw), Received) and outcome(read(raw)) == outcome(parse(raw))
    trade = written(from_venue("8", TRADE).toString())
    for unusual in (
        rebuild([*trade, ("453", "1"), ("448", "P")]),  # a repeating group
        rebuild([*trade, ("5001", "user")]),  # a field the dictionary does not define
        rebuild([*trade, ("18", "1 2")]),  # a field of a type not read here
        rebuild([*trade, ("43", "Y")]),  # the header resumed after the body
        rebuild([(t, "Z" if t == "150" else v) for t, v in trade]),  # a value outside its enumeration
        rebuild([(t, v) for t, v in trade if t != "37"]),  # a required field missing
        from_venue("W", {55: "IBM"}, [{269: "0", 270: "1", 271: "5"}]).toString(),  # a type with groups
    ):
        assert plain(unusual) is None and not isinstance(read(unusual), Received)


def test_the_enumerations_read_from_the_dictionary_file_are_quickfix_s() -> None:
    table = spec()
    data_dictionary = dictionary()
    for tag, values in table.enums.items():
        assert data_dictionary.hasFieldValue(tag), tag
        assert all(data_dictionary.isFieldValue(tag, value) for value in values), tag
        assert not data_dictionary.isFieldValue(tag, "no such value"), tag
    assert table.header_required == {8, 9, 35, 49, 56, 34, 52} and {6, 14, 17, 37, 39, 54, 150, 151} <= table.body_required["8"]
