"""Reading FIX 4.4 with quickfix's data dictionary: parse a message, check it against the
dictionary, read its fields typed. Every failure is a ``CodecError`` saying which reject it
needs; the decoders (``inbound.py``) build on this.

quickfix has no type stubs, so its objects are ``Any`` here and stay at the edge of the FIX
package: callers of the decoders get domain structs back.

``read`` is ``parse`` for what a venue session receives, with a fast path: a *plain*
message — one of the types the venue adapter or the market-maker simulator decodes
(``FAST_MSG_TYPES``), no repeating group and no data field,
every field one the dictionary defines there with a value its type and enumeration accept
— is read in Python into a ``Received``, already checked, instead of through quickfix. Each
call into quickfix's bindings costs little CPU but lets go of the GIL, and the venue
actor's loop shares it with quickfix's threads: a decoded execution report took some forty
calls. Anything else goes through quickfix, so the fast path only ever takes messages both
paths read alike (``tests/unit/adapters/fix/test_dictionary.py`` checks it on every kind of
fault; ``simulator/test_codec.py`` for the simulator's orders, cancels, replaces and status
requests).
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

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


# --- the fast path: plain messages read in Python ------------------------------------------------

SOH = "\x01"
# what the venue adapter decodes, but W (it has groups); and the orders, cancels, replaces and
# status requests the market-maker simulator decodes (``adapters/fix/simulator``)
FAST_MSG_TYPES = ("8", "9", "S", "3", "j", "D", "F", "G", "H")

# A value each FIX type surely accepts (quickfix 1.16's convertors accept more; what they
# might refuse is never taken here, so quickfix decides it). ASCII only: lengths are bytes.
_DOUBLE = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")
_INT = re.compile(r"[0-9]{1,9}")
_TIMESTAMP = re.compile(
    r"(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])-(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{3})?"
)


def _any(value: str) -> bool:
    return True


_FORMATS: dict[str, Callable[[str], object]] = {
    "STRING": _any,
    "CURRENCY": _any,
    "EXCHANGE": _any,
    "COUNTRY": _any,
    "CHAR": lambda value: len(value) == 1 and value != " ",
    "BOOLEAN": lambda value: value in ("Y", "N"),
    "INT": _INT.fullmatch,
    "SEQNUM": _INT.fullmatch,
    "PRICE": _DOUBLE.fullmatch,
    "QTY": _DOUBLE.fullmatch,
    "AMT": _DOUBLE.fullmatch,
    "FLOAT": _DOUBLE.fullmatch,
    "PRICEOFFSET": _DOUBLE.fullmatch,
    "PERCENTAGE": _DOUBLE.fullmatch,
    "UTCTIMESTAMP": _TIMESTAMP.fullmatch,
}


class Spec(NamedTuple):
    """The FIX 4.4 dictionary as the fast path needs it, read from the file quickfix reads."""

    types: dict[int, str]  # tag → type name
    enums: dict[int, frozenset[str]]  # tag → its values, for the fields that have them
    header: frozenset[int]  # plain fields of the standard header
    header_required: frozenset[int]
    body: dict[str, frozenset[int]]  # MsgType → plain fields it defines (not in a group)
    body_required: dict[str, frozenset[int]]
    # MsgType → each plain field it may hold, by its tag as written: (tag, in the header,
    # its format check (None: any value), its enumeration (None: any))
    layout: dict[str, dict[str, tuple[int, bool, Callable[[str], object] | None, frozenset[str] | None]]]


@functools.cache
def spec() -> Spec:
    """Types and enumerations from FIX44.xml; which fields belong to the header, to each
    message, and which are required, from quickfix's own ``DataDictionary``. A field is
    *plain* when its type has a format above (BodyLength too): no group count, no length or
    data field."""
    root = ElementTree.parse(fix44_dictionary()).getroot()
    numbers: dict[str, int] = {}
    types: dict[int, str] = {}
    enums: dict[int, frozenset[str]] = {}
    for field in root.iter("field"):
        if "number" not in field.attrib:
            continue  # a field named in a message, header or component, not defined
        tag = int(field.attrib["number"])
        numbers[field.attrib["name"]] = tag
        types[tag] = field.attrib["type"]
        values = frozenset(value.attrib["enum"] for value in field.findall("value"))
        if values:
            enums[tag] = values
    checks: dict[int, Callable[[str], object]] = {tag: _FORMATS[kind] for tag, kind in types.items() if kind in _FORMATS}
    checks[int(Tag.BodyLength)] = _INT.fullmatch
    data_dictionary = dictionary()
    header = frozenset(tag for tag in checks if data_dictionary.isHeaderField(tag))
    header_xml = root.find("header")
    assert header_xml is not None
    header_required = frozenset(numbers[f.attrib["name"]] for f in header_xml.findall("field") if f.attrib.get("required") == "Y")
    body = {
        msg_type: frozenset(
            tag
            for tag in checks
            if tag not in header and data_dictionary.isMsgField(msg_type, tag) and not data_dictionary.isGroup(msg_type, tag)
        )
        for msg_type in FAST_MSG_TYPES
    }
    body_required = {
        msg_type: frozenset(tag for tag in types if data_dictionary.isRequiredField(msg_type, tag)) for msg_type in FAST_MSG_TYPES
    }
    layout = {
        msg_type: {
            str(tag): (tag, tag in header, None if checks[tag] is _any else checks[tag], enums.get(tag)) for tag in header | body[msg_type]
        }
        for msg_type in FAST_MSG_TYPES
    }
    return Spec(types, enums, header, header_required, body, body_required, layout)


class _FieldMap:
    """What the decoders read of a ``quickfix.FieldMap``: ``isSetField`` and ``getField``."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[int, str]) -> None:
        self.fields = fields

    def isSetField(self, tag: int) -> bool:
        return int(tag) in self.fields

    def getField(self, tag: int) -> str:
        try:
            return self.fields[int(tag)]
        except KeyError:
            raise fix.FieldNotFound(int(tag)) from None


class Received(_FieldMap):
    """A plain message read by ``read``: its body, and its header behind ``getHeader``, as
    a ``quickfix.Message`` parsed with the dictionary would give them. Already checked
    against the dictionary (``validate`` only compares its MsgType)."""

    __slots__ = ("header",)

    def __init__(self, header: dict[int, str], body: dict[int, str]) -> None:
        super().__init__(body)
        self.header = _FieldMap(header)

    def getHeader(self) -> _FieldMap:
        return self.header


def read(raw: str) -> Any:
    """What a venue session received, to decode: a ``Received`` when it is plain (see the
    module text), else ``parse(raw)``."""
    return plain(raw) or parse(raw)


_START = "8=FIX.4.4" + SOH + "9="
_CHECKSUM = re.compile(r"10=[0-9]{3}")


def plain(raw: str) -> Received | None:
    """``raw`` as a ``Received``, or ``None`` unless it is a plain message laid out as a
    session sends it: BeginString, BodyLength, MsgType, the rest of the header, the body,
    CheckSum last; each field once, with a value."""
    if not (raw.startswith(_START) and raw.endswith(SOH) and raw.isascii()):
        return None
    parts = raw[:-1].split(SOH)
    if len(parts) < 4 or not parts[2].startswith("35=") or not _CHECKSUM.fullmatch(parts.pop()):
        return None
    msg_type = parts[2][3:]
    table = spec()
    layout = table.layout.get(msg_type)
    if layout is None:
        return None
    header: dict[int, str] = {}
    body: dict[int, str] = {}
    for part in parts:
        tag_text, _, value = part.partition("=")
        entry = layout.get(tag_text)  # a tag written otherwise ("035") is not found either
        if entry is None or not value:
            return None
        tag, in_header, check, values = entry
        if in_header:
            if body:  # a header field after the body began
                return None
            fields = header
        else:
            fields = body
        if tag in fields or (check is not None and not check(value)) or (values is not None and value not in values):
            return None
        fields[tag] = value
    if not (table.header_required <= header.keys() and table.body_required[msg_type] <= body.keys()):
        return None
    return Received(header, body)


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
    if isinstance(msg, Received):
        return  # checked field by field as it was read (``plain``)
    try:
        dictionary().validate(msg, True)
    except fix.FIXException as error:
        raise _from_quickfix(error) from None


def possible_duplicate(msg: Any) -> bool:
    """PossDupFlag (43) is set: the venue is sending this again."""
    header = msg.getHeader()
    return bool(header.isSetField(Tag.PossDupFlag) and header.getField(Tag.PossDupFlag) == YES)


# Prices and quantities repeat from report to report: each text is read once (a text that is
# no decimal raises every time: exceptions are not kept).
_decimal = functools.lru_cache(maxsize=4096)(from_fix_decimal)


class Fields:
    """Typed reads from one message body or repeating group; every failure is a CodecError."""

    def __init__(self, fields: Any, msg_type: MsgType) -> None:
        self._fields = fields
        self._msg_type = msg_type
        # a plain message's fields (``read``): a dict by tag, every value already checked
        self._plain: dict[int, str] | None = fields.fields if isinstance(fields, _FieldMap) else None

    def optional(self, tag: int) -> str | None:
        if self._plain is not None:
            return self._plain.get(tag)
        return str(self._fields.getField(tag)) if self._fields.isSetField(tag) else None

    def text(self, tag: int) -> str:
        value = self.optional(tag)
        if value is None:
            if dictionary().isRequiredField(self._msg_type.value, tag):
                raise session_error(f"{label(tag)} missing", tag, SessionRejectReason.REQUIRED_TAG_MISSING)
            raise business_error(f"{label(tag)} missing", tag, BusinessRejectReason.CONDITIONALLY_REQUIRED_FIELD_MISSING)
        # quickfix's validate() does not look inside repeating groups: check enum values here
        # (a plain message's were checked as it was read).
        if self._plain is None and dictionary().hasFieldValue(tag) and not dictionary().isFieldValue(tag, value):
            raise session_error(f"{label(tag)} has no value {value!r} in FIX 4.4", tag, SessionRejectReason.VALUE_IS_INCORRECT)
        return value

    def amount(self, tag: int, *, zero_ok: bool = False) -> int:
        return in_range(_decimal(self.text(tag), tag), tag, zero_ok=zero_ok)

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
