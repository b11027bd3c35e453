"""The venue-adapter interface every venue (``sim``, ``fix``) implements.

An adapter is driven by its VenueSession actor. It never reads a clock: every call
carries ``now`` (ns since the epoch) and returns the events it caused, in order.
Child orders are named by ``child_id``, chosen by the instrument actor.
"""

from __future__ import annotations

from typing import Protocol, Union

from model.enums import SessionState
from model.messages import VenueNewOrder, VenueQuote, VenueReplace, VenueReport, VenueSessionChanged

VenueEvent = Union[VenueReport, VenueQuote, VenueSessionChanged]


class VenueAdapter(Protocol):
    name: str

    def start(self, now: int) -> list[VenueEvent]:
        """Connect / open; the first quotes and the session state."""

    def submit(self, order: VenueNewOrder, now: int) -> list[VenueEvent]:
        """Send a new child order. Answers ``accepted`` or ``rejected``, maybe trades."""

    def cancel(self, child_id: str, now: int) -> list[VenueEvent]:
        """Cancel a child order: ``canceled`` or ``cancel_rejected``."""

    def replace(self, request: VenueReplace, now: int) -> list[VenueEvent]:
        """Change qty/price: ``replaced`` (maybe followed by trades) or ``replace_rejected``."""

    def advance(self, now: int) -> list[VenueEvent]:
        """Let time pass: new quotes, fills of resting orders, session changes."""

    def next_wakeup(self) -> int | None:
        """When ``advance`` next has something to do (ns), or ``None``."""

    def set_session(self, state: SessionState, now: int) -> list[VenueEvent]:
        """Operator or schedule moves the session (closing expires day orders)."""

    @property
    def session(self) -> SessionState:
        """The venue's trading session as the adapter last saw it."""

    def open_orders(self) -> list[str]:
        """Child ids the venue still works (for reconciliation after a restart)."""
