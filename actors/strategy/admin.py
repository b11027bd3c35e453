"""``admin strategy ...``: the strategy actor's commands, run by the supervisor
(``actors/supervisor/admin.py`` takes them in with this mixin; the table entry is in
``model/admin_commands.py``).

A strategy file is read from the server's import dir (a tenant's: from its folder there),
like every file an admin command reads; its text goes to the strategy actor, which checks
it whole (``model/strategy/spec.py``: an unknown key, symbol or indicator, a bad
expression...) and refuses it with every finding, creating nothing. An account named
(the live account, an investor) must exist within the caller's reach; one that commits
cash to a strategy (the live account its capital at the promotion, an investor its
subscription) must hold it: its cash is read from its shard and the strategy actor checks
the amount against it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from actors.runtime.router import STRATEGY_ACTOR
from model.admin_commands import AdminError, Given
from snapshots.files import PathRefused, read_import

Result = dict[str, Any]
MAX_FILE_BYTES = 1 << 20  # a strategy file is a few lines: anything this large is not one


class StrategyCommands:
    """What ``AdminCommands.strategy`` runs (``run``), with ``AdminCommands``' helpers."""

    top: Any

    if TYPE_CHECKING:  # AdminCommands' (the class this is mixed into)

        def _imported(self, given: str, tenant: str | None = None) -> Path: ...

        async def _shard_owning(self, account: str, tenant: str | None) -> Any: ...

    async def _strategy(self, given: Given, tenant: str | None) -> Result:
        handle = self.top.handles.get(STRATEGY_ACTOR)
        if handle is None:
            raise AdminError("the strategy actor is off on this server ([strategies] actor = true turns it on)")
        verb = VERBS[given.form]
        if verb == "list":
            return {"ok": True, "strategies": await handle.strategies.remote()}
        name = given["NAME"]
        account = given.get("ACCOUNT") or ""
        cash = ""
        if account:
            shard = await self._shard_owning(account, tenant)  # AdminError ``unknown account`` when not within reach
            if verb in ("promote", "subscribe"):  # it commits cash: the actor checks it against the account's
                cash = (await shard.admin_account.remote(account))["cash"]
        text = ""
        if verb == "create":
            text = self._read(given["FILE"], tenant)
        answer: Result = await handle.admin.remote(verb, name, text, account, given.get("AMOUNT") or "", cash)
        if not answer["ok"]:
            raise AdminError(answer["error"])
        return answer

    def _read(self, file: str, tenant: str | None) -> str:
        path = self._imported(file, tenant)
        try:
            return read_import(path, MAX_FILE_BYTES).decode("utf-8-sig")  # a byte order mark (Excel, Notepad) is not the file's text
        except PathRefused as refused:
            raise AdminError(f"{refused}; nothing created") from None
        except (OSError, UnicodeDecodeError) as error:
            raise AdminError(f"cannot read {path}: {error}; nothing created") from None


# The forms of ``strategy`` in the table's order (``model/admin_commands.py``): its first word
VERBS = ("create", "start", "stop", "promote", "list", "subscribe", "redeem")
