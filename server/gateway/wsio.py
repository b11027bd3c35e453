"""Writing many WebSocket text frames with one transport write.

``websockets``' ``send()`` hands each frame to the transport on its own, and with uvloop
each becomes a ``write`` system call: at tens of thousands of execution reports a second
that is the gateway's largest cost. Here the frames are framed by the connection's own
sans-I/O protocol object (so framing, masking rules and state checks stay websockets')
and the bytes go out in one write, with the connection's flow control respected.
Relies on ``Connection.protocol``, ``.transport`` and ``.drain()`` (websockets 14–17).
"""

from __future__ import annotations

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosedOK
from websockets.protocol import State


async def write_frames(connection: Connection, frames: list[bytes]) -> None:
    """Send ``frames`` (UTF-8 JSON) as text frames, in order; waits while the peer's TCP
    window is full. Raises ``ConnectionClosed`` once the connection is closing."""
    protocol = connection.protocol
    if protocol.state is not State.OPEN:
        raise connection.close_exc if protocol.state is State.CLOSED else ConnectionClosedOK(None, None)
    for frame in frames:
        protocol.send_text(frame)
    connection.transport.write(b"".join(protocol.data_to_send()))
    await connection.drain()
