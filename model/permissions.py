"""Who may do what: ONE table of roles, permissions, scopes and the requests that need them.

Three questions, each answered here and nowhere else:

- what a request needs: :data:`OPS` (each WebSocket op → a permission; :data:`UNGUARDED`: the
  ops that need none, ``login`` and ``whoami``) and :data:`COMMANDS`
  (each server admin command of ``model/admin_commands.py`` → a permission);
- which scope a permission belongs to: :data:`PERMISSIONS` (``read``, ``trade``,
  ``transfer``, ``admin``);
- what a role grants: :data:`ROLES` (its permissions and its :class:`Reach`: the accounts it
  may touch — those it names, every account of its tenant, or every account of every tenant).

A session's effective permissions are its role's permissions whose scope is among the
session's scopes (:func:`effective`): the single check point. A login of ``users.toml`` holds
every scope; an API key may hold fewer, and then loses the permissions of the scopes it lacks
whatever its role. The gateway (``server/gateway/access.py``, ``core.py``) and the admin
command table (``model/admin_commands.py``) both consult this module;
``tests/unit/server/gateway/test_authorization_matrix.py`` generates its cases from it.

Pure: standard library only, so ``model``, ``server`` and ``actors`` can all import it.

Guarantees:
- Every op and every server admin command needs exactly one permission, every permission
  has exactly one scope, and every role grants only permissions of this table (checked at
  import: a typo fails loudly, it never grants or denies by accident).
- Only :data:`PLATFORM_OPERATOR` spans tenants.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

DEFAULT_TENANT: Final = "default"  # the tenant of an account or user whose file names none


class Scope(StrEnum):
    """What a credential may be used for; a permission belongs to exactly one."""

    READ = "read"
    TRADE = "trade"
    TRANSFER = "transfer"
    ADMIN = "admin"


ALL_SCOPES: Final = frozenset(Scope)


class Reach(StrEnum):
    """Which accounts a role may touch."""

    OWN = "own"  # those the user names, and every account of its groups (in its tenant)
    TENANT = "tenant"  # every account of the user's tenant
    PLATFORM = "platform"  # every account of every tenant


# --- permissions: name → scope ----------------------------------------------------------------

PERMISSIONS: Final[dict[str, Scope]] = {
    # on the accounts within reach
    "accounts.read": Scope.READ,  # get_account
    "orders.read": Scope.READ,  # get_orders; the executions of the accounts within reach
    "quotes.read": Scope.READ,  # subscribe to quotes (market data: not a tenant's)
    "orders.place": Scope.TRADE,  # new_order(s), replace_order, load_orders
    "orders.cancel": Scope.TRADE,  # cancel_order, cancel_all
    "cash.transfer": Scope.TRANSFER,  # deposit, withdrawal, journal: asking to move cash in, out of or between accounts
    "cash.across_owners": Scope.TRANSFER,  # a journal between accounts of different owners (within the tenant)
    "cash.settle": Scope.TRANSFER,  # admin transfers, admin transfer settle|reject|cancel: the cashier's queue
    # admin commands on the caller's tenant (every tenant for the platform operator)
    "tenant.inspect": Scope.READ,  # admin account, admin orders ACCOUNT, the executions channel
    "tenant.report": Scope.READ,  # export, reconcile, statement, report gains
    "tenant.cancel": Scope.TRADE,  # cancel-all
    "tenant.load_orders": Scope.TRADE,  # orders load FILE
    "tenant.kill": Scope.ADMIN,  # kill, unkill (halting the tenant's accounts)
    "tenant.accounts": Scope.ADMIN,  # accounts load FILE; lot-method ACCOUNT METHOD
    "tenant.keys": Scope.ADMIN,  # keys create/list/rotate/revoke: the API keys of the tenant's users
    "tenant.mfa": Scope.ADMIN,  # mfa enroll/reset: the TOTP second factor of the tenant's users
    # server-wide: every tenant at once
    "server.inspect": Scope.ADMIN,  # status, config, check, blocks
    "server.control": Scope.ADMIN,  # snapshot, halt, resume, open, nav
    "server.secrets": Scope.ADMIN,  # vault: the venues' credentials, shared by every tenant
    "server.lockouts": Scope.ADMIN,  # lockout list/lift: login lockouts by key and by address (an address is every tenant's)
}

# --- what each request needs ------------------------------------------------------------------

OPS: Final[dict[str, str]] = {
    "new_order": "orders.place",
    "new_orders": "orders.place",
    "replace_order": "orders.place",
    "load_orders": "orders.place",
    "cancel_order": "orders.cancel",
    "cancel_all": "orders.cancel",
    "get_orders": "orders.read",
    "get_account": "accounts.read",
    "get_lots": "accounts.read",
    "get_gains": "accounts.read",
    "get_statement": "accounts.read",
    "subscribe": "quotes.read",
    "deposit": "cash.transfer",
    "withdrawal": "cash.transfer",
    "journal": "cash.transfer",
    "get_transfers": "accounts.read",
    # "admin": the permission of the command (COMMANDS); the ops of UNGUARDED need none
}
# Ops that need no permission: logging in, and asking who one is (what a key may do is no secret to it)
UNGUARDED: Final = frozenset({"login", "whoami"})
EXECUTIONS_CHANNEL: Final = "tenant.inspect"  # subscribe to ``executions``: every account within reach
TRANSFERS_CHANNEL: Final = "accounts.read"  # subscribe to ``transfers``: the transfers of every account within reach
RISK_CHANNEL: Final = "accounts.read"  # subscribe to ``risk``: the risk alerts of every account within reach
ACROSS_OWNERS: Final = "cash.across_owners"  # a journal whose accounts have different owners

COMMANDS: Final[dict[str, str]] = {
    "account": "tenant.inspect",
    "orders": "tenant.inspect",  # ``orders load FILE`` needs tenant.load_orders too (LOAD_ORDERS)
    "export": "tenant.report",
    "reconcile": "tenant.report",
    "statement": "tenant.report",
    "report": "tenant.report",
    "cancel-all": "tenant.cancel",
    "kill": "tenant.kill",
    "unkill": "tenant.kill",
    "risk-limits": "tenant.kill",  # like the kill switch: what an account may still trade
    "trading-state": "tenant.kill",
    "risk": "tenant.inspect",  # reads, like ``account``
    "accounts": "tenant.accounts",
    "lot-method": "tenant.accounts",
    "status": "server.inspect",
    "config": "server.inspect",
    "check": "server.inspect",
    "blocks": "server.inspect",
    "snapshot": "server.control",
    "halt": "server.control",
    "resume": "server.control",
    "open": "server.control",
    "nav": "server.control",
    "strategy": "server.control",
    "desk": "server.control",  # ``desk status`` reads: server.inspect (``command_permission``)
    "vault": "server.secrets",
    "keys": "tenant.keys",
    "mfa": "tenant.mfa",
    "lockout": "server.lockouts",
    "transfers": "cash.settle",
    "transfer": "cash.settle",
}
LOAD_ORDERS: Final = "tenant.load_orders"  # ``orders load FILE``: the form of ``orders`` that trades
UNKNOWN_COMMAND: Final = "server.inspect"  # a command the server lacks: who may not run commands learns nothing of them

# --- roles --------------------------------------------------------------------------------------

_READ_OWN = frozenset({"accounts.read", "orders.read", "quotes.read"})
_TRADE_OWN = _READ_OWN | {"orders.place", "orders.cancel"}
# A client asks to move its own cash (a deposit, a withdrawal, a journal between its accounts);
# settling it is the cashier's (``cash.settle``), as at a broker whose cashiering desk releases funds.
_TRADE_AND_MOVE_OWN = _TRADE_OWN | {"cash.transfer"}


@dataclass(frozen=True)
class Role:
    name: str
    reach: Reach
    permissions: frozenset[str]
    summary: str


PLATFORM_OPERATOR: Final = "platform_operator"
TENANT_ADMIN: Final = "tenant_admin"

ROLES: Final[dict[str, Role]] = {
    role.name: role
    for role in (
        Role("trader", Reach.OWN, _TRADE_AND_MOVE_OWN, "trades its own accounts; asks to move their cash"),
        Role("advisor", Reach.OWN, _TRADE_AND_MOVE_OWN, "trades its accounts and every account of its groups; asks to move their cash"),
        Role("viewer", Reach.OWN, _READ_OWN, "reads its accounts, their orders and quotes; changes nothing"),
        Role(
            "cashier",
            Reach.TENANT,
            frozenset({"accounts.read", "quotes.read", "cash.transfer", "cash.across_owners", "cash.settle"}),
            "sees every account of its tenant; moves cash between them; settles, rejects and cancels transfers",
        ),
        Role(
            "compliance",
            Reach.TENANT,
            _READ_OWN | {"tenant.inspect", "tenant.report"},
            "reads everything of its tenant; exports and reconciles it",
        ),
        Role(
            "operator",
            Reach.TENANT,
            _TRADE_OWN | {"tenant.inspect", "tenant.cancel", "tenant.load_orders", "tenant.kill"},
            "runs its tenant's operations: orders, cancels, baskets, kill switches",
        ),
        Role(
            TENANT_ADMIN,
            Reach.TENANT,
            _READ_OWN | {"tenant.inspect", "tenant.report", "tenant.kill", "tenant.accounts", "tenant.keys", "tenant.mfa"},
            "manages its tenant: accounts, kill switches, reports, its users' API keys and MFA",
        ),
        Role(PLATFORM_OPERATOR, Reach.PLATFORM, frozenset(PERMISSIONS), "every tenant; the server-wide commands"),
    )
}
# An older users file's ``role = "admin"``: the platform operator (the loader logs the mapping)
ALIASES: Final[dict[str, str]] = {"admin": PLATFORM_OPERATOR}


class UnknownRole(ValueError):
    """A role this table does not have; the message lists those it has."""


def role(name: str) -> Role:
    """The role ``name`` (or its alias) names, or ``UnknownRole``."""
    found = ROLES.get(ALIASES.get(name, name))
    if found is None:
        raise UnknownRole(f"unknown role {name!r}; roles: {', '.join(ROLES)}")
    return found


def effective(role_name: str, scopes: frozenset[Scope] = ALL_SCOPES) -> frozenset[str]:
    """The permissions a session holds: its role's, less those of scopes it lacks. The one
    place where role and scopes meet."""
    return frozenset(permission for permission in role(role_name).permissions if PERMISSIONS[permission] in scopes)


def admin_scoped(role_name: str, scopes: frozenset[Scope] = ALL_SCOPES) -> bool:
    """Whether a session of ``role_name`` holding ``scopes`` holds an admin-scope permission:
    such a login needs a second factor (``[gateway] require_mfa_for_admin``)."""
    return any(PERMISSIONS[permission] is Scope.ADMIN for permission in effective(role_name, scopes))


def usable_scopes(role_name: str) -> frozenset[Scope]:
    """The scopes in which ``role_name`` holds at least one permission: an API key of a user of
    this role may be given these and no other (a scope it cannot use would only mislead)."""
    return frozenset(PERMISSIONS[permission] for permission in role(role_name).permissions)


def command_permission(name: str, args: tuple[str, ...] | list[str] = ()) -> str:
    """The permission the server admin command ``name`` with ``args`` needs."""
    if name == "orders" and args[:1] in (["load"], ("load",)):
        return LOAD_ORDERS
    if name == "desk" and args[:1] in (["status"], ("status",)):
        return "server.inspect"
    return COMMANDS.get(name, UNKNOWN_COMMAND)


def _check_table() -> None:
    unknown = {p for r in ROLES.values() for p in r.permissions} | set(OPS.values()) | set(COMMANDS.values())
    unknown |= {EXECUTIONS_CHANNEL, TRANSFERS_CHANNEL, RISK_CHANNEL, ACROSS_OWNERS, LOAD_ORDERS, UNKNOWN_COMMAND}
    unknown -= set(PERMISSIONS)
    if unknown:
        raise AssertionError(f"model/permissions.py names permissions it does not define: {sorted(unknown)}")
    spanning = [r.name for r in ROLES.values() if r.reach is Reach.PLATFORM]
    if spanning != [PLATFORM_OPERATOR]:
        raise AssertionError(f"only {PLATFORM_OPERATOR} may span tenants, not {spanning}")


_check_table()
