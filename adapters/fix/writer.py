"""A FIX message built as its string, without quickfix, so that what brokerd sends can be made
in a pure core (the drop copy's, the venue adapter's).

The string is the one quickfix's ``Message.toString()`` gives for the same fields: BeginString,
BodyLength and MsgType first, then the body in tag order, a repeating group at its count tag
with each entry's delimiter first and the rest in tag order, and CheckSum last. The session
parses it with the FIX 4.4 dictionary (``dictionary.outgoing``) and adds the rest of the
header (CompIDs, MsgSeqNum, SendingTime) when it sends it.
"""

from __future__ import annotations

from adapters.fix.tags import BEGIN_STRING, MsgType, Tag

SOH = "\x01"
_CHECKSUM_MODULUS = 256
_BEGIN = f"{int(Tag.BeginString)}={BEGIN_STRING}{SOH}{int(Tag.BodyLength)}="  # then the body's length in bytes
_MSG_TYPE = f"{int(Tag.MsgType)}="
_CHECKSUM = f"{int(Tag.CheckSum)}="


class MessageWriter:
    """The fields of one message to send. A tag set twice keeps its last value, as in
    quickfix; values are the FIX strings, exactly."""

    def __init__(self, msg_type: MsgType) -> None:
        self.msg_type = msg_type
        self._fields: dict[int, str] = {}
        self._groups: dict[int, list[str]] = {}  # count tag → each entry, rendered

    def set(self, tag: int, value: str) -> None:
        self._fields[int(tag)] = value  # a plain int: formatted faster than a ``Tag`` member

    def add_group(self, count_tag: int, delimiter: int, entry: dict[int, str]) -> None:
        """One more entry of the repeating group counted by ``count_tag``; ``entry`` must
        hold ``delimiter``, the field each entry starts with."""
        rest = sorted((int(tag), value) for tag, value in entry.items() if tag != delimiter)
        self._groups.setdefault(int(count_tag), []).append(_render([(delimiter, entry[delimiter]), *rest]))

    def render(self) -> str:
        """The whole message with BodyLength and CheckSum, as the wire carries it."""
        fields, groups = self._fields, self._groups
        if groups:  # each count tag, then its entries
            fields = {**fields, **{tag: str(len(entries)) for tag, entries in groups.items()}}
            rendered = [f"{tag}={fields[tag]}{SOH}" + "".join(groups.get(tag, ())) for tag in sorted(fields)]
        else:
            rendered = [f"{tag}={fields[tag]}{SOH}" for tag in sorted(fields)]
        body = f"{_MSG_TYPE}{self.msg_type.value}{SOH}" + "".join(rendered)
        encoded = body.encode()
        head = f"{_BEGIN}{len(encoded)}{SOH}"
        checksum = (sum(head.encode()) + sum(encoded)) % _CHECKSUM_MODULUS
        return f"{head}{body}{_CHECKSUM}{checksum:03d}{SOH}"


def _render(fields: list[tuple[int, str]]) -> str:
    return "".join(f"{int(tag)}={value}{SOH}" for tag, value in fields)
