"""The AccountShard Ray actor: hosts ``AccountState``."""

from __future__ import annotations

import ray

from actors.accounts.risk import RiskLimits
from actors.accounts.state import AccountState
from actors.runtime import CoreHost
from model.config import AccountSeed, Config
from model.instruments import Instrument


@ray.remote
class AccountActor(CoreHost):
    """Owns the accounts placed on this shard; every order of those accounts lives here."""

    def __init__(self, name: str, config: Config, instruments: list[Instrument], accounts: list[AccountSeed]) -> None:
        super().__init__(name, config)
        self.core = AccountState(name, instruments, RiskLimits.from_config(config.risk))
        for seed in accounts:
            self.core.open_account(seed)
