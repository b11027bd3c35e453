"""What a simulated venue's snapshot holds (``SimVenue.snapshot`` / ``SimVenue.restore``):
its whole state in a canonical order — the same struct ``state_hash`` encodes — with the
configuration it was built with. The working queues are derived from the orders, so they
are rebuilt on restore, not kept."""

from __future__ import annotations

import msgspec

from adapters.sim.orders import Child
from adapters.sim.quotes import Book
from model.config import SimSection
from model.enums import SessionState
from model.instruments import Instrument

RandomState = tuple[int, tuple[int, ...], float | None]  # what ``random.Random.getstate()`` gives


class SimState(msgspec.Struct, array_like=True):
    """Everything ``state_hash`` covers, in a canonical order; with the configuration, the
    snapshot (the queues are the working orders by symbol: rebuilt, not kept)."""

    name: str
    started: bool
    session: SessionState
    next_tick: int | None
    close_at: int | None
    books: list[tuple[str, Book]]
    random_states: list[tuple[str, RandomState]]
    orders: list[Child]  # in time priority
    seen: list[str]


class SimSnapshot(msgspec.Struct, tag="sim"):
    config: SimSection  # as built: the seed, interval and quote shape made the state
    instruments: list[Instrument]  # the symbols it trades, in order
    state: SimState
