"""Reading FIX 4.4 with quickfix's data dictionary: parse a message, check it against the
dictionary, read its fields typed. Every failure is a ``CodecError`` saying which reject it
needs; the decoders (``inbound.py``) build on this.

quickfix has no type stubs, so its objects are ``Any`` here and stay at the edge of the FIX
package: callers of the decoders get domain structs back.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import quickfix as fix

from adapters.fix.spec import fix44_dictionary
from adapters.fix.tags import YES, BusinessRejectReason, MsgType, SessionRejectReason, Tag
from adapters.fix.values import CodecError, business_error, from_fix_decimal, in_range, label, session_error


@functools.cache
def dictionary() -> Any:
    """The FIX 4.4 ``quickfix.DataDictionary`` decoders check against: required fields, enum
    values, data formats, group counts. Lenient about field order and user-defined or unknown
    fields, which sessions may be configured to allow: the codec must not refuse for form what
    the session let through."""
    data_dictionary = fix.DataDictionary(str(fix44_dictionary()))
    data_dictionary.checkFieldsOutOfOrder(False)
    data_dictionary.checkUserDefinedFields(False)
    data_dictionary.allowUnknownMsgFields(True)
    return data_dictionary


def parse(raw: str) -> Any:
    """A FIX string as a ``quickfix.Message`` read with the FIX 4.4 dictionary, so that its
    repeating groups survive (without it quickfix reads every field as flat). Not checked:
    that is ``validate``'s job. Raises quickfix's own errors for what it cannot read at all."""
    return fix.Message(raw, dictionary(), False)


def outgoing(raw: str) -> Any:
    """A message this side built (``outbound.py``) and journaled as a string, parsed back to
    hand to the session: its repeating groups (an allocation's NoAllocs) go out in the
    dictionary's order, not flattened and sorted by tag."""
    return parse(raw)


_QUICKFIX_REJECT_REASONS: list[tuple[type[Exception], SessionRejectReason]] = [
    (fix.RequiredTagMissing, SessionRejectReason.REQUIRED_TAG_MISSING),
    (fix.FieldNotFound, SessionRejectReason.REQUIRED_TAG_MISSING),
    (fix.IncorrectTagValue, SessionRejectReason.VALUE_IS_INCORRECT),
    (fix.IncorrectDataFormat, SessionRejectReason.INCORRECT_DATA_FORMAT),
    (fix.FieldConvertError, SessionRejectReason.INCORRECT_DATA_FORMAT),
    (fix.NoTagValue, SessionRejectReason.TAG_SPECIFIED_WITHOUT_VALUE),
    (fix.InvalidTagNumber, SessionRejectReason.INVALID_TAG_NUMBER),
    (fix.TagNotDefinedForMessage, SessionRejectReason.TAG_NOT_DEFINED_FOR_MESSAGE_TYPE),
    (fix.InvalidMessageType, SessionRejectReason.INVALID_MSG_TYPE),
    (fix.RepeatedTag, SessionRejectReason.TAG_APPEARS_MORE_THAN_ONCE),
    (fix.TagOutOfOrder, SessionRejectReason.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER),
    (fix.RepeatingGroupCountMismatch, SessionRejectReason.INCORRECT_NUM_IN_GROUP_COUNT),
]


def _from_quickfix(error: Exception) -> CodecError:
    tag = getattr(error, "field", 0) or None  # the tag quickfix's exception names, when it names one
    if isinstance(error, fix.UnsupportedMessageType):
        return business_error(f"unsupported message type: {error}", Tag.MsgType, BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE)
    for error_type, code in _QUICKFIX_REJECT_REASONS:
        if isinstance(error, error_type):
            return session_error(str(error), tag, code)
    return session_error(str(error), tag, SessionRejectReason.OTHER)


def msg_type(msg: Any) -> str:
    """MsgType (35) of ``msg``; a session error when it has none."""
    header = msg.getHeader()
    if not header.isSetField(Tag.MsgType):
        raise session_error("MsgType(35) missing", Tag.MsgType, SessionRejectReason.REQUIRED_TAG_MISSING)
    return str(header.getField(Tag.MsgType))


def validate(msg: Any, expected: MsgType) -> None:
    """``msg`` is an ``expected`` (else a business error: unsupported message type) that the
    FIX 4.4 dictionary accepts (else the reject quickfix's objection calls for)."""
    found = msg_type(msg)
    if found != expected:
        raise business_error(f"expected MsgType {expected.value}, got {found}", Tag.MsgType, BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE)
    try:
        dictionary().validate(msg, True)
    except fix.FIXException as error:
        raise _from_quickfix(error) from None


def possible_duplicate(msg: Any) -> bool:
    """PossDupFlag (43) is set: the venue is sending this again."""
    header = msg.getHeader()
    return bool(header.isSetField(Tag.PossDupFlag) and header.getField(Tag.PossDupFlag) == YES)


class Fields:
    """Typed reads from one message body or repeating group; every failure is a CodecError."""

    def __init__(self, fields: Any, msg_type: MsgType) -> None:
        self._fields = fields
        self._msg_type = msg_type

    def optional(self, tag: int) -> str | None:
        return str(self._fields.getField(tag)) if self._fields.isSetField(tag) else None

    def text(self, tag: int) -> str:
        value = self.optional(tag)
        if value is None:
            if dictionary().isRequiredField(self._msg_type.value, tag):
                raise session_error(f"{label(tag)} missing", tag, SessionRejectReason.REQUIRED_TAG_MISSING)
            raise business_error(f"{label(tag)} missing", tag, BusinessRejectReason.CONDITIONALLY_REQUIRED_FIELD_MISSING)
        # quickfix's validate() does not look inside repeating groups: check enum values here.
        if dictionary().hasFieldValue(tag) and not dictionary().isFieldValue(tag, value):
            raise session_error(f"{label(tag)} has no value {value!r} in FIX 4.4", tag, SessionRejectReason.VALUE_IS_INCORRECT)
        return value

    def amount(self, tag: int, *, zero_ok: bool = False) -> int:
        return in_range(from_fix_decimal(self.text(tag), tag), tag, zero_ok=zero_ok)

    def optional_amount(self, tag: int) -> int | None:
        return None if self.optional(tag) is None else self.amount(tag)

    def choice(self, tag: int, choices: dict[str, Any]) -> Any:
        value = self.text(tag)
        if value not in choices:
            raise session_error(f"{label(tag)} value {value!r} not supported", tag, SessionRejectReason.VALUE_IS_INCORRECT)
        return choices[value]

    def seq_num(self, tag: int) -> int | None:
        """A sequence number field (RefSeqNum), or ``None`` when absent."""
        text = self.optional(tag)
        if text is None:
            return None
        if not (text.isascii() and text.isdigit()):
            raise session_error(f"{label(tag)} is not a sequence number: {text!r}", tag, SessionRejectReason.INCORRECT_DATA_FORMAT)
        return int(text)


def groups(msg: Any, count_tag: int, delimiter: int) -> Iterator[Any]:
    """Each entry of the repeating group ``count_tag``, checked to number what it says."""
    count = msg.getField(count_tag) if msg.isSetField(count_tag) else "0"
    if not (count.isascii() and count.isdigit()):
        raise session_error(f"{label(count_tag)} is not a count: {count!r}", count_tag, SessionRejectReason.INCORRECT_DATA_FORMAT)
    expected = int(count)
    found = msg.groupCount(count_tag)
    if found != expected:
        raise session_error(
            f"{label(count_tag)} says {expected} entries, found {found}", count_tag, SessionRejectReason.INCORRECT_NUM_IN_GROUP_COUNT
        )
    for number in range(1, found + 1):
        group = fix.Group(count_tag, delimiter)
        msg.getGroup(number, group)
        yield group
