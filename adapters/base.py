"""The venue-adapter interface every venue (``sim``, ``fix``) implements: every hook its
callers use — the VenueSession core (``actors/venue/core.py``) and actor
(``actors/venue/actor.py``) — so that they call it without probing for what it has. mypy
checks each adapter against it where ``adapters/factory.py`` returns one.

An adapter is driven by its VenueSession actor. It never reads a clock: every call
carries ``now`` (ns since the epoch) and returns the events it caused, in order.
Child orders are named by ``child_id``, chosen by the instrument actor.

A venue spoken to over a wire session (FIX) takes what the session received and queues
what it must send; a venue without one (the sim) inherits ``WithoutWire``, which says what
those hooks mean there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Union

from model.config import VenueSection
from model.enums import SessionState
from model.messages import VenueNewOrder, VenueQuote, VenueReplace, VenueReport, VenueSessionChanged, VenueWireSent

if TYPE_CHECKING:
    from adapters.factory import AdapterSnapshot

VenueEvent = Union[VenueReport, VenueQuote, VenueSessionChanged]


class VenueAdapter(Protocol):
    name: str

    # --- orders and time -------------------------------------------------------------------

    def start(self, now: int) -> list[VenueEvent]:
        """Connect / open; the first quotes and the session state."""

    def submit(self, order: VenueNewOrder, now: int) -> list[VenueEvent]:
        """Send a new child order. Answers ``accepted`` or ``rejected``, maybe trades."""

    def cancel(self, child_id: str, now: int) -> list[VenueEvent]:
        """Cancel a child order: ``canceled`` or ``cancel_rejected``."""

    def cancel_all(self, symbols: list[str], now: int) -> list[VenueEvent]:
        """The venue's own cancel-all of every working child in ``symbols`` (used when the
        venue's ``supports_cancel_all`` is set; otherwise the core sends one cancel each)."""

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

    # --- the wire session ------------------------------------------------------------------

    def receive(self, raw: str, now: int) -> list[VenueEvent]:
        """One message exactly as the wire session received it (journaled as ``VenueWireIn``)."""

    def take_outgoing(self) -> list[str]:
        """The messages made since the last call, for the session to send, in order."""

    def record_sent(self, seq: int, msg_type: str, cl_ord_id: str) -> None:
        """The session sent ``msg_type`` about ``cl_ord_id`` as sequence number ``seq``."""

    def never_sent(self, found: list[VenueWireSent]) -> list[str]:
        """At start: the ids of what was made before a restart but never reached the session
        (neither recorded nor ``found`` in its store)."""

    def recovered(self, found: list[VenueWireSent], unsent: list[str], now: int) -> list[VenueEvent]:
        """Record ``found`` and settle ``unsent`` (see ``never_sent``), without the venue."""

    @property
    def last_in_seq(self) -> int:
        """Sequence number of the last message taken by ``receive``: where the session
        resumes after a restart."""

    @property
    def last_out_seq(self) -> int:
        """Sequence number of the last message ``record_sent`` took."""

    # --- configuration and state ---------------------------------------------------------------

    def configure(self, venue: VenueSection) -> None:
        """After a snapshot is loaded: take the options of ``venue`` as configured now where
        they are not state (a snapshot brings the adapter as configured when it was written)."""

    @property
    def anomalies(self) -> list[str]:
        """What the venue said that was refused or could not be applied, latest last."""

    def state_hash(self) -> str:
        """SHA-256 of the state replay must rebuild exactly (the core's hash covers it)."""

    def snapshot(self) -> AdapterSnapshot:
        """The whole state as a msgspec struct, which ``adapters.factory.restore_adapter``
        turns back into the adapter (in the venue core's snapshot)."""

    def check_invariants(self) -> None:
        """Raise ``AssertionError`` if the state breaks a guarantee (used by tests)."""


class WithoutWire:
    """The wire hooks of a venue with no wire session (the sim venue, in process).

    Nothing is ever sent, so there is nothing to take, record or find unsent, and sequence
    numbers stay 0. What only a wire session produces — a message received, a send
    recorded, a recovery to settle — reaching such a venue is a programming error: it is
    refused with ``TypeError``, which the host logs as a failed message, changing nothing.
    """

    name: str

    def receive(self, raw: str, now: int) -> list[VenueEvent]:
        raise TypeError(f"{self.name}: its adapter takes no wire messages")

    def take_outgoing(self) -> list[str]:
        return []

    def record_sent(self, seq: int, msg_type: str, cl_ord_id: str) -> None:
        raise TypeError(f"{self.name}: its adapter sends no wire messages")

    def never_sent(self, found: list[VenueWireSent]) -> list[str]:
        return []

    def recovered(self, found: list[VenueWireSent], unsent: list[str], now: int) -> list[VenueEvent]:
        raise TypeError(f"{self.name}: its adapter sends no wire messages")

    @property
    def last_in_seq(self) -> int:
        return 0

    @property
    def last_out_seq(self) -> int:
        return 0
