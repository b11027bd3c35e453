"""The authorization matrix, generated from the one permission table (``model/permissions.py``):
every WebSocket op and every server admin command, tried by every role under every set of
scopes, against its own tenant's object and another tenant's, on one gateway core with two
tenants. Each case is allowed exactly when the table says so — and then reaches the actor it
is for, confined to the caller's tenant — or is refused with ``forbidden`` (or, where an
account's existence must not leak, with the very answer an account that exists nowhere gets)
and sends nothing anywhere.

The expectation of a case is computed from the table, not written by hand; the table's own
shape (every op, every command, every role) is checked against the gateway's ops and the
admin table, so an op or command added without a permission fails here."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from actors.runtime.outbox import Outbox
from actors.runtime.router import Router
from model import fixed, permissions
from model.accounts_file import AccountSeed
from model.admin_commands import SERVER_COMMANDS
from model.config import User
from model.enums import ExecType, OrderStatus, OrderType, Side, TimeInForce
from model.messages import ExecutionReport, RequestJournal
from model.orders import OrderSpec
from model.permissions import ALL_SCOPES, PLATFORM_OPERATOR, ROLES, Reach, Scope
from server.gateway import protocol
from server.gateway.auth import signature
from server.gateway.connection import Connection, Session
from server.gateway.core import Gateway
from server.gateway.ratelimit import TokenBucket
from tests.conftest import demo_setup
from tests.unit.server.gateway.harness import commands

HOME, AWAY = "firm-a", "firm-b"
OWN, OTHER, NOWHERE = "A1", "B1", "ZZ9"  # firm-a's account, firm-b's, and one that exists in no tenant
GROUP = "G"  # a group name both tenants use: two groups
OWN_USER, OTHER_USER, NOWHERE_USER = "a-trader", "b-trader", "nobody-at-all"


def two_tenants() -> Any:
    """The demo instruments and config; two tenants' accounts (both with a group ``G``); one
    user of every role in firm-a (those that reach only their own accounts name A1, the
    advisor through its group) and a trader in firm-b."""
    setup = demo_setup()
    cash = 100_000 * fixed.SCALE
    accounts = [
        AccountSeed("A1", "a", cash, group=GROUP, tenant=HOME),
        AccountSeed("A2", "a", cash, tenant=HOME),
        AccountSeed("B1", "b", cash, group=GROUP, tenant=AWAY),
        AccountSeed("B2", "b", cash, tenant=AWAY),
    ]
    users = [User(key="b-trader", secret="b-trader-secret", role="trader", accounts=["B1"], tenant=AWAY)]
    for role in ROLES.values():
        named = [] if role.name == "advisor" or role.reach is not Reach.OWN else [OWN]
        groups = [GROUP] if role.name == "advisor" else []
        users.append(User(key=f"a-{role.name}", secret=f"a-{role.name}-secret", role=role.name, accounts=named, groups=groups, tenant=HOME))
    return msgspec.structs.replace(setup, users=users, accounts=accounts)


SETUP = two_tenants()


# --- the cases, from the table ------------------------------------------------------------------------


def order_fields(account: str, cloid: str = "c1") -> dict[str, Any]:
    return {"account": account, "client_order_id": cloid, "symbol": "IBM", "side": "buy", "type": "limit", "qty": "1", "price": "149.00"}


def op_frame(op: str, account: str) -> dict[str, Any]:
    """A well-formed request of ``op`` naming ``account`` (``subscribe`` names a symbol:
    market data belongs to no tenant)."""
    frames: dict[str, dict[str, Any]] = {
        "new_order": order_fields(account),
        "new_orders": {"orders": [order_fields(account)]},
        "replace_order": {"account": account, "client_order_id": "c1", "new_client_order_id": "c2", "qty": "2"},
        "load_orders": {"csv": f"account,client_order_id,symbol,side,qty\n{account},c1,IBM,buy,1\n"},
        "cancel_order": {"account": account, "client_order_id": "c1"},
        "cancel_all": {"account": account},
        "get_orders": {"account": account},
        "get_account": {"account": account},
        "get_lots": {"account": account},
        "get_gains": {"account": account, "from": "2025-01-01", "to": "2025-12-31"},
        "get_statement": {"account": account, "from": "2025-01-01", "to": "2025-12-31"},
        "subscribe": {"channels": ["quotes:IBM"]},
        "deposit": {"account": account, "amount": "1.00", "idempotency_key": "k1"},
        "withdrawal": {"account": account, "amount": "1.00", "idempotency_key": "k1"},
        "journal": {"from": account, "to": account, "amount": "1.00", "idempotency_key": "k1"},
        "get_transfers": {"account": account},
    }
    return {"op": op, "id": 2, **frames[op]}


# Each server admin command's argument lists: (args naming the own tenant's object, the
# other's, nobody's). None: the command names no tenant object (its confinement is checked
# instead: the supervisor is asked with the caller's tenant).
def admin_forms() -> Iterator[tuple[str, tuple[list[str], list[str], list[str]] | list[str]]]:
    for account_command in ("account", "orders", "kill", "unkill"):
        yield account_command, ([OWN], [OTHER], [NOWHERE])
    yield "lot-method", ([OWN, "lifo"], [OTHER, "lifo"], [NOWHERE, "lifo"])
    yield "risk-limits", ([OWN, "--max-var", "5"], [OTHER, "--max-var", "5"], [NOWHERE, "--max-var", "5"])
    yield "trading-state", ([OWN, "halted"], [OTHER, "halted"], [NOWHERE, "halted"])
    yield "risk", ([OWN], [OTHER], [NOWHERE])
    yield "risk", []
    yield "statement", ([OWN, "2025-01-01", "2025-12-31"], [OTHER, "2025-01-01", "2025-12-31"], [NOWHERE, "2025-01-01", "2025-12-31"])
    yield "report", (["gains", "2025", "--tenant", HOME], ["gains", "2025", "--tenant", AWAY], ["gains", "2025", "--tenant", "nobody"])
    yield "report", ["gains", "2025"]
    yield "cancel-all", (["--account", OWN], ["--account", OTHER], ["--account", NOWHERE])
    yield "export", (["--tenant", HOME], ["--tenant", AWAY], ["--tenant", "nobody"])
    yield "reconcile", (["pos.csv", "--tenant", HOME], ["pos.csv", "--tenant", AWAY], ["pos.csv", "--tenant", "nobody"])
    yield "kill", ["all"]
    yield "cancel-all", []
    yield "export", []
    yield "orders", ["load", "basket.csv"]
    yield "accounts", ["load", "accounts.csv"]
    yield from (("status", []), ("config", []), ("check", []), ("blocks", []), ("snapshot", []), ("halt", ["IBM"]),
                ("resume", ["IBM"]), ("open", []), ("nav", ["VFIAX", "451.20"]), ("vault", ["list"]),
                ("strategy", ["list"]))
    yield from (("desk", ["start", "IBM"]), ("desk", ["tune", "IBM", "size=5"]), ("desk", ["status"]))
    # a user's keys and MFA: firm-a's trader, firm-b's, and a user nobody has
    for words in (["keys", "create"], ["keys", "list"], ["mfa", "enroll"], ["mfa", "reset"]):
        tail = ["--scopes", "read"] if words[1] == "create" else []
        yield words[0], ([words[1], OWN_USER, *tail], [words[1], OTHER_USER, *tail], [words[1], NOWHERE_USER, *tail])
    yield from (("keys", ["list"]), ("keys", ["rotate", "k0000000000000000"]), ("keys", ["revoke", "k0000000000000000"]))
    yield from (("lockout", ["list"]), ("lockout", ["lift", "127.0.0.1"]))
    yield "transfers", ([OWN], [OTHER], [NOWHERE])
    yield from (("transfers", []), ("transfers", ["--status", "pending"]), ("transfer", ["settle", "account-0-t1"]))


SCOPE_SETS = [frozenset(chosen) for size in range(len(Scope) + 1) for chosen in itertools.combinations(list(Scope), size)]


@dataclass
class Case:
    role: str
    scopes: frozenset[Scope]
    frame: dict[str, Any]
    needed: str
    target: str  # "own", "other" or "none" (names no tenant object)
    nowhere: dict[str, Any] | None  # the same request naming an object that exists nowhere


def cases(role: str) -> Iterator[Case]:
    for scopes in SCOPE_SETS:
        yield Case(role, scopes, {"op": "whoami", "id": 2}, "", "none", None)  # needs no permission (permissions.UNGUARDED)
        for op in permissions.OPS:
            if op == "subscribe":
                yield Case(role, scopes, op_frame(op, OWN), permissions.OPS[op], "none", None)
                continue
            yield Case(role, scopes, op_frame(op, OWN), permissions.OPS[op], "own", None)
            yield Case(role, scopes, op_frame(op, OTHER), permissions.OPS[op], "other", op_frame(op, NOWHERE))
        for command, forms in admin_forms():
            def frame(args: list[str], command: str = command) -> dict[str, Any]:
                return {"op": "admin", "id": 2, "command": command, "args": args}
            if isinstance(forms, tuple):
                own, other, nowhere = forms
                needed = permissions.command_permission(command, own)
                yield Case(role, scopes, frame(own), needed, "own", None)
                yield Case(role, scopes, frame(other), needed, "other", frame(nowhere))
            else:
                yield Case(role, scopes, frame(forms), permissions.command_permission(command, forms), "none", None)


# --- one gateway core, one connection per case ---------------------------------------------------------


class NoSocket:
    """Where the websockets connection would be: the tests read the connection's queue."""


class Rig:
    """A gateway core with two tenants; what leaves it for the actors (``sent``) and for the
    supervisor (``asked``)."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.asked: list[tuple[str, list[str], str | None]] = []
        config = SETUP.config
        outbox = Outbox("gateway-0", Router(config), config.batching, lambda name, data: self.sent.extend(commands(data)))
        self.gateway = Gateway("gateway-0", SETUP, outbox, self.admin)
        self.ids = itertools.count(1)

    async def admin(self, command: str, args: list[str], tenant: str | None, caller: tuple[str, str, str] | None = None) -> dict[str, Any]:
        self.asked.append((command, args, tenant))
        return {"ok": True}

    def sign_in(self, role: str, scopes: frozenset[Scope] = ALL_SCOPES) -> Connection:
        """A real login as firm-a's user of ``role``; then the session holds only ``scopes``
        (what an API key of those scopes gets: ``permissions.effective``)."""
        conn_id = next(self.ids)
        conn = Connection(conn_id, NoSocket(), TokenBucket(10**6, 10**6), 10**6)  # type: ignore[arg-type]
        self.gateway.connections[conn_id] = conn
        ts = int(time.time() * 1000)
        key = f"a-{role}"
        login = {"op": "login", "id": 1, "key": key, "ts": ts, "nonce": f"n{conn_id}", "sig": signature(f"{key}-secret", ts, f"n{conn_id}")}
        self.gateway.on_frame(conn, json.dumps(login))
        answer = json.loads(conn.outgoing.pop())
        assert (answer["ok"], answer["role"], answer["tenant"]) == (True, role, HOME), answer
        session = conn.session
        assert session is not None
        conn.session = Session(session.role, session.tenant, scopes, permissions.effective(role, scopes), session.reach)
        return conn

    def leave(self, conn: Connection) -> None:
        self.gateway._forget(conn)

    async def ask(self, conn: Connection, frame: dict[str, Any]) -> list[dict[str, Any]]:
        """Send ``frame``; the frames it is answered with here (the admin call runs as a task)."""
        self.sent.clear()
        self.asked.clear()
        self.gateway.on_frame(conn, json.dumps(frame))
        if conn.pending is not None:  # an upload's check, off the event loop
            await conn.pending
            conn.pending = None
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        self.gateway.outbox.flush()
        answers, conn.outgoing = conn.outgoing, []
        return [json.loads(answer) for answer in answers]


def reaches(role: str, target: str) -> bool:
    return target != "other" or ROLES[role].reach is Reach.PLATFORM


def expected_refusal(case: Case, granted: frozenset[str]) -> str | None:
    """None when the table allows the case, else what refuses it."""
    if case.frame["op"] in permissions.UNGUARDED:
        return None
    if case.needed not in granted:
        return "permission"
    if not reaches(case.role, case.target):
        return "reach"
    return None


def check_allowed(case: Case, answers: list[dict[str, Any]], rig: Rig, conn: Connection) -> None:
    frame = case.frame
    confined = None if ROLES[case.role].reach is Reach.PLATFORM else HOME
    if frame["op"] == "admin":
        args = frame["args"]
        tenant = confined
        if "--tenant" in args and confined is None:
            tenant = None  # the supervisor reads the chosen tenant from the arguments
        assert rig.asked == [(frame["command"], args, tenant)], (case, rig.asked, answers)
        assert rig.sent == []
        return
    assert rig.asked == []
    if frame["op"] == "whoami":
        [answer] = answers
        assert (answer["user"], answer["role"], answer["tenant"]) == (f"a-{case.role}", case.role, HOME), (case, answer)
        assert answer["scopes"] == sorted(scope.value for scope in case.scopes) and rig.sent == [], (case, answer)
        return
    if frame["op"] == "subscribe":
        assert [a["type"] for a in answers] == ["subscribed"] and conn.quotes == {"IBM"}, (case, answers)
        return
    account = OWN if case.target == "own" else OTHER
    assert answers == [] and rig.sent, (case, answers)
    for message in rig.sent:
        named = message.entries[0].from_account if isinstance(message, RequestJournal) else getattr(message, "account", None)
        if named is None:  # a basket's chunk names its accounts in columns
            assert set(message.orders.accounts) == {account}, (case, message)
        else:
            assert named == account, (case, message)


def check_refused(case: Case, why: str, answers: list[dict[str, Any]], rig: Rig, conn: Connection) -> None:
    assert rig.sent == [] and rig.asked == [] and conn.quotes == set(), (case, rig.sent, rig.asked)
    assert rig.gateway.fanout.firehose == set() and not any(rig.gateway.fanout.tenant_firehose.values())
    assert len(answers) == 1, (case, answers)
    [answer] = answers
    if why == "permission":
        assert answer["code"] == "forbidden" and case.needed in answer["message"], (case, answer)
    elif case.frame["op"] == "load_orders":
        assert answer["code"] == "invalid_request" and [p["code"] for p in answer["problems"]] == ["forbidden"], (case, answer)
    elif case.frame["op"] == "admin" and "--tenant" in case.frame["args"]:
        assert answer["code"] == "forbidden" and "chooses a tenant" in answer["message"], (case, answer)
    elif case.frame["op"] == "admin" and OTHER_USER in case.frame["args"]:
        assert (answer["code"], answer["message"]) == ("admin_failed", f"unknown user {OTHER_USER}"), (case, answer)
    elif case.frame["op"] == "admin":
        assert (answer["code"], answer["message"]) == ("admin_failed", f"unknown account {OTHER}"), (case, answer)
    else:
        assert answer["code"] == "forbidden", (case, answer)


@pytest.mark.parametrize("role", list(ROLES))
async def test_every_op_and_admin_command_by_every_role_and_scope_set_on_both_tenants_objects(role: str) -> None:
    rig = Rig()
    tried = 0
    for case in cases(role):
        conn = rig.sign_in(role, case.scopes)
        answers = await rig.ask(conn, case.frame)
        why = expected_refusal(case, permissions.effective(role, case.scopes))
        if why is None:
            check_allowed(case, answers, rig, conn)
        else:
            check_refused(case, why, answers, rig, conn)
            if why == "reach" and case.nowhere is not None:  # another tenant's object looks like no object at all
                rig.leave(conn)
                conn = rig.sign_in(role, case.scopes)
                nowhere = await rig.ask(conn, case.nowhere)
                seen = json.dumps(nowhere).replace(NOWHERE_USER, OTHER_USER).replace(NOWHERE, OTHER).replace("nobody", AWAY)
                assert seen == json.dumps(answers), (case, nowhere, answers)
        rig.leave(conn)
        tried += 1
    assert tried == len(SCOPE_SETS) * (1 + 2 * len(permissions.OPS) - 1 + sum(2 if isinstance(f, tuple) else 1 for _, f in admin_forms()))


def test_the_table_covers_every_op_and_server_command_and_the_matrix_every_command() -> None:
    assert set(permissions.OPS) == set(protocol.OPS) - permissions.UNGUARDED - {"admin"}
    assert permissions.UNGUARDED == {"login", "whoami"}
    assert set(permissions.COMMANDS) == set(SERVER_COMMANDS)
    assert {command for command, _ in admin_forms()} == set(SERVER_COMMANDS)
    assert set(ROLES) == {"trader", "advisor", "viewer", "cashier", "compliance", "operator", "tenant_admin", PLATFORM_OPERATOR}


def test_a_session_holds_its_role_s_permissions_within_its_scopes_only() -> None:
    trader = permissions.effective("trader")
    assert {"orders.place", "orders.read"} <= trader and not any(p.startswith(("tenant.", "server.")) for p in trader)
    assert permissions.effective("trader", frozenset({Scope.READ})) == {"accounts.read", "orders.read", "quotes.read"}
    assert permissions.effective("platform_operator", frozenset({Scope.TRADE})) == {p for p, s in permissions.PERMISSIONS.items() if s is Scope.TRADE}
    assert permissions.effective("admin") == permissions.effective(PLATFORM_OPERATOR)  # the older name
    with pytest.raises(permissions.UnknownRole, match="unknown role 'root'; roles: trader, "):
        permissions.role("root")


# --- streams: executions reach only sessions whose reach holds the account -----------------------------


def execution(account: str, exec_id: str) -> ExecutionReport:
    spec = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, fixed.parse("1"), None, fixed.parse("149"), None)
    return ExecutionReport(account, "o1", "c1", exec_id, ExecType.NEW, OrderStatus.NEW, spec, 0, fixed.parse("1"), 0, None, None, None, 1, None)


@pytest.mark.parametrize("role", list(ROLES))
async def test_executions_reach_a_role_only_within_its_reach(role: str) -> None:
    """A session follows its own accounts from login; one reaching its tenant, and allowed to
    inspect it, its tenant's every account once it subscribes to ``executions``; only the
    platform operator another tenant's."""
    rig = Rig()
    conn = rig.sign_in(role)
    other_tenant = rig.gateway.connections[0] = Connection(0, NoSocket(), TokenBucket(10, 10), 10**6)  # type: ignore[arg-type]
    answers = await rig.ask(conn, {"op": "subscribe", "id": 3, "channels": ["executions"]})
    assert [a["type"] for a in answers] == ["subscribed"]
    for account, exec_id in ((OWN, "e-own"), ("A2", "e-own-2"), (OTHER, "e-other"), ("B2", "e-other-2")):
        rig.gateway._deliver(execution(account, exec_id))
    got = {json.loads(frame)["exec_id"] for frame in conn.outgoing}
    granted = permissions.effective(role)
    reach = ROLES[role].reach
    if reach is Reach.PLATFORM:
        assert got == {"e-own", "e-own-2", "e-other", "e-other-2"}
    elif reach is Reach.TENANT:
        assert got == ({"e-own", "e-own-2"} if permissions.EXECUTIONS_CHANNEL in granted else set())
    else:
        assert got == {"e-own"}  # A1 only: named (or its group's); never firm-b's B1 of a group of the same name
    assert other_tenant.outgoing == []
