"""Who follows what on one gateway, and the fan-out of executions and quotes to them.

A session that reaches only its own accounts (trader, advisor, viewer) follows their
executions from login; one that reaches a whole tenant and may inspect it follows every
account of its tenant once it subscribes to ``executions``, the platform operator every
account of every tenant; any session that may read quotes follows a symbol's
(``quotes:SYMBOL``: market data, the same for every tenant); a session that may read
accounts follows the transfers of every account within its reach once it subscribes to
``transfers``, and their risk alerts once it subscribes to ``risk``. Soft state: a reconnecting
client subscribes again. Pure: frames are queued on the connections (``Connection.send``),
never written here.

Guarantees: an execution goes only to connections whose session reaches its account, so no
connection ever sees another tenant's executions unless its role spans tenants; the same
holds for transfers and risk alerts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from model import permissions
from model.instruments import Instrument
from model.messages import ExecutionReport, QuoteEvent, RiskAlert, Transfer
from model.permissions import Reach
from server.gateway import protocol
from server.gateway.connection import Connection
from server.gateway.validation import Invalid


class Fanout:
    """The followers of each account and symbol among ``connections`` (shared with the
    gateway, which adds and removes them), and the latest quote per symbol."""

    def __init__(
        self,
        connections: dict[int, Connection],
        instruments: dict[str, Instrument],
        max_channels: int,
        tenant_of: Callable[[str], str | None] = lambda account: None,
    ) -> None:
        self.connections = connections
        self.tenant_of = tenant_of  # an account's tenant (the tenant firehoses)
        self.instruments = instruments
        self.max_channels = max_channels
        self.account_connections: dict[str, set[int]] = {}
        self.firehose: set[int] = set()  # platform operators' connections subscribed to every account's executions
        self.tenant_firehose: dict[str, set[int]] = {}  # tenant → connections subscribed to its every account's executions
        self.quote_connections: dict[str, set[int]] = {}
        self.transfer_followers: set[int] = set()  # connections subscribed to ``transfers`` (of the accounts within their reach)
        self.risk_followers: set[int] = set()  # connections subscribed to ``risk`` (the alerts of the accounts within their reach)
        self.last_quotes: dict[str, QuoteEvent] = {}  # the latest quote per symbol ...
        self.quote_frames: dict[str, bytes] = {}  # ... as a frame, once a subscriber wanted it

    def follow(self, conn: Connection) -> None:
        """A connection just logged in (or its reach changed): it follows its own accounts; a
        connection reaching a whole tenant or every tenant gets executions only when it
        subscribes to ``executions``."""
        for account in self.followed(conn):
            self.account_connections.setdefault(account, set()).add(conn.conn_id)

    def followed(self, conn: Connection) -> Iterable[str]:
        """The accounts ``follow`` made ``conn`` follow: its own, or none (an operator's reach,
        which may be every account, is never walked)."""
        return conn.accounts if _follows_own(conn) else ()

    def forget_accounts(self, conn: Connection) -> None:
        """Stop following the accounts ``follow`` followed (before the connection's reach
        changes, or as it closes). A connection that followed none — an operator's, whose
        reach may be every account — costs nothing here, not a walk of its reach."""
        for account in self.followed(conn):
            followers = self.account_connections.get(account)
            if followers is not None:
                followers.discard(conn.conn_id)

    def forget(self, conn: Connection) -> None:
        self.forget_accounts(conn)
        self.firehose.discard(conn.conn_id)
        self.transfer_followers.discard(conn.conn_id)
        self.risk_followers.discard(conn.conn_id)
        for followers in self.tenant_firehose.values():
            followers.discard(conn.conn_id)
        for symbol in conn.quotes:
            self.quote_connections.get(symbol, set()).discard(conn.conn_id)

    def subscribe(self, conn: Connection, channels: list[str], request_id: bytes) -> None:
        """Guarantees: a channel counts once however often it is named; a connection holds at
        most ``max_channels`` channels; a refused frame (``Invalid``) changes nothing; the
        reply names each channel of the frame once, and only a newly subscribed symbol's
        latest quote is sent, so no frame is answered with more than the cap."""
        limit = self.max_channels
        if len(channels) > limit:
            raise Invalid("invalid_request", f"channels must hold at most {limit} entries, not {len(channels)}")
        channels = list(dict.fromkeys(channels))  # deduplicated, in the order given
        firehose = transfers = risk = False
        session = conn.session
        symbols = []
        for channel in channels:
            if channel == "executions":  # adds nothing to a session that follows its own accounts from login
                firehose = session is not None and session.reach is not Reach.OWN and permissions.EXECUTIONS_CHANNEL in session.permissions
                continue
            if channel == "transfers":
                if session is None or permissions.TRANSFERS_CHANNEL not in session.permissions:
                    raise Invalid("forbidden", f"the transfers channel needs the {permissions.TRANSFERS_CHANNEL} permission")
                transfers = True
                continue
            if channel == "risk":
                if session is None or permissions.RISK_CHANNEL not in session.permissions:
                    raise Invalid("forbidden", f"the risk channel needs the {permissions.RISK_CHANNEL} permission")
                risk = True
                continue
            kind, _, symbol = channel.partition(":")
            if kind != "quotes" or not symbol:
                raise Invalid("invalid_request", f"unknown channel {protocol.shorten(channel)}; use executions, transfers, risk or quotes:SYMBOL")
            if symbol not in self.instruments:
                raise Invalid("unknown_symbol", f"unknown symbol {protocol.shorten(symbol)}")
            symbols.append(symbol)
        new = [symbol for symbol in symbols if symbol not in conn.quotes]
        hose = self.firehose if session is None or session.platform else self.tenant_firehose.setdefault(session.tenant, set())
        following = conn.conn_id in self.transfer_followers
        watching = conn.conn_id in self.risk_followers
        held = len(conn.quotes) + (conn.conn_id in hose) + following + watching
        adding = len(new) + (firehose and conn.conn_id not in hose) + (transfers and not following) + (risk and not watching)
        if held + adding > limit:
            raise Invalid("invalid_request", f"a connection may hold at most {limit} channels; this one holds {held}")
        if firehose:
            hose.add(conn.conn_id)
        if transfers:
            self.transfer_followers.add(conn.conn_id)
        if risk:
            self.risk_followers.add(conn.conn_id)
        for symbol in new:
            conn.quotes.add(symbol)
            self.quote_connections.setdefault(symbol, set()).add(conn.conn_id)
        conn.send(protocol.encode({"type": "subscribed", "channels": channels}, request_id))
        for symbol in new:
            frame = self._latest(symbol)
            if frame is not None:
                conn.send(frame)

    def execution(self, report: ExecutionReport, asker: Connection | None) -> bytes | None:
        """Send ``report`` to every connection following its account but ``asker`` (which
        gets it as the answer to its request, with its id); returns the encoded report, or
        None when nobody here wants it (then it is not encoded at all)."""
        watchers = self.account_connections.get(report.account)
        if self.firehose:
            watchers = (watchers or set()) | self.firehose
        if self.tenant_firehose:
            tenant = self.tenant_of(report.account)
            followers = self.tenant_firehose.get(tenant) if tenant is not None else None
            if followers:
                watchers = (watchers or set()) | followers
        if not watchers and asker is None:
            return None
        body = protocol.execution_body(report)
        skip = asker.conn_id if asker is not None else None
        for conn_id in watchers or ():
            if conn_id != skip:
                self.connections[conn_id].send(body)
        return body

    def transfer(self, record: Transfer, asker: Connection | None) -> None:
        """Send a transfer's new state to every ``transfers`` follower whose reach holds its
        account, but ``asker`` (which gets it as the answer to its request). Transfers are
        few: each follower's reach is tested, no index is kept."""
        if not self.transfer_followers:
            return
        frame: bytes | None = None
        skip = asker.conn_id if asker is not None else None
        for conn_id in self.transfer_followers:
            conn = self.connections.get(conn_id)
            if conn is None or conn_id == skip or record.account not in conn.accounts:
                continue
            if frame is None:
                frame = protocol.transfer(record)
            conn.send(frame)

    def risk_alert(self, alert: RiskAlert) -> None:
        """Send an account's risk alert to every ``risk`` follower whose reach holds the
        account. Alerts are rare (one per crossing): each follower's reach is tested."""
        frame: bytes | None = None
        for conn_id in self.risk_followers:
            conn = self.connections.get(conn_id)
            if conn is None or alert.account not in conn.accounts:
                continue
            if frame is None:
                frame = protocol.risk_alert(alert)
            conn.send(frame)

    def quote(self, event: QuoteEvent) -> None:
        """Send the quote to its symbol's subscribers. It is formatted only when someone
        follows the symbol: every quote of every symbol reaches every gateway, most with
        nobody subscribed."""
        symbol = event.symbol
        self.last_quotes[symbol] = event
        followers = self.quote_connections.get(symbol)
        if not followers:
            self.quote_frames.pop(symbol, None)
            return
        frame = self.quote_frames[symbol] = protocol.quote(event)
        for conn_id in followers:
            self.connections[conn_id].send(frame)

    def _latest(self, symbol: str) -> bytes | None:
        """The latest quote of ``symbol`` as a frame (formatted now if nobody wanted it yet)."""
        frame = self.quote_frames.get(symbol)
        if frame is None:
            event = self.last_quotes.get(symbol)
            if event is None:
                return None
            frame = self.quote_frames[symbol] = protocol.quote(event)
        return frame


def _follows_own(conn: Connection) -> bool:
    """Whether ``follow`` makes ``conn`` follow its own accounts: a session reaching only
    them (a connection logs in once, so this holds from ``follow`` to ``forget``)."""
    return conn.session is not None and conn.session.reach is Reach.OWN
