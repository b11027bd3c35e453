"""Markets: the consolidated view of each symbol, halts, and the open and NAV markers."""

from __future__ import annotations

import msgspec

from actors.account.base import ShardBase
from actors.account.risk import MarketView
from actors.runtime.outputs import ALL, INSTRUMENT
from model.calendar import trading_day
from model.messages import MarketUpdate, OpenMarket, SetTradingStatus, StrikeNav


class Markets(ShardBase):
    """What the shard knows of each symbol's market (quote, halt, the day it last opened),
    and the open and NAV markers it passes on behind the orders it routed."""

    def _market_update(self, update: MarketUpdate, now: int) -> None:
        view = self.markets.setdefault(update.symbol, MarketView())
        view.bid, view.ask, view.reference = update.bid, update.ask, update.reference
        # ``halted`` is the supervisor's to set (SetTradingStatus): a quote already in flight
        # when the operator halts must not lift the halt again.

    def _set_trading_status(self, command: SetTradingStatus, now: int) -> None:
        self.markets.setdefault(command.symbol, MarketView()).halted = command.halted

    def _open_market(self, command: OpenMarket, now: int) -> None:
        """Pass the open on to the InstrumentActors behind every order routed so far, and
        remember the day each symbol opened: an ``opg`` order after it is rejected here, as
        its first report (``risk.check_open_passed``). A symbol halted now does not open
        (its InstrumentActor keeps its orders for a later open), so it is not marked."""
        day = trading_day(now, self.limits.open_timezone)
        for symbol in command.symbols or self.instruments:
            view = self.markets.setdefault(symbol, MarketView())
            if not view.halted:
                view.opened_day = day
        marker = msgspec.structs.replace(command, shard=self.name)
        if command.symbols:
            for symbol in command.symbols:
                self.out.to(INSTRUMENT, symbol, msgspec.structs.replace(marker, symbols=[symbol]))
        else:
            self.out.to(INSTRUMENT, ALL, marker)

    def _strike_nav(self, command: StrikeNav, now: int) -> None:
        """Pass a fund's NAV strike on to its InstrumentActor behind every order routed so
        far: this is the cut-off. An order acknowledged here before it fills at this NAV; one
        acknowledged after it waits for the next (the InstrumentActor strikes once every
        shard's marker has come, and knows which orders came after which marker)."""
        self.nav_markers += 1
        self.out.to(INSTRUMENT, command.symbol, msgspec.structs.replace(command, shard=self.name))
