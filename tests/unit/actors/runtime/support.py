"""What the links' tests share (test_frames.py, the pure wire; test_link.py, over sockets):
one topology, one secret, the actor names on either end, and how a nonce and a batch look;
and what the hosts' tests hand a host as the link a batch came on (``Channel``)."""

from __future__ import annotations

from actors.runtime.frames import NONCE_BYTES, LinkSecret
from actors.runtime.router import Router
from model.config import Config, TopologySection
from model.messages import Batch, SetTradingStatus, encode_batch

CONFIG = Config(topology=TopologySection(account_shards=3, instrument_actors=2))
ROUTER = Router(CONFIG)
SECRET = LinkSecret(b"k" * 32)
ME = "account-1"
GATEWAY = "gateway-0~1712000000000000000"


def nonce(byte: int) -> bytes:
    return bytes([byte]) * NONCE_BYTES


def batch(sender: str, seq: int) -> bytes:
    return encode_batch(Batch(sender, seq, 0, [SetTradingStatus(f"S{seq}", True)]))


class Channel:
    """The link a batch came on, as a host sees it: what it acked, in order."""

    def __init__(self) -> None:
        self.acks: list[int] = []

    def ack(self, seq: int) -> None:
        self.acks.append(seq)
