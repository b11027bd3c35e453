"""The admin commands: ONE table, read by everything that takes an admin command.

Each :class:`Command` says what the command is called, which arguments it takes (its
:class:`Form`\\ s), its help text, who may run it, where it runs and the name of its handler.
Three places read it and check a command line the same way, with :func:`check`:

- the admin shell (``server/client/shell.py``), before anything connects, and for ``help``;
- the gateway (``server/gateway/core.py``), which refuses a command the session's permissions
  do not allow (:func:`authorize`, from the one permission table ``model/permissions.py``),
  and one that does not fit, before it reaches the supervisor;
- the supervisor (``actors/supervisor/admin.py``), which runs the command's handler: the
  method of ``AdminCommands`` named by ``handler``.

Shell commands (``runs="shell"``: ``help``, ``journal verify``, ``audit``, ``quit``) run inside the
shell, by the function named by ``handler`` in ``server/client/local.py``; the server
refuses them with a message that points to the shell. A form may run elsewhere than the rest
of its command (its own ``runs`` and ``handler``): ``report gains`` runs at the server, the
compliance reports ``report trades|cat|best-ex|admin-actions``, which read the audit log's
files, in the shell.

Adding a server command is one entry in :data:`TABLE` and one method of ``AdminCommands``
(``tests/unit/model/test_admin_commands.py`` checks every entry has its handler).

This module is pure (no I/O; beyond the standard library it imports only the pure
``model/permissions.py``) so that ``server/`` and ``actors/`` can both import it without
importing each other.

Guarantees:
- A command line is accepted by the shell exactly when the gateway and the supervisor
  accept it (the same function decides), and refused with the same message.
- A command and its arguments that :func:`check` accepts fit one of its forms; the handler
  reads them from :class:`Given` by name and never parses the list itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from model import permissions

Where = Literal["server", "shell"]
SERVER: Final = "server"  # run by the supervisor, through the gateway
SHELL: Final = "shell"  # run by the admin shell itself, without the server
COMMAND_NAME = "COMMAND"  # a value of this name must name a command of the table (``help COMMAND``)


class AdminError(ValueError):
    """A bad admin command: the message is for the operator."""


class UsageError(AdminError):
    """A command or its arguments do not fit its table entry; the message says how."""


class Forbidden(AdminError):
    """The session's permissions do not allow the command; ``needed``: the permission it lacks."""

    def __init__(self, message: str, needed: str = "") -> None:
        super().__init__(message)
        self.needed = needed


@dataclass(frozen=True)
class Form:
    """One accepted shape of a command's arguments, in this order: the literal ``words``
    (``load`` of ``accounts load FILE``), one value per name in ``names``, then at most one
    ``optional`` value, or any number of ``many`` values, then ``--flag VALUE`` ``options``
    in any order, each at most once. A value is never empty and never starts with ``-``
    (a mistyped option is not taken for a value)."""

    words: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    optional: str | None = None
    many: str | None = None
    options: tuple[tuple[str, str], ...] = ()  # (flag, the name of its value in the usage)
    # A secret value (a venue password for the vault) that is never typed on the command line,
    # where it would stay in the shell's history: the admin shell reads it (without echo, or
    # from a file or standard input) and sends it as the last argument. The shell checks the
    # line without it; the gateway and the supervisor, with it. Never shown in a message.
    secret: str | None = None
    # Where this form runs and its handler, when not the command's: ``report trades`` reads
    # the audit log's files in the shell while ``report gains`` asks the server
    runs: Where | None = None
    handler: str | None = None

    def usage(self) -> str:
        parts = [*self.words, *self.names]
        if self.optional is not None:
            parts.append(f"[{self.optional}]")
        if self.many is not None:
            parts.append(f"[{self.many} ...]")
        parts += [f"[{flag} {value}]" for flag, value in self.options]
        return " ".join(parts)


@dataclass(frozen=True)
class Given:
    """A command's arguments as checked: ``values`` by name (positional ones by their name in
    the usage, options by their flag without the dashes, in the order given), ``many`` the
    repeated values, ``form`` the index of the form they fit."""

    form: int = 0
    values: dict[str, str] = field(default_factory=dict)
    many: tuple[str, ...] = ()

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def __getitem__(self, name: str) -> str:
        return self.values[name]


@dataclass(frozen=True)
class Command:
    """One admin command. ``handler`` names the method of ``AdminCommands``
    (``actors/supervisor/admin.py``) for a server command, the function of
    ``server/client/local.py`` for a shell command. Who may run a server command:
    ``model/permissions.py`` (``COMMANDS``)."""

    name: str
    forms: tuple[Form, ...]
    summary: str
    handler: str
    runs: Where = SERVER
    aliases: tuple[str, ...] = ()

    @property
    def usage(self) -> str:
        return " | ".join(f"{self.name} {form.usage()}".rstrip() for form in self.forms)

    @property
    def local(self) -> bool:
        """Runs in the shell, without the server (every form of it)."""
        return self.runs == SHELL

    def where(self, given: Given) -> Where:
        """Where the form ``given`` fits runs: its own ``runs``, else the command's."""
        return self.forms[given.form].runs or self.runs

    def handler_of(self, given: Given) -> str:
        """The handler of the form ``given`` fits: its own, else the command's."""
        return self.forms[given.form].handler or self.handler

    def handlers(self, runs: Where) -> set[str]:
        """The handlers of the forms that run at ``runs`` (for the table's tests)."""
        return {form.handler or self.handler for form in self.forms if (form.runs or self.runs) == runs}

    def fit(self, args: Sequence[str], secrets: bool = False) -> Given:
        """``args`` as :class:`Given`, or ``UsageError`` with the problem (without the usage).
        ``secrets``: a form's ``secret`` value is among ``args`` (at the server), last."""
        problems = []
        for index, form in enumerate(self.forms):
            try:
                return _fit(self, index, form, list(args), secrets)
            except UsageError as problem:
                problems.append(str(problem))
        if len(problems) == 1:
            raise UsageError(problems[0])
        raise UsageError("fits none of its forms (below)")  # each form is in the usage: named once, so the message fits an error frame


def _one(*names: str) -> tuple[Form, ...]:
    return (Form(names=names),)


NONE = (Form(),)

# The compliance reports of the audit log (``model/reports.py``), run by the shell
_COMPLIANCE_REPORTS = (("trades", ("DATE", "OUT")), ("cat", ("DATE", "OUT")), ("best-ex", ("FROM", "TO", "OUT")), ("admin-actions", ("FROM", "TO", "OUT")))
_REPORT_OPTIONS = (("--format", "csv|jsonl"), ("--config", "FILE"), ("--data-dir", "DIR"))

TABLE: tuple[Command, ...] = (
    Command("status", NONE, "every actor with its health and counters; halted symbols", "status"),
    Command("account", _one("ACCOUNT"), "one account: cash, buying power, positions", "account"),
    Command(
        "orders",
        (Form(names=("ACCOUNT",)), Form(words=("load",), names=("FILE",))),
        "one account's orders; or load a basket file of orders (CSV or .parquet) from the server's import dir (a bad row loads nothing)",
        "orders",
    ),
    Command("halt", _one("SYMBOL"), "stop trading a symbol: new orders are rejected (halted)", "halt"),
    Command("resume", _one("SYMBOL"), "trade the symbol again", "resume"),
    Command("kill", _one("ACCOUNT|all"), "kill switch: cancel open orders, refuse new ones; survives restart", "kill"),
    Command("unkill", _one("ACCOUNT|all"), "lift the kill switch", "unkill"),
    Command(
        "risk-limits",
        (
            Form(
                names=("ACCOUNT|group:NAME",),
                options=(("--max-var", "AMOUNT"), ("--max-gross-exposure", "AMOUNT"), ("--max-concentration-pct", "PCT"), ("--max-drawdown-pct", "PCT"), ("--max-sector-pct", "PCT")),
            ),
            Form(words=("clear",), names=("ACCOUNT|group:NAME",)),
        ),
        "portfolio limits of an account or of every account of a group, checked on the portfolio after each order (docs/risk.md); journaled",
        "risk_limits",
    ),
    Command(
        "risk",
        (Form(optional="ACCOUNT|group:NAME"),),
        "the risk measures now of an account, a group or (none given) every account: VaR/ES, exposure, concentration, drawdown, limits, state, alerts",
        "risk",
    ),
    Command("trading-state", _one("ACCOUNT", "active|reducing|halted"), "an account's trading state: reducing takes only orders that reduce risk", "trading_state"),
    Command(
        "cancel-all",
        (Form(options=(("--account", "A"), ("--symbol", "S"), ("--venue", "V"))),),
        "cancel the open orders that match every filter given (none: all open orders)",
        "cancel_all",
    ),
    Command(
        "open",
        (Form(many="SYMBOL"),),
        "the open: release the orders queued for it as blocks (all symbols, or those named)",
        "open",
    ),
    Command(
        "nav",
        (Form(names=("FUND", "PRICE")), Form(names=("FILE",))),
        "strike a mutual fund's NAV (or each of a symbol,nav file in the server's import dir): its collected orders fill at it",
        "nav",
    ),
    Command("blocks", NONE, "the blocks sent at the open: orders, netted, filled, average price", "blocks"),
    Command(
        "export",
        (Form(optional="FOLDER", options=(("--tenant", "T"),)),),
        "end of day: positions.csv and allocations.csv into FOLDER in the server's export dir (default: <UTC date>);"
        " a tenant's accounts only into <export dir>/<tenant>/FOLDER (--tenant: the platform operator's choice)",
        "export",
    ),
    Command(
        "accounts",
        (Form(words=("load",), names=("FILE",)),),
        "open the accounts of an accounts CSV in the server's import dir (a bad row loads nothing)",
        "accounts_load",
    ),
    Command(
        "lot-method",
        _one("ACCOUNT", "METHOD"),
        "set which tax lots an account's sales close: fifo (the default), lifo, hifo or average (an order may choose its own)",
        "lot_method",
    ),
    Command("config", NONE, "the configuration the server runs with: every setting, defaults filled in", "config"),
    Command("snapshot", NONE, "snapshot every actor now", "snapshot"),
    Command("check", NONE, "check every actor's invariants and replay every journal against the live state", "check"),
    Command(
        "strategy",
        (
            Form(words=("create",), names=("NAME", "FILE")),
            Form(words=("start",), names=("NAME",)),
            Form(words=("stop",), names=("NAME",)),
            Form(words=("promote",), names=("NAME",), optional="ACCOUNT"),
            Form(words=("list",)),
            Form(words=("subscribe",), names=("NAME", "ACCOUNT", "AMOUNT")),
            Form(words=("redeem",), names=("NAME", "ACCOUNT")),
        ),
        "strategies on this server (docs/strategies.md): create one from a file of the import dir, start, stop, "
        "promote (backtest → paper → live on ACCOUNT), list; investors subscribe to and redeem a live one",
        "strategy",
    ),
    Command(
        "journal",
        (Form(words=("verify",), options=(("--config", "FILE"), ("--data-dir", "DIR"))),),
        "check every journal and snapshot, here, with the server up or down"
        " (DIR: the data_dir of FILE; without either, $BROKERD_DATA_DIR, else that of conf/server.toml)",
        "journal_verify",
        runs=SHELL,
    ),
    Command(
        "reshard",
        (Form(options=(("--shards", "N"), ("--config", "FILE"), ("--data-dir", "DIR"))),),
        "with the server stopped, here: move the accounts of the data dir's account shards onto N shards"
        " (more than now), orders in flight with them; killed midway, run it again (docs/scale.md#resharding)",
        "reshard",
        runs=SHELL,
    ),
    Command(
        "audit",
        (
            Form(words=("verify",), options=(("--config", "FILE"), ("--data-dir", "DIR"), ("--from", "DATE"), ("--to", "DATE"), ("--public-key", "PEM"))),
            Form(words=("export",), names=("FROM", "TO", "FOLDER"), options=(("--config", "FILE"), ("--data-dir", "DIR"))),
        ),
        "the audit log, here, with the server up or down: verify every chain and anchor (the days FROM to TO, YYYY-MM-DD;"
        " PEM: the anchors' public key, default [audit] public_key_file), naming each chain's first bad record;"
        " or export the records of the days FROM to TO into FOLDER as JSON lines, with each segment's SHA-256",
        "audit",
        runs=SHELL,
    ),
    Command(
        "reconcile",
        (Form(names=("FILE",), options=(("--tenant", "T"),)),),
        "compare positions with a back-office file in the server's import dir, list the breaks (exit 1 if any);"
        " a tenant's accounts only, with a file of <import dir>/<tenant>/ (--tenant: the platform operator's choice)",
        "reconcile",
    ),
    Command(
        "statement",
        _one("ACCOUNT", "FROM", "TO"),
        "one account's statement for the local dates FROM to TO (YYYY-MM-DD): balances, trades, cash movements, realized gains,"
        " written to <export dir>/<tenant>/statements/ACCOUNT_FROM_TO.json and .csv; answers the balances and totals",
        "statement",
    ),
    Command(
        "report",
        (
            Form(words=("gains",), names=("YEAR",), options=(("--tenant", "T"),)),
            *(Form(words=(word,), names=names, options=_REPORT_OPTIONS, runs=SHELL, handler="compliance_report") for word, names in _COMPLIANCE_REPORTS),
        ),
        "the gains report of a tax year: one row per lot closed in YEAR (1099-B-like) into gains-YEAR.csv in the export dir;"
        " a tenant's accounts only into <export dir>/<tenant>/ (--tenant: the platform operator's choice);"
        " or, here, from the audit log (server up or down), into OUT (a file, or a folder for <report>-<dates>.csv|.jsonl):"
        " the trade blotter or the CAT order events of the local day DATE, best execution per symbol and venue"
        " or the admin commands and logins of the days FROM to TO (YYYY-MM-DD)",
        "report",
    ),
    Command(
        "vault",
        (
            Form(words=("list",)),
            Form(words=("add",), names=("NAME",), secret="VALUE"),
            Form(words=("rotate",), names=("NAME",), secret="VALUE"),
            Form(words=("remove",), names=("NAME",)),
        ),
        "venue credentials, sealed: list (names and times, never values), add, rotate, remove;"
        " the value is asked for without echo (or read from --value-file, or piped in), never typed on the line;"
        " a FIX session uses a new value from its next logon",
        "vault",
    ),
    Command(
        "keys",
        (
            Form(words=("create",), names=("USER",), options=(("--scopes", "S"), ("--allow", "A"), ("--expires", "T"), ("--label", "L"))),
            Form(words=("list",), optional="USER"),
            Form(words=("rotate",), names=("KEY_ID",)),
            Form(words=("revoke",), names=("KEY_ID",)),
        ),
        "API keys of a user: create (--scopes read,trade,...; --allow networks; --expires ISO-8601 time, +30d or +12h;"
        " --label), list, rotate, revoke; the secret is answered once, by create and rotate;"
        " revoking or rotating closes the key's connections at once",
        "keys",
    ),
    Command(
        "mfa",
        (Form(words=("enroll",), names=("USER",)), Form(words=("reset",), names=("USER",))),
        "TOTP second factor: enroll a user (answers its otpauth:// URI and secret once) or reset it",
        "mfa",
    ),
    Command(
        "lockout",
        (Form(words=("list",)), Form(words=("lift",), names=("KEY|ADDRESS",))),
        "login lockouts (too many failed logins by a key or from an address): list them, or lift one on every gateway",
        "lockout",
    ),
    Command(
        "transfers",
        (Form(optional="ACCOUNT", options=(("--status", "S"),)),),
        "deposits, withdrawals and journal legs: of one account, or the most recent of every account;"
        " --status pending|settled|rejected|canceled",
        "transfers",
    ),
    Command(
        "transfer",
        tuple(Form(words=(word,), names=("ID",), optional="REASON") for word in ("settle", "reject", "cancel")),
        "settle a pending deposit (credit it) or withdrawal (pay out its held cash), reject either, or cancel a withdrawal"
        " (release its hold); REASON is recorded and shown",
        "transfer",
    ),
    Command(
        "desk",
        (
            Form(words=("start",), names=("SYMBOL",)),
            Form(words=("stop",), names=("SYMBOL",)),
            Form(words=("tune",), names=("SYMBOL",), many="KEY=VALUE"),
            Form(words=("status",), optional="SYMBOL"),
        ),
        "the market-making desk in a symbol of [desk] symbols: start quoting, stop (pulls its quotes),"
        " tune its knobs (size=10 spread_bps=5 ...: checked whole, a bad one changes nothing),"
        " or its status: position, working quotes, the day's P&L, stopped by its loss limit (docs/liquidity.md)",
        "desk",
    ),
    Command("help", (Form(optional=COMMAND_NAME),), "this list, or one command", "show_help", runs=SHELL),
    Command("quit", NONE, "leave the shell (also: exit, Ctrl-D)", "leave", runs=SHELL, aliases=("exit",)),
)

COMMANDS: dict[str, Command] = {command.name: command for command in TABLE}
ALIASES: dict[str, str] = {alias: command.name for command in TABLE for alias in command.aliases}
SERVER_COMMANDS: dict[str, Command] = {command.name: command for command in TABLE if command.runs == SERVER}


def check(name: str, args: Sequence[str], where: Where) -> tuple[Command, Given]:
    """The command ``name`` names and its checked arguments, for the shell (``where="shell"``:
    every command) or the server (``"server"``: the server's commands only). Raises
    ``UsageError`` (``"NAME: PROBLEM\\nusage: USAGE"``) or, for a command ``where`` does not
    have, ``AdminError`` naming those it has."""
    command = COMMANDS.get(ALIASES.get(name, name))
    if command is None or (where == SERVER and command.runs != SERVER):
        raise UsageError(unknown_command(name)) if where == SHELL else AdminError(unknown_command(name, SERVER))
    try:
        given = command.fit(args, secrets=where == SERVER)
    except UsageError as problem:
        raise UsageError(f"{name}: {problem}\nusage: {command.usage}") from None
    if where == SERVER and command.where(given) != SERVER:
        words = " ".join(command.forms[given.form].words)
        raise AdminError(f"'{name} {words}' is a command of the admin shell: it reads the data dir's files where the shell runs")
    return command, given


def authorize(name: str, args: Sequence[str], granted: frozenset[str]) -> None:
    """``Forbidden`` unless the permissions ``granted`` to a session allow ``name`` with
    ``args`` at the server (``model/permissions.py``: ``command_permission``). A command the
    server does not have needs a server-wide permission: who may not run admin commands
    learns nothing of them."""
    needed = permissions.command_permission(name, tuple(args))
    if needed not in granted:
        raise Forbidden(f"admin {name} needs the {needed} permission", needed)


def unknown_command(name: str, where: Where = SHELL) -> str:
    """The answer to a command ``where`` does not have, naming those it has (there is no
    ``help`` over the WebSocket API); at the server, the shell's own commands are pointed
    to the shell."""
    if where == SHELL:
        return f"unknown command {name!r}; commands: {', '.join(COMMANDS)}"
    known = ", ".join(SERVER_COMMANDS)
    if name in COMMANDS or name in ALIASES:
        return f"{name!r} is a command of the admin shell; server commands: {known}"  # within an error frame's length
    shown = repr(name) if len(name) <= 40 else repr(name[:40]) + "…"  # the name is the caller's: quoted cut short
    return f"unknown admin command {shown}; server commands: {known}"


def parse_options(args: Sequence[str], allowed: Sequence[str]) -> dict[str, str]:
    """``--name VALUE`` pairs, each name at most once, keyed by the full flag."""
    options: dict[str, str] = {}
    position = 0
    while position < len(args):
        name = args[position]
        if "=" in name and name.split("=", 1)[0] in allowed:
            raise UsageError(f"write {name.replace('=', ' ', 1)}, not {name}")
        if name not in allowed:
            raise UsageError(f"unexpected {name!r}; options: {', '.join(allowed)}")
        if name in options:
            raise UsageError(f"{name} given twice")
        if position + 1 == len(args) or not args[position + 1] or args[position + 1].startswith("--"):
            raise UsageError(f"{name} needs a value")
        options[name] = args[position + 1]
        position += 2
    return options


def _fit(command: Command, index: int, form: Form, args: list[str], secrets: bool = False) -> Given:
    if args[: len(form.words)] != list(form.words):
        raise UsageError(f"the {command.name} command is '{command.name} {form.usage()}'")
    rest = args[len(form.words) :]
    secret = None
    if form.secret is not None and secrets:
        if len(rest) <= len(form.names) or not rest[-1]:
            raise UsageError(f"no {form.secret} came with it (the admin shell asks for it)")
        rest, secret = rest[:-1], rest[-1]
    slots = bool(form.names) or form.optional is not None or form.many is not None
    if not slots and form.options:  # options only: every word is a flag or its value
        positional, flags = [], rest
    elif form.options:  # values first, then the options
        first_option = next((at for at, arg in enumerate(rest) if arg.startswith("--")), len(rest))
        positional, flags = rest[:first_option], rest[first_option:]
    else:
        positional, flags = rest, []
    most = len(form.names) + (form.optional is not None)
    if len(positional) < len(form.names) or (form.many is None and len(positional) > most):
        raise UsageError(_count_problem(form, positional))
    extra = form.optional or form.many or ""
    for value, name in zip(positional, [*form.names, *[extra] * (len(positional) - len(form.names))], strict=True):
        _check_value(value, name)
    values = dict(zip(form.names, positional, strict=False))
    if form.optional is not None and len(positional) > len(form.names):
        values[form.optional] = positional[-1]
    many = tuple(positional[len(form.names) :]) if form.many is not None else ()
    options = parse_options(flags, [flag for flag, _ in form.options])
    values.update({flag.removeprefix("--"): value for flag, value in options.items()})
    if secret is not None and form.secret is not None:
        values[form.secret] = secret
    return Given(index, values, many)


def _count_problem(form: Form, positional: list[str]) -> str:
    if not form.names and form.optional is None and form.many is None:
        return f"takes no arguments, got {' '.join(positional)!r}"
    if not form.names and form.optional is not None:
        return f"takes at most one {form.optional}"
    wanted = f"one {_said(form.names[0])}" if len(form.names) == 1 else " ".join(form.names)
    if form.optional is not None:
        wanted += f" [{form.optional}]"
    return f"needs {wanted}, got {len(positional)} arguments"


def _check_value(value: str, name: str) -> None:
    if not value or value.startswith("-"):
        raise UsageError(f"{value!r} is not a {_said(name)}")
    if name == COMMAND_NAME and value not in COMMANDS:
        raise UsageError(f"{value!r} is not a command; commands: {', '.join(COMMANDS)}")


def _said(name: str) -> str:
    """A value's name as a message says it: ``ACCOUNT|all`` is ``ACCOUNT or all``."""
    return name.replace("|", " or ")


def public_args(name: str, args: Sequence[str]) -> list[str]:
    """``args`` as an audit record keeps them: without the secret value a form takes last
    (a venue password for the vault), whether or not the rest fits the form."""
    command = COMMANDS.get(ALIASES.get(name, name))
    kept = list(args)
    if command is None:
        return kept
    secret_forms = [form for form in command.forms if form.secret is not None]
    for form in secret_forms:
        if kept[: len(form.words)] == list(form.words):
            return kept[:-1] if len(kept) > len(form.words) + len(form.names) else kept
    return kept
