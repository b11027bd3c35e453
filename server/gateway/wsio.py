"""Writing many WebSocket text frames with one transport write.

``websockets``' ``send()`` hands each frame to the transport on its own, and with uvloop
each becomes a ``write`` system call: at tens of thousands of execution reports a second
that is the gateway's largest cost. Here every frame queued for a connection goes out in
one write, with the connection's flow control respected.

The frames themselves are framed here, not by websockets' protocol object: a server's text
frame without extensions is a two-to-ten-byte header before the payload (RFC 6455 §5.2:
FIN and the text opcode, the length, no mask), and building a ``Frame`` object, checking it
and serialising it through ``io.BytesIO`` for each of them cost about as much as the rest
of the gateway's work on a report. The connection's state checks stay websockets' (an
open connection only, no fragmented message in progress), and a connection that
negotiated an extension (the gateway serves none: ``compression=None``) is framed by
websockets as before. A connection that asked for ``batch`` at login gets its queued
messages as JSON arrays (``json_arrays``): one frame for many execution reports, which
saves the client a frame's parsing per report. Relies on ``Connection.protocol``,
``.transport`` and ``.drain()`` and the sans-I/O protocol's ``side``, ``extensions``,
``expect_continuation_frame`` and ``data_to_send()`` (websockets 14–17).
"""

from __future__ import annotations

import struct

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosedOK
from websockets.protocol import SERVER, State

_FIN_TEXT = 0x81  # FIN set, opcode 1 (text)
_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")
# Every header up to a few kilobytes, made once (an execution report is about 400 bytes):
# looked up rather than packed for each frame. About 150 KB.
_TABLED = 4096
_HEADERS = [_SHORT.pack(_FIN_TEXT, length) for length in range(126)] + [_MEDIUM.pack(_FIN_TEXT, 126, length) for length in range(126, _TABLED)]


def text_frame_header(length: int) -> bytes:
    """The header of an unmasked, unfragmented text frame whose payload has ``length``
    bytes: the bytes websockets' ``Frame.serialize`` writes before it on a server."""
    if length < _TABLED:
        return _HEADERS[length]
    if length < 65536:
        return _MEDIUM.pack(_FIN_TEXT, 126, length)
    return _LONG.pack(_FIN_TEXT, 127, length)


def frame_texts(frames: list[bytes]) -> bytes:
    """``frames`` (UTF-8 JSON) as consecutive server text frames, one byte string."""
    parts: list[bytes] = []
    append, headers = parts.append, _HEADERS
    for frame in frames:  # ``text_frame_header``, inline: eight frames per order in a busy gateway
        length = len(frame)
        append(headers[length] if length < _TABLED else text_frame_header(length))
        append(frame)
    return b"".join(parts)


BATCH_BYTES = 1 << 18  # a batching connection's array frame: at most 256 KiB, unless one message alone is larger


def json_arrays(messages: list[bytes], size: int, limit: int = BATCH_BYTES) -> list[bytes]:
    """``messages`` (each a JSON object, ``size`` bytes together) as JSON arrays of
    consecutive messages, in order: the frames of a connection whose login asked for
    ``batch`` (docs/protocol.md). Guarantees: every message is in exactly one array, in the
    order given; an array is at most ``limit`` bytes unless it holds one message that alone is
    larger; joining the arrays' elements gives ``messages`` back."""
    if size + len(messages) + 1 <= limit:  # the usual case: everything queued fits in one
        return [_array(messages)]
    arrays: list[bytes] = []
    run: list[bytes] = []
    length = 1  # "[" and a "," or "]" after each message
    for message in messages:
        if run and length + len(message) + 1 > limit:
            arrays.append(_array(run))
            run, length = [], 1
        run.append(message)
        length += len(message) + 1
    arrays.append(_array(run))
    return arrays


def _array(messages: list[bytes]) -> bytes:
    """One JSON array of ``messages``: their join copied once more, not twice."""
    return b"[%b]" % b",".join(messages)


async def write_frames(connection: Connection, frames: list[bytes]) -> None:
    """Send ``frames`` (UTF-8 JSON) as text frames, in order; waits while the peer's TCP
    window is full. Raises ``ConnectionClosed`` once the connection is closing."""
    protocol = connection.protocol
    if protocol.state is not State.OPEN:
        raise connection.close_exc if protocol.state is State.CLOSED else ConnectionClosedOK(None, None)
    if protocol.side is SERVER and not protocol.extensions and not protocol.expect_continuation_frame:
        # whatever websockets queued itself (a pong) goes first, as it would have
        queued = protocol.data_to_send()
        data = frame_texts(frames)
        connection.transport.write(b"".join(queued) + data if queued else data)
    else:
        for frame in frames:
            protocol.send_text(frame)
        connection.transport.write(b"".join(protocol.data_to_send()))
    await connection.drain()
