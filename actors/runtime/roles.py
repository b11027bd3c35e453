"""Build the empty pure core of any journaled actor from its plan and the config — the
Ray shells and the offline replay tool (``actors/runtime/replay.py``) build them the same way."""

from __future__ import annotations

from actors.account.core import AccountState
from actors.account.risk import RiskLimits
from actors.instrument.core import InstrumentState
from actors.runtime.machine import Core
from actors.supervisor.core import ActorPlan, SupervisorState
from actors.venue.core import VenueState
from adapters.factory import build_adapter
from model.config import Config


def build_core(actor_plan: ActorPlan, config: Config) -> Core:
    if actor_plan.role == "account":
        return AccountState(actor_plan.name, actor_plan.instruments, RiskLimits.from_config(config.risk, config.open))
    if actor_plan.role == "instrument":
        return InstrumentState(actor_plan.name, actor_plan.instruments, config.venues, config.topology.account_shards)
    if actor_plan.role == "venue":
        venue = actor_plan.venue
        assert venue is not None
        return VenueState(venue.name, build_adapter(venue, config, actor_plan.instruments), venue.supports_cancel_all)
    if actor_plan.role == "drop_copy":
        from actors.dropcopy.core import DropCopyState

        return DropCopyState()
    if actor_plan.role == "supervisor":
        return SupervisorState([instrument.symbol for instrument in actor_plan.instruments])
    raise ValueError(f"{actor_plan.name} ({actor_plan.role}) has no journal")
