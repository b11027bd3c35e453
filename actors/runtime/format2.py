"""Reading snapshots in format 2 — the pickles brokerd wrote before format 3 — and migrating
them to format 3 (``actors/runtime/snapshot.py``; docs/recovery.md, "Snapshots").

A format-2 snapshot is a pickle of ``("brokerd-snapshot/2", core, applied, outbox)``. Two
layouts of it exist: the one written since the re-layout (modules as today) and the one
written before it (``actors.accounts.state``, ``adapters.sim.venue._Child``, ...). Both
are read here; the state goes on in format 3 from the next snapshot.

Guarantees:

* **A snapshot is data, never code.** ``find_class`` answers only for the globals in
  ``ALLOWED``: brokerd's own record classes and enums (under their old and new paths), a
  stand-in for each core class, and ``random.Random``'s stand-in. Any other global —
  ``os.system``, ``builtins.eval``, a class of ours not listed — is refused with
  ``JournalCorrupt`` before anything is called. What the pickle can call is therefore only
  the constructors of our structs and enums and the stand-ins, which only keep what they
  are given: no core, adapter or generator is built by the pickle.
* **Field by field.** Each core is read as its attributes (``Pickled``) and turned into its
  format-3 state struct here; records whose layout changed since (an account's orders,
  a route, the venues' children: their terms are one ``OrderSpec`` now; an order's
  request in flight is a ``Pending``) are rebuilt from their old fields; attributes an
  older version did not have get the value a new core starts with. Unacked batches
  written before the re-layout are re-encoded with the messages' current layout.
* **Checked.** The migrated snapshot is encoded and decoded as format 3, so every type is
  checked as for any format-3 snapshot; anything that does not fit is ``JournalCorrupt``.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from typing import Any, ClassVar

import msgspec

from actors.account.core import AccountSnapshot
from actors.account.orders import freeze
from actors.account.records import AccountRecord, OrderRecord
from actors.account.risk import MarketView, RiskLimits
from actors.dropcopy.core import DropCopySnapshot
from actors.instrument.core import InstrumentSnapshot
from actors.instrument.opening import Block, BlockDone, Constituents
from actors.instrument.records import Book, Route
from actors.runtime.format2_layouts import (
    OrderRecordBefore,
    batch_before_relayout,
    fix_child_flat,
    order_before_relayout,
    route_before_relayout,
    sim_child_flat,
)
from actors.runtime.snapshot import FORMAT, VERSION, OutboxState, Snapshot
from actors.supervisor.core import SupervisorSnapshot
from actors.venue.core import VenueSnapshot
from adapters.factory import AdapterSnapshot
from adapters.fix.children import ClosedChild, ClosedEntry, FixSnapshot, SentMessage
from adapters.fix.children import PendingReplace as FixPendingReplace
from adapters.sim.quotes import Book as SimBook
from adapters.sim.venue import SimSnapshot, SimState
from model import enums
from model.config import SimSection, VenueSection
from model.instruments import Instrument
from model.lifecycle import Pending
from model.messages import Reply, VenueQuote
from model.orders import OrderSpec
from model.routes import RouteState
from snapshots.journal import JournalCorrupt

FORMAT_2 = "brokerd-snapshot/2"


class Pickled:
    """What a pickle held of one of brokerd's objects whose class is not rebuilt from it (a
    core, an adapter, a random generator): its class's old path and its attributes."""

    path: ClassVar[str] = ""
    state: Any  # the attributes (``__dict__``), or what the class's ``__getstate__`` gave

    def __new__(cls, *args: Any) -> Pickled:  # what the pickle's NEWOBJ or REDUCE calls
        pickled = super().__new__(cls)
        pickled.state = {}
        return pickled

    def __init__(self, *args: Any) -> None:
        """Keeps nothing of ``args``: the attributes come with ``__setstate__``."""

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _stand_in(module: str, name: str) -> type[Pickled]:
    return type(f"Pickled {module}.{name}", (Pickled,), {"path": f"{module}.{name}"})


# --- the allow-list ---------------------------------------------------------------------------------

_CORES = {  # class path → the kind of core (a stand-in: the core is rebuilt from its attributes)
    "actors.accounts.state.AccountState": "account",
    "actors.account.core.AccountState": "account",
    "actors.instruments.state.InstrumentState": "instrument",
    "actors.instrument.core.InstrumentState": "instrument",
    "actors.venues.state.VenueState": "venue",
    "actors.venue.core.VenueState": "venue",
    "actors.dropcopy.state.DropCopyState": "drop-copy",
    "actors.dropcopy.core.DropCopyState": "drop-copy",
    "actors.supervisor.state.SupervisorState": "supervisor",
    "actors.supervisor.core.SupervisorState": "supervisor",
}
_BEFORE_RELAYOUT = {path for path in _CORES if path.rsplit(".", 2)[1] == "state"}  # each core's module was ``state.py``
_OTHER_STAND_INS = [
    "adapters.sim.venue.SimVenue",
    "adapters.fix.venue.FixVenue",
    "actors.outputs.Outputs",  # a core's outputs: empty between records, not kept
    "actors.runtime.outputs.Outputs",
    "random.Random",  # a sim venue's generators: only their state is kept
]
_ENUMS = [enums.AssetClass, enums.ExecType, enums.OrderStatus, enums.OrderType, enums.SessionState, enums.Side, enums.TimeInForce, enums.VenueEventKind]

ALLOWED: dict[tuple[str, str], Callable[..., Any]] = {
    **{("model.enums", enum.__name__): enum for enum in _ENUMS},
    ("model.lifecycle", "Pending"): Pending,
    ("model.routes", "RouteState"): RouteState,
    ("model.orders", "OrderSpec"): OrderSpec,
    ("model.instruments", "Instrument"): Instrument,
    ("model.config", "VenueSection"): VenueSection,
    ("model.config", "SimSection"): SimSection,
    ("model.messages", "Reply"): Reply,
    ("model.messages.base", "Reply"): Reply,
    ("model.messages", "VenueQuote"): VenueQuote,
    ("model.messages.routing", "VenueQuote"): VenueQuote,
    ("actors.accounts.risk", "RiskLimits"): RiskLimits,
    ("actors.account.risk", "RiskLimits"): RiskLimits,
    ("actors.accounts.risk", "MarketView"): MarketView,
    ("actors.account.risk", "MarketView"): MarketView,
    ("actors.instruments.state", "Book"): Book,
    ("actors.instrument.records", "Book"): Book,
    ("actors.instruments.state", "Route"): route_before_relayout,
    ("actors.instrument.records", "Route"): Route,
    **{(f"actors.{package}.opening", cls.__name__): cls for package in ("instruments", "instrument") for cls in (Block, BlockDone, Constituents)},
    ("adapters.sim.venue", "_Book"): SimBook,
    ("adapters.sim.quotes", "Book"): SimBook,
    ("adapters.sim.venue", "_Child"): sim_child_flat,
    ("adapters.sim.orders", "Child"): sim_child_flat,
    ("adapters.fix.venue", "_Pending"): FixPendingReplace,
    ("adapters.fix.children", "PendingReplace"): FixPendingReplace,
    ("adapters.fix.venue", "_Closed"): ClosedChild,
    ("adapters.fix.children", "ClosedChild"): ClosedChild,
    ("adapters.fix.venue", "_Sent"): SentMessage,
    ("adapters.fix.children", "SentMessage"): SentMessage,
    ("adapters.fix.codec", "ChildOrder"): fix_child_flat,
    ("adapters.fix.outbound", "ChildOrder"): fix_child_flat,
    **{tuple(path.rsplit(".", 1)): _stand_in(*path.rsplit(".", 1)) for path in [*_CORES, *_OTHER_STAND_INS]},  # type: ignore[misc]
}
"""Every global a format-2 snapshot may name, under the path it was written with → what
stands for it now: the class itself (same layout), a function rebuilding the record from
its old fields, or a ``Pickled`` stand-in."""


class _Unpickler(pickle.Unpickler):
    def __init__(self, name: str, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.name = name

    def find_class(self, module: str, name: str) -> Any:
        found = ALLOWED.get((module, name))
        if found is None:
            raise JournalCorrupt(f"{self.name}: the format-2 snapshot names {module}.{name}, which is not one of brokerd's snapshot classes; refused, nothing of it was run")
        return found


# --- reading -----------------------------------------------------------------------------------------


def read(name: str, payload: bytes) -> Snapshot[Any]:
    """The format-3 snapshot a format-2 ``payload`` migrates to. Raises ``JournalCorrupt``."""
    try:
        loaded = _Unpickler(name, payload).load()
        if isinstance(loaded, tuple) and loaded and isinstance(loaded[0], str) and loaded[0] != FORMAT_2:
            raise JournalCorrupt(f"{name}: the snapshot is in format {loaded[0]}, which this version does not read ({FORMAT_2} and /{VERSION})")
        if not (isinstance(loaded, tuple) and len(loaded) == 4 and loaded[0] == FORMAT_2 and isinstance(loaded[1], Pickled)):
            raise ValueError("not a (format, core, applied, outbox) tuple")
        _, core, applied, (seqs, unacked) = loaded
        kind = _CORES.get(core.path)
        if kind is None:
            raise ValueError(f"{core.path} is not a core")
        before = core.path in _BEFORE_RELAYOUT
        if before:
            unacked = {destination: [(seq, batch_before_relayout(data)) for seq, data in batches] for destination, batches in unacked.items()}
        state = _CONVERT[kind](core.state, before)
        snapshot = Snapshot(FORMAT, VERSION, kind, state, applied, OutboxState(seqs, unacked))
        # encoded and decoded as format 3: every type checked as for any format-3 snapshot
        checked: Snapshot[Any] = msgspec.msgpack.decode(msgspec.msgpack.encode(snapshot), type=Snapshot[type(state)])  # type: ignore[misc]
        return checked
    except JournalCorrupt:
        raise
    except Exception as error:  # whatever a damaged or foreign pickle raises: never loaded
        raise JournalCorrupt(f"{name}: the format-2 snapshot cannot be read: {type(error).__name__}: {error}") from None


def _account(state: dict[str, Any], before: bool) -> AccountSnapshot:
    accounts = msgspec.msgpack.decode(state["accounts"], type=list[AccountRecord])  # the same layout since format 2
    if before:
        orders = [order_before_relayout(old) for old in msgspec.msgpack.decode(state["orders"], type=list[OrderRecordBefore])]
    else:
        orders = msgspec.msgpack.decode(state["orders"], type=list[OrderRecord])
    return AccountSnapshot(
        name=state["name"],
        instruments=list(state["instruments"].values()),
        limits=state["limits"],
        accounts=accounts,
        orders=[msgspec.Raw(freeze(order)) for order in orders],
        markets=state["markets"],
        order_counter=state["order_counter"],
        allocations=state.get("allocations", 0),
        nav_markers=state.get("nav_markers", 0),
        kill_all=state.get("kill_all", False),
        rejected_requests=state.get("rejected_requests", 0),
        anomalies=state.get("anomalies", []),
    )


def _instrument(state: dict[str, Any], before: bool) -> InstrumentSnapshot:
    return InstrumentSnapshot(
        name=state["name"],
        shards=state.get("shards", 1),
        books=list(state["books"].values()),
        venues=state["venues"],
        venue_sessions=state.get("venue_sessions", {}),
        routes=list(state["routes"].values()),
        child_counter=state["child_counter"],
        blocks=list(state.get("blocks", {}).values()),
        block_counter=state.get("block_counter", 0),
        open_markers=state.get("open_markers", {}),
        opens_done=state.get("opens_done", {}),
        nav_marks=state.get("nav_marks", {}),
        navs_struck=state.get("navs_struck", {}),
        allocations=state.get("allocations", 0),
        fills_allocated=state.get("fills_allocated", 0),
        residuals=state.get("residuals", {}),
        done_blocks=state.get("done_blocks", []),
        anomalies=state.get("anomalies", []),
    )


def _venue(state: dict[str, Any], before: bool) -> VenueSnapshot:
    adapter = state["adapter"]
    if not isinstance(adapter, Pickled) or adapter.path not in ADAPTERS:
        raise ValueError("the venue's adapter is neither the sim nor the FIX adapter")
    converted = ADAPTERS[adapter.path](adapter.state)
    return VenueSnapshot(state["name"], state.get("supports_cancel_all", True), state["started"], state["child_symbols"], converted)


def _sim(state: dict[str, Any]) -> AdapterSnapshot:
    generators = state["_random"]
    simulated = SimState(
        name=state["name"],
        started=state["_started"],
        session=state["_session"],
        next_tick=state["_next_tick"],
        close_at=state["_close_at"],
        books=list(state["_books"].items()),
        random_states=[(symbol, generator.state) for symbol, generator in generators.items()],
        orders=list(state["_orders"].values()),
        seen=sorted(state["_seen"]),
    )
    return SimSnapshot(state["_config"], list(state["_instruments"].values()), simulated)


def _fix(state: dict[str, Any]) -> AdapterSnapshot:
    closed: dict[int, ClosedEntry] = {}  # the pickle kept one object per closed child, under each of its ClOrdIDs
    for cl_ord_id, child in state.get("closed", {}).items():
        closed.setdefault(id(child), ClosedEntry([], child)).cl_ord_ids.append(cl_ord_id)
    children = state["children"]
    return FixSnapshot(
        name=state["name"],
        cancel_on_disconnect=state.get("cancel_on_disconnect", False),
        symbols=state["symbols"],
        children=list(children.values()),
        filled=state["filled"],
        request_ids=state["request_ids"],
        replacing=state["replacing"],
        exec_ids=state["exec_ids"],
        closed=list(closed.values()),
        requests=state["requests"],
        session=state["_session"],
        last_in_seq=state.get("last_in_seq", 0),
        # written before the messages sent were recorded: nothing recorded yet
        sent=state.get("sent", {child_id: [] for child_id in children}),
        by_seq=state.get("by_seq", {}),
        last_out_seq=state.get("last_out_seq", 0),
        status_refused=state.get("status_refused", False),
        outgoing=state.get("outgoing", []),
        anomalies=state.get("anomalies", []),
    )


def _drop_copy(state: dict[str, Any], before: bool) -> DropCopySnapshot:
    return DropCopySnapshot(state["fills"], state["last_exec_id"], state.get("allocations", 0), state.get("outgoing", []))


def _supervisor(state: dict[str, Any], before: bool) -> SupervisorSnapshot:
    return SupervisorSnapshot(
        symbols=state["symbols"],
        halted=state["halted"],
        killed=state["killed"],
        kill_all=state["kill_all"],
        commands=state["commands"],
        opens=state.get("opens", 0),
        scheduled_open=state.get("scheduled_open", ""),
        navs=state.get("navs", {}),
        nav_strikes=state.get("nav_strikes", {}),
        loaded=state.get("loaded", {}),
    )


_CONVERT: dict[str, Callable[[dict[str, Any], bool], Any]] = {
    "account": _account,
    "instrument": _instrument,
    "venue": _venue,
    "drop-copy": _drop_copy,
    "supervisor": _supervisor,
}
ADAPTERS: dict[str, Callable[[dict[str, Any]], AdapterSnapshot]] = {"adapters.sim.venue.SimVenue": _sim, "adapters.fix.venue.FixVenue": _fix}
"""A venue adapter's attributes in format 2 → its format-3 state, by the adapter's class."""
