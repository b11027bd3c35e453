"""The open's wiring: orders for the open netted into blocks, the blocks worked at venues,
and their fills allocated back to the account orders (the arithmetic is in ``opening`` and
``allocation``, pure; this is where it meets routes, venues and accounts)."""

from __future__ import annotations

import msgspec

from actors.instrument import opening
from actors.instrument.base import TERMINAL_KINDS
from actors.instrument.holding import Released, kind_of
from actors.instrument.opening import Block, Constituents
from actors.instrument.records import Route
from actors.instrument.router import Router, routed
from actors.runtime.outputs import ACCOUNT, ALL, AUDIT, DROP_COPY, VENUE
from model import fixed
from model.enums import OrderType, Reason, Side, TimeInForce, VenueEventKind
from model.messages import AdminCancelAll, AllocationFills, AllocationReport, OpenMarket, OrderUpdate, VenueCancel, VenueNewOrder, VenueReport
from model.orders import OrderSpec
from model.routing import shard_of
from model.routes import RouteEvent, RouteState


_Fills = tuple[list[str], list[str], list[int], list[int], list[bool]]  # an AllocationFills' columns


class OpenBlocks(Router):
    """Guarantees: the open happens once per open marker set (once every account shard's
    marker has come); every order it releases ends in a trade, an expiry, or both (what its
    block did not fill), and the allocations of a block sum exactly to what it filled."""

    def _open_market(self, command: OpenMarket, now: int) -> None:
        """The open's marker from one account shard; the open itself once every shard's has
        come (each shard sends it behind the orders it routed before it)."""
        if command.shard:
            key = f"{command.open_id}:{','.join(command.symbols)}"
            seen = self.open_markers.setdefault(key, [])
            if command.shard not in seen:
                seen.append(command.shard)
            if len(seen) < self.shards:
                return
            del self.open_markers[key]
        released = self._open(command.symbols, now)
        done = self.opens_done.setdefault(command.open_id, [0, 0])
        done[0] += 1
        done[1] += released

    def _open(self, symbols: list[str], now: int) -> int:
        """Release the orders queued for the open: per symbol, quantity orders netted into one
        block, notional orders into one cash block per side, limits one by one (IOC)."""
        wanted = set(symbols)
        held: dict[str, list[Route]] = {}
        for route in self.routes.values():
            if route.state is RouteState.HELD_OPEN and (not wanted or route.spec.symbol in wanted):
                held.setdefault(route.spec.symbol, []).append(route)
        # a halted symbol keeps its orders for the open until it resumes and opens again
        opening = {symbol for symbol, book in self.books.items() if not book.halted and (not wanted or symbol in wanted)}
        columns = self.held_open.release(opening)
        released = 0
        for symbol in sorted(set(held) | set(columns)):
            if self.books[symbol].halted:
                continue
            routes = sorted(held.get(symbol, ()), key=lambda route: route.order_id)
            rows = columns.get(symbol)
            self._open_symbol(symbol, routes, rows, now)
            released += len(routes) + (sum(len(kind.order_ids) for kind in rows.values()) if rows is not None else 0)
        return released

    def _open_symbol(self, symbol: str, routes: list[Route], rows: dict[int, Released] | None, now: int) -> None:
        market: list[Route] = []
        for route in routes:
            if route.spec.order_type is not OrderType.MARKET:
                route.spec = msgspec.structs.replace(route.spec, tif=TimeInForce.IOC)  # a limit on the open: what the open gives it, no more
                self._send_to_venue(route, now)
                continue
            self._move(route, RouteEvent.JOIN_BLOCK)
            del self.routes[route.order_id]  # the block answers for it from here on
            market.append(route)
        quantity = {side: _constituents(rows, market, side, notional=False) for side in (Side.BUY, Side.SELL)}
        cash = {side: _constituents(rows, market, side, notional=True) for side in (Side.BUY, Side.SELL)}
        buys, sells = quantity[Side.BUY].total, quantity[Side.SELL].total
        if buys or sells:
            side = Side.BUY if buys >= sells else Side.SELL
            larger, smaller = (quantity[Side.BUY], quantity[Side.SELL]) if side is Side.BUY else (quantity[Side.SELL], quantity[Side.BUY])
            block = self._new_block(symbol, side, notional=False, orders=larger, routed=abs(buys - sells))
            block.crossed, block.cross = smaller, min(buys, sells)
            self._route_block(
                block, VenueNewOrder(block.child_id or "", OrderSpec(symbol, side, OrderType.MARKET, TimeInForce.DAY, qty=block.routed)), now
            )
        for side, orders in cash.items():
            if orders.order_ids:
                cap = sum(orders.qty_caps) if side is Side.SELL and len(orders.qty_caps) == len(orders.order_ids) else None
                block = self._new_block(symbol, side, notional=True, orders=orders, routed=orders.total)
                self._route_block(
                    block,
                    VenueNewOrder(block.child_id or "", OrderSpec(symbol, side, OrderType.MARKET, TimeInForce.DAY, notional=block.routed), cap),
                    now,
                )

    def _new_block(self, symbol: str, side: Side, *, notional: bool, orders: Constituents, routed: int) -> Block:
        self.block_counter += 1
        block_id = f"{self.name}-B{self.block_counter}"
        return Block(block_id, symbol, side, notional, orders, routed)

    def _route_block(self, block: Block, order: VenueNewOrder, now: int) -> None:
        """Send the block to the venue with the best price for it; allocate at once when
        netting covered everything or no venue takes it."""
        venue = self.venue_for(block.symbol, block.side, OrderType.MARKET, order.spec.qty) if block.routed else None
        if venue is None:
            self._finish_block(block, now)
            return
        self.child_counter += 1
        block.child_id, block.venue = f"{self.name}-{self.child_counter}", venue
        self.blocks[block.block_id] = block
        self.block_children[block.child_id] = block.block_id
        self.out.to(VENUE, venue, msgspec.structs.replace(order, child_id=block.child_id))
        if self.out.audit:
            self.out.to(AUDIT, "", routed("", block.block_id, venue, block.child_id, order.spec))

    def _block_report(self, block: Block, report: VenueReport, now: int) -> None:
        if report.kind is VenueEventKind.TRADE:
            if report.last_price is None or report.last_qty <= 0:
                self._anomaly(f"{report.venue} bad trade for block {block.block_id}: {report.last_qty} at {report.last_price}")
                return
            block.fill_qty += report.last_qty
            self._traded(block.symbol, report.last_price, report.last_qty, now)
            block.fill_value += fixed.raw_value(report.last_qty, report.last_price, self.books[block.symbol].instrument.multiplier)
            if report.done or (not block.notional and block.fill_qty >= block.routed):
                self._finish_block(block, now)
        elif report.kind in TERMINAL_KINDS:
            self._finish_block(block, now, report.reason)
        elif report.kind is not VenueEventKind.ACCEPTED:
            self._anomaly(f"{report.venue} {report.kind.value} for block {block.block_id}")

    def _finish_block(self, block: Block, now: int, reason: str | None = None) -> None:
        """Allocate what the block filled (and what netting crossed); expire the rest."""
        if block.child_id is not None:
            del self.block_children[block.child_id]
            del self.blocks[block.block_id]
        instrument = self.books[block.symbol].instrument
        reference = self.books[block.symbol].reference
        unfilled = reason if reason is not None and not block.fill_qty else Reason.NOT_FILLED_AT_OPEN.value
        venue = block.venue or ""
        price = opening.average_price(block, instrument.multiplier, reference)
        self.done_blocks.append(
            opening.BlockDone(
                block.block_id,
                block.symbol,
                block.side,
                block.notional,
                len(block.orders.order_ids),
                block.routed,
                block.cross,
                len(block.crossed.order_ids),
                block.fill_qty,
                block.value_nanos,
                block.value_subnanos,
                price,
                venue,
                now,
            )
        )
        to = self.out.to
        expired_kind = VenueEventKind.EXPIRED
        shards, chunk = self.shards, self.allocation_chunk
        for allocation in opening.allocate(block, instrument.qty_increment, instrument.multiplier, reference):
            asked_qty = allocation.asked if allocation.asked is not None else [None] * len(allocation.order_ids)
            filled = 0
            by_shard: dict[int, _Fills] = {}
            expired: list[tuple[str, str]] = []  # sent after the fills: an order's partial fill comes before its expiry
            for order_id, account, qty, cash, asked in zip(allocation.order_ids, allocation.accounts, allocation.qty, allocation.cash, asked_qty, strict=True):
                if qty:
                    fills = by_shard.get(shard := shard_of(account, shards))
                    if fills is None:
                        fills = by_shard[shard] = ([], [], [], [], [])
                    fills[0].append(order_id)
                    fills[1].append(account)
                    fills[2].append(qty)
                    fills[3].append(cash)
                    fills[4].append(asked is None or qty == asked)
                    filled += 1
                if (qty == 0) if asked is None else (qty < asked):
                    expired.append((order_id, account))
            # one message per shard and chunk, keyed by its first account: the router sends it
            # to that account's shard, which is every one of its accounts' (``shard_of``)
            for order_ids, accounts, qtys, cash_column, done in by_shard.values():
                for start in range(0, len(order_ids), chunk):
                    end = start + chunk
                    to(
                        ACCOUNT,
                        accounts[start],
                        AllocationFills(
                            allocation.alloc_id, block.symbol, venue, allocation.price,
                            order_ids[start:end], accounts[start:end], qtys[start:end], cash_column[start:end], done[start:end], now,
                        ),
                    )
            for order_id, account in expired:
                to(ACCOUNT, account, OrderUpdate(order_id, account, expired_kind, 0, None, unfilled, venue, now, True))
            self.fills_allocated += filled
            self.allocations += len(allocation.order_ids)
            if allocation.residual_qty or allocation.residual_cash:
                residual = self.residuals.setdefault(block.symbol, [0, 0])
                residual[0] += allocation.residual_qty if allocation.side is Side.BUY else -allocation.residual_qty
                residual[1] += allocation.residual_cash if allocation.side is Side.SELL else -allocation.residual_cash
            accounts, qtys = opening.per_account(allocation)
            if accounts:
                self.out.to(
                    DROP_COPY,
                    ALL,
                    AllocationReport(allocation.alloc_id, block.symbol, allocation.side, allocation.price, accounts, qtys, now),
                )

    def matching_blocks(self, command: AdminCancelAll) -> list[Block]:
        """Blocks at a venue an operator's cancel-all covers: not with an account filter (a
        block is many accounts' orders at once; what it filled is allocated, the rest expires)."""
        if command.account is not None:
            return []
        return [
            block
            for block in self.blocks.values()
            if (command.symbol is None or block.symbol == command.symbol) and (command.venue is None or block.venue == command.venue)
        ]

    def _cancel_matching_blocks(self, command: AdminCancelAll) -> None:
        for block in self.matching_blocks(command):
            assert block.child_id is not None and block.venue is not None
            self.out.to(VENUE, block.venue, VenueCancel(block.child_id))



def _constituents(rows: dict[int, Released] | None, routes: list[Route], side: Side, *, notional: bool) -> Constituents:
    """One side's market orders of one kind (quantity or notional), in order id order: the
    rows from the columns (already in that order), merged with the routes when there are
    any (orders a column cannot hold). A cap is kept for notional orders only."""
    picked = rows.get(kind_of(side, notional)) if rows is not None else None
    mine = [r for r in routes if r.spec.side is side and (r.spec.qty is None) == notional]
    orders = Constituents()
    if picked is None and not mine:
        return orders
    if not mine:
        assert picked is not None
        orders.order_ids, orders.accounts, orders.asked = picked.order_ids, picked.accounts, picked.amount
        orders.qty_caps = [cap for cap in picked.cap if cap >= 0] if notional else []
        return orders
    entries: list[tuple[str, str, int, int | None]] = []
    if picked is not None:
        entries.extend(
            (order_id, account, amount, cap if cap >= 0 else None)
            for order_id, account, amount, cap in zip(picked.order_ids, picked.accounts, picked.amount, picked.cap, strict=True)
        )
    for route in mine:
        amount = route.spec.notional if notional else route.spec.qty
        assert amount is not None
        entries.append((route.order_id, route.account, amount, route.qty_cap))
    entries.sort(key=lambda entry: entry[0])
    for order_id, account, amount, cap in entries:
        orders.add(order_id, account, amount, cap if notional else None)
    return orders
