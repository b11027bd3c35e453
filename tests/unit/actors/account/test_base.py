"""What every part of the shard shares: reports to the gateways and the drop copy."""

from __future__ import annotations

from actors.runtime.outputs import DROP_COPY, GATEWAY
from model.enums import ExecType, VenueEventKind
from tests.unit.actors.account.support import fill, make_state, only_report, order, reports, run, venue_event


def test_every_fill_and_only_fills_go_to_the_drop_copy() -> None:
    state = make_state()
    sends = run(state, order())
    assert not [s for s in sends if s.kind == DROP_COPY]
    order_id = only_report(sends).order_id
    assert not [s for s in venue_event(state, order_id, VenueEventKind.ACCEPTED) if s.kind == DROP_COPY]
    sends = fill(state, order_id, "4", "149.5")
    copies = [s.message for s in sends if s.kind == DROP_COPY]
    assert copies == reports(sends) and copies[0].exec_type is ExecType.TRADE


def test_gateway_reports_go_to_every_gateway() -> None:
    sends = run(make_state(), order())
    assert [s.key for s in sends if s.kind == GATEWAY] == ["*"]
