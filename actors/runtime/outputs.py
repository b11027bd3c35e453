"""How a pure core names where its outputs go, without knowing any actor.

A core appends ``(kind, key, message)``; the Ray shell's router turns the kind and key
(an account, a symbol, a venue name, a gateway name, or ``ALL``) into actors. ``AUDIT`` is
the one kind that goes to no actor: its message is a ``model.audit.AuditEvent`` the shell
appends to the actor's audit chain after the journal commit (docs/audit.md, "For the
actors"; ``Outputs`` keeps them apart, ``actors/runtime/machine.py`` takes them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, NamedTuple

from model.audit import AuditEvent
from model.messages import Message

GATEWAY = "gateway"
ACCOUNT = "account"
INSTRUMENT = "instrument"
VENUE = "venue"
DROP_COPY = "drop_copy"
STRATEGY = "strategy"
AUDIT = "audit"  # the actor's own audit chain (key ""): never routed
ALL = "*"


class Send(NamedTuple):
    kind: str
    key: str
    message: Message


_make = tuple.__new__


class Outputs:
    """An append-only list of sends, drained by the shell after each input batch.

    ``audit``: whether the shell writes this core's audit events (``[audit] enabled``, set by
    ``Machine``); a core builds an ``AUDIT`` send only when it is true, so with the log off
    an order pays one attribute test, and a core outside a shell (unit tests) emits none.
    The ``AUDIT`` sends are kept apart as they come (``events``, in their order): the shell
    takes them with ``take_events`` and routes the rest (``drain``), instead of sorting the
    one list into two after every input batch.

    ``nowhere``: the kinds whose ``ALL`` goes to no actor in this deployment (no drop copy,
    no strategy actor), set by ``Machine`` from its router. A send there is dropped by the
    router; a core may skip making a message only such a send would carry (an execution
    report nobody follows). Outside a shell it is empty: everything is wanted."""

    __slots__ = ("audit", "events", "nowhere", "sends")

    def __init__(self) -> None:
        self.sends: list[Send] = []
        self.events: list[AuditEvent] = []
        self.audit = False
        self.nowhere: frozenset[str] = frozenset()

    def to(self, kind: str, key: str, message: Message | AuditEvent) -> None:
        if kind == AUDIT:
            self.events.append(message)  # type: ignore[arg-type]
            return
        # ``Send(...)`` goes through the named tuple's Python-level ``__new__``; this is the
        # same tuple, made in C (several sends per order, in every core)
        self.sends.append(_make(Send, (kind, key, message)))

    def drain(self) -> list[Send]:
        """The sends to route, in order (no ``AUDIT`` one: ``take_events``)."""
        sends, self.sends = self.sends, []
        return sends

    def take_events(self) -> list[AuditEvent]:
        """The audit events of the ``AUDIT`` sends since the last call, in order."""
        events, self.events = self.events, []
        return events


class Dispatcher:
    """``apply`` for a core whose handlers are a ``{message type: method}`` table."""

    name: str
    _handlers: ClassVar[dict[type, Callable[..., None]]]

    def apply(self, message: Message, now: int) -> None:
        """Apply one input. Outputs accumulate in ``self.out``."""
        handler = self._handlers.get(type(message))
        if handler is None:
            raise TypeError(f"{self.name} does not take {type(message).__name__}")
        handler(self, message, now)

