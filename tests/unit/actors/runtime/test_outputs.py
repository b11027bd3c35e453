"""A core's outputs: sends named by kind and key, drained in the order they were made, and
the dispatch of each input to its handler by type."""

from __future__ import annotations

from typing import ClassVar

import pytest

from actors.runtime.outputs import ACCOUNT, ALL, AUDIT, DROP_COPY, GATEWAY, INSTRUMENT, VENUE, Dispatcher, Outputs, Send
from model.audit import AuditEvent, AuditKind
from model.messages import CancelAll, Message, SetKill, SetTradingStatus


def test_sends_are_drained_in_the_order_they_were_made_and_the_list_starts_again() -> None:
    out = Outputs()
    first, second = SetTradingStatus("IBM", True), SetKill("A1", True)
    out.to(INSTRUMENT, "IBM", first)
    out.to(ACCOUNT, ALL, second)
    assert out.drain() == [Send(INSTRUMENT, "IBM", first), Send(ACCOUNT, "*", second)]
    assert out.drain() == [] and out.sends == []


def test_audit_sends_are_kept_apart_in_their_order_and_never_drained_with_the_routed_ones() -> None:
    out = Outputs()
    first, second = AuditEvent(AuditKind.LOGIN, {"n": 1}), AuditEvent(AuditKind.LOGIN, {"n": 2})
    order = SetKill("A1", True)
    out.to(AUDIT, "", first)
    out.to(ACCOUNT, ALL, order)
    out.to(AUDIT, "", second)
    assert out.drain() == [Send(ACCOUNT, "*", order)]
    assert out.take_events() == [first, second]
    assert out.take_events() == [] and out.events == []


def test_the_kinds_are_distinct_names() -> None:
    kinds = [GATEWAY, ACCOUNT, INSTRUMENT, VENUE, DROP_COPY, ALL]
    assert len(set(kinds)) == len(kinds)


class Recorder(Dispatcher):
    name = "recorder-0"

    def __init__(self) -> None:
        self.seen: list[tuple[str, Message, int]] = []

    def _halt(self, message: SetTradingStatus, now: int) -> None:
        self.seen.append(("halt", message, now))

    def _kill(self, message: SetKill, now: int) -> None:
        self.seen.append(("kill", message, now))

    _handlers: ClassVar = {SetTradingStatus: _halt, SetKill: _kill}


def test_each_input_goes_to_the_handler_of_its_type_with_its_time() -> None:
    core = Recorder()
    halt, kill = SetTradingStatus("IBM", True), SetKill("A1", True)
    core.apply(halt, 5)
    core.apply(kill, 6)
    assert core.seen == [("halt", halt, 5), ("kill", kill, 6)]


def test_an_input_the_core_does_not_take_is_a_type_error_naming_both() -> None:
    with pytest.raises(TypeError, match="^recorder-0 does not take CancelAll$"):
        Recorder().apply(CancelAll(None, None, None), 1)
