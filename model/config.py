"""Typed, frozen configuration read once at start from ``conf/server.toml`` and the files it names.

Every limit, shard count, port and timeout lives here, never as a constant in code.
Decimal settings are strings in TOML and fixed-point ints once loaded.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import structlog

from model import fixed
from model.accounts_file import AccountSeed, check_account_symbols, check_tenant_name, load_accounts
from model.accounts_file import numbered_csv_rows as numbered_csv_rows  # re-exported: the back office reads CSV rows the same way
from model.accounts_file import parse_accounts_csv as parse_accounts_csv  # re-exported: ``accounts load`` parses an upload
from model.desk import BPS_KNOBS, COUNT_KNOBS, DECIMAL_KNOBS, DeskParams
from model.desk import check as check_desk
from model.enums import SessionState
from model.errors import ConfigError
from model.instruments import Instrument, InstrumentSpec
from model.permissions import ALIASES, DEFAULT_TENANT, UnknownRole, role
from model.risk.limits import PortfolioLimits, parse_limits
from model.transfers import MAX_CASH

log = structlog.get_logger("config")


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


DEFAULT_PORTS = {"http": 80, "https": 443}


def web_origin(text: str) -> str | None:
    """``text`` as a browser writes it in an ``Origin`` header (``scheme://host[:port]``:
    lower case, an IPv6 address in brackets, no default port); None when it is no http or
    https origin (a path, a query, credentials, ``null``)."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    if "@" in parts.netloc:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + ("" if port in (None, DEFAULT_PORTS[parts.scheme]) else f":{port}")


class ServerSection(_Section, frozen=True):
    host: str = "127.0.0.1"
    ws_port: int = 8765
    fix_port: int = 9878
    data_dir: str = "./data"
    # How often run_server.py asks whether the supervisor lives; when it has died (it takes
    # every actor with it), the server exits non-zero so a process manager restarts it.
    supervisor_check_ms: int = 1000
    # A recovery test's crash point, ``POINT:K[:ACTOR]`` (docs/recovery.md "Crash points"):
    # set by run_server.py from ``BROKERD_CRASH_AT``, never from this file. It goes with the
    # configuration to every actor — on a cluster joined with --address and on other nodes
    # too, whose processes never see the driver's environment.
    crash_at: str = ""


class TopologySection(_Section, frozen=True):
    account_shards: int = 2
    instrument_actors: int = 2
    namespace: str = "brokerd"


class BatchingSection(_Section, frozen=True):
    """Every actor hop (see ``actors.runtime.outbox.Outbox`` and ``actors.runtime.link``): at most one batch per
    destination per ``flush_interval_us`` (0: one per event-loop turn), and at once when a
    batch reaches ``max_messages`` (a journaled actor's batches: that many orders, an
    allocation's fills counting one each, ``actors.runtime.outbox.batches_of``)."""

    max_messages: int = 1000
    flush_interval_us: int = 0
    link_host: str = "127.0.0.1"  # where actors listen for batches; "node": Ray's node address
    # A connection to an actor's link that has not completed the authentication handshake
    # (``actors/runtime/link.py``) within this long is closed, by the receiver and by the sender.
    link_handshake_timeout_ms: int = 5000
    # An InstrumentActor writes at most this many batches to one account shard that the shard
    # has not acked; the rest wait, encoded, in its outbox (``actors/instrument/actor.py``).
    max_in_flight_to_shard: int = 32

    def __post_init__(self) -> None:
        if self.link_handshake_timeout_ms < 1:
            raise ValueError("batching.link_handshake_timeout_ms must be at least 1")
        if self.max_in_flight_to_shard < 1:
            raise ValueError("batching.max_in_flight_to_shard must be at least 1")


class GatewaySection(_Section, frozen=True):
    """The WebSocket gateway's limits (docs/configuration.md names each; docs/protocol.md
    says what a client sees when it meets one)."""

    login_window_ms: int = 30_000
    max_frame_bytes: int = 4 * 1024 * 1024
    max_orders_per_frame: int = 1000
    rate_limit_per_s: int = 200_000
    rate_limit_burst: int = 200_000
    max_pending_per_connection: int = 100_000
    max_pending_bytes_per_connection: int = 64 * 1024 * 1024  # unread frames' bytes before a slow reader is dropped
    max_channels_per_connection: int = 1000  # distinct subscribed channels
    # Fairness: a connection's requests that wait for an answer from the account shards; beyond
    # this many the gateway holds its commands and stops reading it until answers come back,
    # so one client's flood puts no more than this ahead of everyone else's requests
    max_in_flight_per_connection: int = 500
    orders_per_turn: int = 500  # a connection yields the event loop after this many orders (or requests) in a row
    # Who may knock
    login_deadline_ms: int = 10_000  # a connection not logged in by then is closed
    login_failures_per_connection: int = 5  # failed logins allowed before backoff, per connection,
    login_failures_per_user: int = 10  # ... per (existing) user key,
    login_failures_per_address: int = 50  # ... and per source address
    login_backoff_ms: int = 1_000  # the first lock; it doubles with each further failure
    login_backoff_max_ms: int = 60_000
    login_failure_memory_ms: int = 600_000  # a key's failures are forgotten after this long without one
    login_throttle_max_keys: int = 100_000  # keys remembered at most (least recently failed forgotten first)
    max_connections_per_address: int = 1000
    max_connections_per_user: int = 100
    # Lockout, beside the backoff: this many failed logins naming one key (a users.toml key or
    # an API key id), or from one address, within the window, and further logins by that key
    # or from that address are refused ``locked`` for ``lockout_ms`` (an operator lifts it:
    # ``admin lockout lift``)
    lockout_failures_per_key: int = 20
    lockout_failures_per_address: int = 200
    lockout_window_ms: int = 900_000
    lockout_ms: int = 900_000
    # MFA: a login whose session would hold an admin-scope permission (roles operator,
    # tenant_admin, platform_operator) must give a TOTP code once its user is enrolled; with
    # this on, such a login is refused while its user is not enrolled. The demo turns it off.
    require_mfa_for_admin: bool = True
    # A withdrawal or a journal needs a TOTP code of its enrolled user (``totp`` in the
    # request; server/gateway/mfa.py ``transfer_check``). The demo turns it off.
    require_mfa_for_transfers: bool = True
    totp_drift_steps: int = 1  # codes of this many 30 s steps before or after now are accepted (clock drift)
    totp_issuer: str = "brokerd"  # the issuer an authenticator app shows beside the user
    # API keys: without --expires a key lasts api_key_default_days; none may last beyond api_key_max_days
    api_key_default_days: int = 90
    api_key_max_days: int = 365
    # TLS (wss://): both files, PEM (the certificate chain, and its unencrypted private key);
    # relative: to server.toml's folder. Neither: plain ws://, for the demo on loopback only.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_min_version: str = "1.2"  # "1.2" or "1.3"
    # Several gateways (docs/scale.md, "Several gateways"): this many gateway actors. With
    # shared_port (Linux) every one listens on the one configured host and port (SO_REUSEPORT:
    # the kernel spreads the connections); without it gateway N listens on port + N, for a
    # load balancer in front (port 0: each its own free port).
    count: int = 1
    shared_port: bool = True
    # Browser pages that may open WebSockets besides the listener's own (docs/web.md, "Who may
    # connect"): origins as a browser sends them, "https://desk.example.com" or
    # "http://10.0.0.5:8080"; their hosts are accepted in a plain request's Host too
    allowed_origins: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool) and value <= 0:
                raise ValueError(f"gateway.{name} must be > 0, not {value}")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("gateway: tls_cert_file and tls_key_file go together (both, or neither)")
        if self.tls_min_version not in ("1.2", "1.3"):
            raise ValueError(f"gateway.tls_min_version must be 1.2 or 1.3, not {self.tls_min_version!r}")
        if self.api_key_default_days > self.api_key_max_days:
            raise ValueError("gateway.api_key_default_days must not exceed api_key_max_days")
        for origin in self.allowed_origins:
            if web_origin(origin) is None:
                raise ValueError(f"gateway.allowed_origins: {origin!r} is no origin (scheme://host[:port], http or https, no path)")

    @property
    def tls(self) -> bool:
        """Whether the gateway serves wss:// (TLS)."""
        return bool(self.tls_cert_file)


class RiskSection(_Section, frozen=True):
    max_order_qty: str = "1000000"
    max_order_notional: str = "5000000.00"
    price_band_pct: str = "10"
    market_collar_pct: str = "5"
    max_client_order_id_length: int = 64

    @property
    def max_order_qty_fixed(self) -> int:
        return fixed.parse(self.max_order_qty)

    @property
    def max_order_notional_fixed(self) -> int:
        return fixed.parse(self.max_order_notional)

    @property
    def price_band_fraction(self) -> int:
        """The band as a fixed-point fraction: ``"10"`` percent → ``0.1 × SCALE``."""
        return fixed.parse(self.price_band_pct) // 100

    @property
    def market_collar_fraction(self) -> int:
        return fixed.parse(self.market_collar_pct) // 100


class PortfolioLimitsSection(_Section, frozen=True):
    """Portfolio limits (docs/risk.md): money as decimal strings, shares as percent strings;
    left out or ``""``: no limit."""

    max_var: str = ""
    max_concentration_pct: str = ""
    max_gross_exposure: str = ""
    max_drawdown_pct: str = ""
    max_sector_pct: str = ""

    def __post_init__(self) -> None:
        self.parsed()  # a negative limit or a share above 100 % stops the start, named

    def parsed(self) -> PortfolioLimits:
        return parse_limits(self.max_var, self.max_concentration_pct, self.max_gross_exposure, self.max_drawdown_pct, self.max_sector_pct)


class PortfolioSection(_Section, frozen=True):
    """Portfolio risk (docs/risk.md): the history the measures read, how they are computed,
    the limits checked before every order on the portfolio as it would be after it, and the
    thresholds of the ``risk`` alerts."""

    checks: bool = True  # false: no portfolio check before orders (the measures and alerts stay)
    history_file: str = ""  # daily bars, CSV or .parquet; "": a seeded demo history of the instruments
    demo_history_days: int = 300
    demo_history_seed: int = 1
    window_days: int = 250  # returns the VaR and the correlation read
    min_history_days: int = 20  # a symbol with fewer returns in the window falls back to its asset class's
    var_level_pct: str = "99"  # the level of the pre-trade VaR (the measures show 95 and 99)
    ewma_lambda: str = "0.94"
    limits: PortfolioLimitsSection = PortfolioLimitsSection()  # every account's, unless its group's or its own say otherwise
    groups: dict[str, PortfolioLimitsSection] = msgspec.field(default_factory=dict)
    accounts: dict[str, PortfolioLimitsSection] = msgspec.field(default_factory=dict)
    correlation_alert: str = "0.9"  # alert when two held symbols' correlation rises above it ("": off)
    volatility_jump_pct: str = "50"  # alert when a held symbol's EWMA volatility rises this much above its window's ("": off)
    drawdown_alert_pct: str = ""  # alert when an account's drawdown passes it ("": off; its max_drawdown limit alerts anyway)
    # how often an account shard looks at the daily bars under the data dir and, when they
    # changed and make another risk model, journals it (a new day's bars move the volatilities
    # and correlations the alerts and the VaR read); 0: the model of the shard's start, all day
    model_refresh_ms: int = 60_000

    def __post_init__(self) -> None:
        if self.model_refresh_ms < 0:
            raise ValueError(f"portfolio: model_refresh_ms {self.model_refresh_ms} must be 0 (off) or positive")
        if self.window_days < 2 or self.min_history_days < 2 or self.min_history_days > self.window_days:
            raise ValueError("portfolio: window_days and min_history_days must be at least 2, min_history_days at most window_days")
        if self.demo_history_days <= self.window_days:
            raise ValueError("portfolio: demo_history_days must exceed window_days")
        level = fixed.parse(self.var_level_pct)
        if not 50 * fixed.SCALE <= level < 100 * fixed.SCALE:
            raise ValueError(f"portfolio: var_level_pct {self.var_level_pct} must be at least 50 and below 100")
        lam = fixed.parse(self.ewma_lambda)
        if not 0 < lam < fixed.SCALE:
            raise ValueError(f"portfolio: ewma_lambda {self.ewma_lambda} must be between 0 and 1")
        if self.correlation_alert and not 0 < fixed.parse(self.correlation_alert) <= fixed.SCALE:
            raise ValueError(f"portfolio: correlation_alert {self.correlation_alert} must be in (0, 1]")
        if self.volatility_jump_pct and fixed.parse(self.volatility_jump_pct) <= 0:
            raise ValueError(f"portfolio: volatility_jump_pct {self.volatility_jump_pct} must be positive")
        if self.drawdown_alert_pct and not 0 < fixed.parse(self.drawdown_alert_pct) <= 100 * fixed.SCALE:
            raise ValueError(f"portfolio: drawdown_alert_pct {self.drawdown_alert_pct} must be in (0, 100]")


class BarsSection(_Section, frozen=True):
    """Minute and daily bars each InstrumentActor builds from its symbols' consolidated
    quotes and trades and keeps under the data dir (docs/risk.md#price-history): derived
    output, not state (no journal, no snapshot)."""

    enabled: bool = True  # false: no bar is built or written (the risk model then never finds persisted ones)
    dir: str = "bars"  # where they are kept; relative: to [server] data_dir

    def __post_init__(self) -> None:
        if not self.dir.strip():
            raise ValueError("bars.dir must name a folder (relative: under the data dir)")

    def folder(self, data_dir: str | Path) -> Path:
        """The bars' folder: ``dir`` itself when absolute, else under ``data_dir``."""
        path = Path(self.dir)
        return path if path.is_absolute() else Path(data_dir) / path


class TenantRiskSection(_Section, frozen=True):
    """One tenant's pre-trade limits where they differ from ``[risk]``
    (``[tenants.NAME.risk]``): each setting left out is ``[risk]``'s. The client order id's
    length is not among them: the gateway and a basket's checks read it before they know
    an account's tenant, so it stays the server's."""

    max_order_qty: str | None = None
    max_order_notional: str | None = None
    price_band_pct: str | None = None
    market_collar_pct: str | None = None

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is None:
                continue
            try:
                parsed = fixed.parse(value)
            except (ValueError, TypeError):
                raise ValueError(f"risk.{name} must be a decimal string, not {value!r}") from None
            if parsed <= 0:
                raise ValueError(f"risk.{name} must be > 0, not {value!r}")

    def over(self, risk: RiskSection) -> RiskSection:
        """``risk`` with this tenant's settings in place of its own."""
        given = {name: getattr(self, name) for name in self.__struct_fields__ if getattr(self, name) is not None}
        return msgspec.structs.replace(risk, **given)


class TenantSection(_Section, frozen=True):
    """``[tenants.NAME]``: what one tenant (firm) sets for itself; today its risk limits."""

    risk: TenantRiskSection = TenantRiskSection()


class QueriesSection(_Section, frozen=True):
    """``get_orders`` answers in pages (``cursor``, ``limit``): one reply for a busy
    account's every order would outgrow a client's frame limit (websockets: 1 MiB)."""

    orders_page_size: int = 500  # orders per page when a request gives no limit
    max_orders_page: int = 1000  # the largest limit a request may ask (a report is about 0.5 KB)

    def __post_init__(self) -> None:
        if not 1 <= self.orders_page_size <= self.max_orders_page:
            raise ValueError("queries: need 1 <= orders_page_size <= max_orders_page")


class BooksSection(_Section, frozen=True):
    """Tax lots and P&L (docs/books.md): the price positions are marked at, the pages of
    ``get_gains``, and how much one statement may hold."""

    mark: str = "mid"  # "mid": the consolidated quote's mid (else the last trade); "last": the last trade booked (else the mid)
    gains_page_size: int = 500  # closings per page when a request gives no limit
    max_gains_page: int = 1000  # the largest limit a request may ask
    # A statement (get_statement, admin statement) is one answer, built in one turn of the
    # account's shard: its period and its entries are bounded, a longer one is asked in parts.
    statement_max_days: int = 366  # the most local dates one statement may cover (a leap year)
    statement_max_rows: int = 10_000  # the most entries (trades, cash movements, moves, closed lots) in one

    def __post_init__(self) -> None:
        if self.mark not in ("mid", "last"):
            raise ValueError(f"books.mark must be mid or last, not {self.mark!r}")
        if not 1 <= self.gains_page_size <= self.max_gains_page:
            raise ValueError("books: need 1 <= gains_page_size <= max_gains_page")
        if self.statement_max_days < 1 or self.statement_max_rows < 1:
            raise ValueError("books: statement_max_days and statement_max_rows must be at least 1")


class SimSection(_Section, frozen=True):
    """The simulated market maker: seeded, so a run is reproducible."""

    seed: int = 7
    quote_interval_ms: int = 100
    spread_bps: int = 10
    volatility_bps: int = 5
    quote_size: int = 500
    start_state: SessionState = SessionState.OPEN
    session_length_s: int = 0  # 0: stays open until told otherwise

    def __post_init__(self) -> None:
        if self.spread_bps < 0 or self.volatility_bps < 0 or self.quote_size < 1:
            raise ValueError("sim: spread_bps and volatility_bps must not be negative, quote_size at least 1")


class CrossingSection(_Section, frozen=True):
    """Internal crossing (docs/liquidity.md): a marketable client order is matched against
    opposite client interest in its symbol before it goes to a venue, at a price within the
    consolidated best bid and offer. Off unless ``enabled``."""

    enabled: bool = False
    price: str = "mid"  # "mid": the NBBO's midpoint rounded down to the tick; "bid" or "ask": that side of the NBBO
    max_quote_age_ms: int = 2000  # a best bid or offer older than this is stale: no crossing
    cross_locked: bool = False  # cross when the best bid equals the best offer (a crossed market never crosses)
    rest_limit_orders: bool = False  # a non-marketable day/GTC limit order rests in the internal book instead of at a venue
    off_symbols: list[str] = msgspec.field(default_factory=list)  # never crossed
    off_asset_classes: list[str] = msgspec.field(default_factory=list)  # e.g. ["option"]: never crossed

    def __post_init__(self) -> None:
        if self.price not in ("mid", "bid", "ask"):
            raise ValueError(f"crossing.price must be mid, bid or ask, not {self.price!r}")
        if self.max_quote_age_ms < 1:
            raise ValueError("crossing.max_quote_age_ms must be at least 1")
        known = {"equity", "etf", "option", "mutual_fund"}
        unknown = sorted(set(self.off_asset_classes) - known)
        if unknown:
            raise ValueError(f"crossing.off_asset_classes: unknown asset classes {unknown}")


class RoutingSection(_Section, frozen=True):
    """Splitting (docs/liquidity.md#splitting): an order larger than the best venue's
    displayed size is swept across venues at their prices. Off unless ``split``."""

    split: bool = False
    remainder: str = "send"  # what the displayed sizes leave: "send" with the best venue's child, or "rest" as a child of its own there

    def __post_init__(self) -> None:
        if self.remainder not in ("send", "rest"):
            raise ValueError(f"routing.remainder must be send or rest, not {self.remainder!r}")


class DeskParamsSection(_Section, frozen=True):
    """One symbol's quoting knobs (``model.desk.DeskParams``; docs/liquidity.md#the-market-making-desk):
    quantities and money as decimal strings, distances in whole bps."""

    size: str = "0"
    spread_bps: int = 10
    levels: int = 1
    level_spread_bps: int = 5
    level_size_step: str = "0"
    refresh_tolerance_bps: int = 2
    target_position: str = "0"
    skew_range: str = "0"
    skew_bps: int = 0
    max_position: str = "0"
    max_loss: str = "0"

    def params(self, symbol: str, max_levels: int) -> DeskParams:
        """The knobs as ``DeskParams`` of ``symbol``, checked (``ValueError`` says which is wrong)."""
        decimals = {key: fixed.parse(getattr(self, key)) for key in DECIMAL_KNOBS}
        whole = {key: getattr(self, key) for key in (*BPS_KNOBS, *COUNT_KNOBS)}
        return check_desk(DeskParams(symbol, **decimals, **whole), max_levels)


class DeskSection(_Section, frozen=True):
    """The market-making desk (docs/liquidity.md#the-market-making-desk): the firm quotes
    two-sided in ``symbols`` from its own ``account``, into the internal book and, with
    ``at_venues``, at venues too. Off unless ``enabled``; each symbol's desk starts stopped
    until an operator's ``admin desk start``."""

    enabled: bool = False
    account: str = ""  # the desk's own account (in the accounts file): its cash, positions and risk limits
    at_venues: bool = False  # also quote each level at a venue (routed like the account's orders)
    symbols: list[str] = msgspec.field(default_factory=list)
    max_levels: int = 10  # the most levels a symbol's params (or a tune) may ask
    params: DeskParamsSection = DeskParamsSection()  # every symbol's knobs ...
    per_symbol: dict[str, DeskParamsSection] = msgspec.field(default_factory=dict)  # ... unless it has its own block here

    def __post_init__(self) -> None:
        if self.max_levels < 1:
            raise ValueError("desk.max_levels must be at least 1")
        if not self.enabled:
            return
        if not self.account:
            raise ValueError("desk.account must name the desk's account when desk.enabled")
        unknown = sorted(set(self.per_symbol) - set(self.symbols))
        if unknown:
            raise ValueError(f"desk.per_symbol names symbols not in desk.symbols: {unknown}")
        for symbol in self.symbols:
            self.params_of(symbol)

    def params_of(self, symbol: str) -> DeskParams:
        """``symbol``'s configured terms (its own block, else ``params``), checked."""
        return self.per_symbol.get(symbol, self.params).params(symbol, self.max_levels)


class VenueSection(_Section, frozen=True):
    name: str
    kind: str = "sim"
    symbols: list[str] = msgspec.field(default_factory=lambda: ["*"])
    order_types: list[str] = msgspec.field(default_factory=lambda: ["market", "limit"])
    supports_cancel_all: bool = True
    session_config: str = ""  # kind = "fix": the quickfix session file (relative to server.toml's folder)
    rate_limit_per_s: int = 0  # kind = "fix": orders, cancels and replaces per second to the venue; more wait in a queue (0: no limit)
    # kind = "fix": the venue cancels our resting orders when the session drops, so brokerd
    # reports every open child there canceled at the disconnect (a later fill is refused and logged)
    cancel_on_disconnect: bool = False
    # what routing compares (docs/liquidity.md#splitting): per share, in money (decimal strings)
    take_fee: str = "0"  # paid on an order that takes the venue's displayed quantity
    rebate: str = "0"  # paid to us for an order that rests there and is taken
    sim_seed: int | None = None  # kind = "sim": this venue's quote seed instead of [sim] seed (several sim venues quoting apart)

    def trades(self, symbol: str) -> bool:
        return "*" in self.symbols or symbol in self.symbols


class JournalSection(_Section, frozen=True):
    """Each stateful actor's journal and snapshots (``snapshots/journal.py``) under
    ``<data-dir>/<actor-name>/``."""

    # "fsync": on disk before anything is acknowledged; "buffered": OS page cache; "none": no
    # journal at all, state in memory only (benchmarks' non-durable baseline, never for money)
    durability: str = "fsync"
    snapshot_every_events: int = 100_000  # journaled input messages between snapshots (0: never by count)
    snapshot_every_s: int = 300  # seconds between snapshots while inputs arrive (0: never by time)
    # ... and never before this many applied messages per record the snapshot would hold (an
    # order, a route): a snapshot of a big book costs in proportion to the book, so spacing
    # them by its size keeps their cost per message constant (0: not by size)
    snapshot_events_per_record: int = 1
    # A snapshot is written in parts of this size, each in a transaction of its own, the
    # whole named last (snapshots/journal.py): what writing one holds in memory at a time
    snapshot_part_mb: int = 16
    map_size_mb: int = 64  # initial LMDB map; it doubles when full
    # The longest an input that need not be on disk at once waits for another input's record
    # before it is committed on its own (a FIX venue's record of the MsgSeqNum each order
    # message left with: quickfix's store keeps it too; actors/runtime/commit.py)
    lazy_commit_ms: int = 100
    # How long a starting account shard waits for each InstrumentActor's current quotes (its
    # marks: soft state, not journaled on arrival) before it takes inputs with what its journal
    # holds; an InstrumentActor that answers later sends them when its link opens
    marks_timeout_ms: int = 5000
    # While a starting actor replays its journal, a log line of its progress (records done of
    # how many, the rate, the time left) at most this often (0: none)
    replay_progress_s: int = 5

    def __post_init__(self) -> None:
        if self.durability not in ("fsync", "buffered", "none"):
            raise ValueError(f"journal.durability must be fsync, buffered or none, not {self.durability!r}")
        if self.lazy_commit_ms < 0:
            raise ValueError("journal.lazy_commit_ms must be at least 0")
        if self.replay_progress_s < 0:
            raise ValueError("journal.replay_progress_s must be at least 0")
        if self.marks_timeout_ms < 0:
            raise ValueError("journal.marks_timeout_ms must be at least 0")
        if self.snapshot_events_per_record < 0:
            raise ValueError("journal.snapshot_events_per_record must be 0 or more")
        if self.snapshot_part_mb < 1:
            raise ValueError("journal.snapshot_part_mb must be at least 1")


class DropCopySection(_Section, frozen=True):
    """The clearing firm's FIX drop copy: an ExecutionReport for every fill of every account
    (and an AllocationInstruction per allocated block, with the block-order work)."""

    enabled: bool = False
    session_config: str = "fix/dropcopy.cfg"  # a quickfix .cfg (relative to server.toml's folder)
    host: str = ""  # the address its acceptor listens on ("": [server] host, i.e. --host)

    def listen_host(self, server: ServerSection) -> str:
        return self.host or server.host


class OpenSection(_Section, frozen=True):
    """The market open: when orders for it (``tif`` ``opg``) are released as blocks."""

    # Local time of the open ("HH:MM"; "" = only the admin ``open`` command opens)
    at: str = ""
    timezone: str = "America/New_York"
    # An ``opg`` order after today's open: "reject" it, or queue it for the "next" open
    late_orders: str = "reject"

    def __post_init__(self) -> None:
        if self.late_orders not in ("reject", "next"):
            raise ValueError(f"open.late_orders must be reject or next, not {self.late_orders!r}")
        if self.at:
            hours, _, minutes = self.at.partition(":")
            if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
                raise ValueError(f"open.at must be HH:MM, not {self.at!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"open.timezone {self.timezone!r} is not a known time zone (e.g. America/New_York)") from None


class AdminSection(_Section, frozen=True):
    """Where the admin commands that take a file may read and write (``snapshots.files``):
    ``accounts load``, ``orders load``, ``nav FILE`` and ``reconcile`` read only inside ``import_dir``,
    ``export`` writes only inside ``export_dir``. Empty: ``imports``/``exports`` under the
    data dir; a relative path is relative to the data dir."""

    import_dir: str = ""
    export_dir: str = ""

    def import_root(self, data_dir: str | Path) -> Path:
        return Path(data_dir) / (self.import_dir or "imports")

    def export_root(self, data_dir: str | Path) -> Path:
        return Path(data_dir) / (self.export_dir or "exports")


class BasketSection(_Section, frozen=True):
    """Basket files of orders (``admin orders load FILE``, the ``load_orders`` request;
    ``model/basket/``): how large a file may be, and how its orders travel to the shards."""

    max_rows: int = 1_000_000  # rows per file or upload; a larger one is refused whole, nothing loaded
    # Orders per chunk: each chunk is one message, journaled and applied by its account shard in
    # one turn. Larger chunks cost fewer messages and commits; smaller ones let other clients'
    # requests in sooner (a shard applies a chunk without stopping).
    chunk_rows: int = 5_000
    chunks_in_flight: int = 2  # chunks of one load sent to a shard and not yet answered, at most
    errors_listed: int = 1_000  # bad rows described one by one in a refusal; the row numbers of the rest are listed without

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            if getattr(self, name) <= 0:
                raise ValueError(f"basket.{name} must be > 0, not {getattr(self, name)}")


class TransfersSection(_Section, frozen=True):
    """Client cash movements (``deposit``, ``withdrawal``, ``journal``; docs/books.md): what
    one request may move and carry, checked by the gateway before it reaches a shard."""

    max_amount: str = "100000000.00"  # one deposit, withdrawal or journal entry, at most (whole cents)
    max_journal_entries: int = 100  # entries of one batch of journals (all or nothing)
    idempotency_key_length: int = 64  # characters of an idempotency key, at most
    admin_listed: int = 1000  # ``admin transfers``: the most recent this many, across the accounts asked

    def __post_init__(self) -> None:
        for name in ("max_journal_entries", "idempotency_key_length", "admin_listed"):
            if getattr(self, name) <= 0:
                raise ValueError(f"transfers.{name} must be > 0, not {getattr(self, name)}")
        try:
            amount = fixed.parse(self.max_amount)
        except fixed.DecimalFormatError:
            raise ValueError(f"transfers.max_amount must be a decimal string, not {self.max_amount!r}") from None
        if amount <= 0 or amount % fixed.CENT or amount > MAX_CASH:
            raise ValueError(f"transfers.max_amount must be whole cents, > 0 and at most {fixed.format_cash(MAX_CASH)}")

    @property
    def max_amount_fixed(self) -> int:
        return fixed.parse(self.max_amount)


class SecretsSection(_Section, frozen=True):
    """Secrets at rest (``keystore/``): the master key that seals them, and the vault of venue
    credentials. The master key is read only where a secret is sealed or opened (the start
    check, the supervisor's ``vault`` commands, a FIX session's logon), never logged, and
    needed only when the configuration uses sealed secrets (a ``vault:NAME`` reference, or a
    vault file that exists)."""

    # A file holding the 32-byte key, base64 or hex; it must not be readable by group or others.
    # Relative: to server.toml's folder. "" : the key comes from the variable below.
    master_key_file: str = ""
    master_key_env: str = "BROKERD_MASTER_KEY"  # the environment variable holding the key when there is no file
    vault_file: str = "vault.json"  # the vault of venue credentials; relative: to server.toml's folder
    # API keys (secrets and what each key may do) and TOTP enrolments, sealed; "": in the data dir.
    # Relative: to server.toml's folder.
    api_keys_file: str = ""
    mfa_file: str = ""

    def api_keys_path(self, data_dir: str | Path) -> Path:
        return Path(self.api_keys_file) if self.api_keys_file else Path(data_dir) / "api-keys.json"

    def mfa_path(self, data_dir: str | Path) -> Path:
        return Path(self.mfa_file) if self.mfa_file else Path(data_dir) / "mfa.json"

    def __post_init__(self) -> None:
        if not self.vault_file:
            raise ValueError("secrets.vault_file must name a file")
        if not (self.master_key_file or self.master_key_env):
            raise ValueError("secrets: give master_key_file or master_key_env")


class AuditSection(_Section, frozen=True):
    """The audit log (``snapshots/audit.py``, docs/audit.md): where each writer's chain of
    records and the signed anchors of their heads are kept, and how often heads are anchored.
    Paths: "" for the default under the data dir; a relative path is relative to the data dir."""

    enabled: bool = True
    dir: str = ""  # the chains, one folder per writer ("": <data-dir>/audit)
    # The signed anchors: meant for storage whoever runs the primary cannot rewrite (another
    # host, a WORM bucket mounted here). "": <data-dir>/audit-anchors, which proves less
    anchor_dir: str = ""
    anchor_every_s: int = 300  # seconds between anchors of a chain that grew (0: only at a clean stop)
    # The Ed25519 key that signs anchors, sealed under the master key ([secrets]); "": in the data dir
    signing_key_file: str = ""
    # Its public key (PEM), written beside the anchors when the key is made; what ``audit verify``
    # checks signatures with unless given another (keep a copy where the anchors cannot change it)
    public_key_file: str = ""
    timezone: str = "America/New_York"  # a segment holds the records of one local day of this zone
    compression_level: int = 10  # zstandard level of a closed segment (1-22)
    # A writer that journals nothing (a gateway's logins, the supervisor's admin commands) fsyncs
    # its records at most this long after they happen; a journaled actor's are fsynced with its journal
    sync_ms: int = 50

    def root(self, data_dir: str | Path) -> Path:
        return Path(data_dir) / (self.dir or "audit")

    def anchor_root(self, data_dir: str | Path) -> Path:
        return Path(data_dir) / (self.anchor_dir or "audit-anchors")

    def signing_key_path(self, data_dir: str | Path) -> Path:
        return Path(data_dir) / (self.signing_key_file or "audit-signing-key.json")

    def public_key_path(self, data_dir: str | Path) -> Path:
        return Path(data_dir) / self.public_key_file if self.public_key_file else self.anchor_root(data_dir) / "audit-key.pub"

    def __post_init__(self) -> None:
        if self.anchor_every_s < 0:
            raise ValueError("audit.anchor_every_s must be 0 or more")
        if not 1 <= self.compression_level <= 22:
            raise ValueError(f"audit.compression_level must be 1 to 22, not {self.compression_level}")
        if self.sync_ms < 1:
            raise ValueError("audit.sync_ms must be 1 or more")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"audit.timezone {self.timezone!r} is not a known time zone (e.g. America/New_York)") from None


class StrategiesSection(_Section, frozen=True):
    """Strategies on indicators (docs/strategies.md): backtests, their history and reports."""

    max_rejections: int = 3  # orders rejected in a row that stop a strategy
    history_max_gap_minutes: int = 1  # a bars file's gap within a day beyond this is refused (0: gaps allowed)
    periods_per_year: int = 98_280  # Sharpe and Sortino of minute returns: 252 days × 390 minutes
    report_max_points: int = 2_000  # points per line drawn in a report's picture
    actor: bool = False  # run the strategy actor: strategies on paper and live on this server

    def __post_init__(self) -> None:
        if self.max_rejections < 1 or self.history_max_gap_minutes < 0 or self.periods_per_year < 1 or self.report_max_points < 10:
            raise ValueError("strategies: max_rejections ≥ 1, history_max_gap_minutes ≥ 0, periods_per_year ≥ 1, report_max_points ≥ 10")


class FilesSection(_Section, frozen=True):
    instruments: str = "instruments.toml"
    users: str = "users.toml"
    accounts: str = "accounts.csv"


class LoggingSection(_Section, frozen=True):
    level: str = "info"


class WebSection(_Section, frozen=True):
    """The web page and the operators' HTTP endpoints (``server/web/``, docs/web.md):
    ``/`` (the page's committed assets), ``/metrics`` (Prometheus text), ``/healthz`` and
    ``/readyz``. Served by the first gateway. ``port`` 0: on the WebSocket port itself
    (plain HTTP requests there are answered, upgrades stay WebSocket); another number: a
    listener of its own on ``[server] host``, which takes WebSocket upgrades too."""

    enabled: bool = True
    port: int = 0
    # /readyz and /metrics ask the supervisor; an answer slower than this is "not ready"
    status_timeout_ms: int = 2000
    # /metrics and /readyz: one supervisor call at a time, however many requests come, and its
    # answer (a 503 too) serves every request this long after it came (a scrape storm asks once)
    metrics_cache_ms: int = 1000
    # upper bounds (µs, whole: no float in the configuration) of the hop and commit latency
    # histograms' buckets (``+Inf`` is added)
    latency_buckets_us: list[int] = msgspec.field(default_factory=lambda: [250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000])

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError("web.port must be 0 (the WebSocket port) or a port number")
        if self.status_timeout_ms < 1 or self.metrics_cache_ms < 0:
            raise ValueError("web.status_timeout_ms must be at least 1 and web.metrics_cache_ms at least 0")
        buckets = self.latency_buckets_us
        if not buckets or any(b <= 0 for b in buckets) or sorted(set(buckets)) != list(buckets):
            raise ValueError("web.latency_buckets_us must be positive and strictly increasing")


class PlacementNode(_Section, frozen=True):
    """A node of the Ray cluster that actors can be pinned to (docs/scale.md): the custom
    resource its ``ray start --resources`` gave it, and where its actors keep their data."""

    resource: str  # the Ray custom resource that marks the node, e.g. ``brokerd_a`` (``ray start --resources '{"brokerd_a": 1}'``)
    # the node's data root, a path on that node's own disk: its actors' journals, snapshots,
    # audit chains and FIX stores ("": ``[server] data_dir``, read on that node)
    data_dir: str = ""
    # With [placement] failover: the node that takes this node's actors when it is lost
    # ("": the configured node, alive, with the fewest actors)
    failover_to: str = ""

    def __post_init__(self) -> None:
        if not self.resource:
            raise ValueError("placement.nodes: resource must name the node's Ray custom resource")
        if self.data_dir and not Path(self.data_dir).is_absolute():
            raise ValueError(f"placement.nodes: data_dir {self.data_dir!r} must be absolute (a path on that node's disk)")


class PlacementRule(_Section, frozen=True):
    """Actors pinned to one node: each pattern is a role (``account``, ``gateway``) or an
    actor's name with shell wildcards (``account-*``, ``instrument-0``, ``supervisor``)."""

    actors: list[str]
    node: str  # a name under ``[placement.nodes]``


class PlacementSection(_Section, frozen=True):
    """Which node of a Ray cluster each actor runs on (``actors/runtime/placement.py``,
    docs/scale.md). Empty (the default): no constraint, Ray places every actor as it likes
    and every actor's data is under ``[server] data_dir``. The first rule that matches an
    actor places it; an actor no rule matches is placed by Ray."""

    nodes: dict[str, PlacementNode] = msgspec.field(default_factory=dict)
    rules: list[PlacementRule] = msgspec.field(default_factory=list)
    # A placed actor asks for 1/actors_per_unit of its node's resource: a node given 1 unit
    # holds this many placed actors (Ray counts resources in steps of 1/10000)
    actors_per_unit: int = 1000
    # Files every node must see (API keys, TOTP enrolments, the audit signing key, public key
    # and anchors, daily bars, the admin import and export dirs): on several machines, shared
    # storage mounted at the same path on each ("": ``[server] data_dir``)
    shared_dir: str = ""
    # A lost node's actors restart on another node from their journals, shipped to
    # <shared_dir>/ship as they are written (snapshots/shipping.py); the audit chains are
    # then written under <shared_dir>/audit. Needs shared_dir.
    failover: bool = False
    # How long an actor created again on another node may take to answer (it rebuilds its
    # journal from the shipped copy first) before it is ended and the move tried again
    move_timeout_ms: int = 300_000

    def __post_init__(self) -> None:
        if not 1 <= self.actors_per_unit <= 10_000:
            raise ValueError("placement.actors_per_unit must be 1 to 10000 (Ray counts resources in steps of 1/10000)")
        if self.shared_dir and not Path(self.shared_dir).is_absolute():
            raise ValueError(f"placement.shared_dir {self.shared_dir!r} must be absolute")
        for rule in self.rules:
            if rule.node not in self.nodes:
                raise ValueError(f"placement.rules: node {rule.node!r} is not one of [placement.nodes] ({', '.join(sorted(self.nodes)) or 'none'})")
            if not rule.actors or not all(rule.actors):
                raise ValueError(f"placement.rules: the rule for node {rule.node!r} names no actors")
        if self.move_timeout_ms < 1:
            raise ValueError("placement.move_timeout_ms must be at least 1")
        if self.failover and not self.shared_dir:
            raise ValueError("placement.failover needs placement.shared_dir (where the journals are shipped)")
        for name, node in self.nodes.items():
            if node.failover_to and (node.failover_to not in self.nodes or node.failover_to == name):
                raise ValueError(f"placement.nodes.{name}.failover_to {node.failover_to!r} must name another of [placement.nodes]")


class Config(_Section, frozen=True):
    server: ServerSection = ServerSection()
    topology: TopologySection = TopologySection()
    batching: BatchingSection = BatchingSection()
    gateway: GatewaySection = GatewaySection()
    risk: RiskSection = RiskSection()
    portfolio: PortfolioSection = PortfolioSection()
    bars: BarsSection = BarsSection()
    sim: SimSection = SimSection()
    journal: JournalSection = JournalSection()
    drop_copy: DropCopySection = DropCopySection()
    open: OpenSection = OpenSection()
    queries: QueriesSection = QueriesSection()
    books: BooksSection = BooksSection()
    files: FilesSection = FilesSection()
    admin: AdminSection = AdminSection()
    basket: BasketSection = BasketSection()
    transfers: TransfersSection = TransfersSection()
    logging: LoggingSection = LoggingSection()
    web: WebSection = WebSection()
    secrets: SecretsSection = SecretsSection()
    audit: AuditSection = AuditSection()
    strategies: StrategiesSection = StrategiesSection()
    crossing: CrossingSection = CrossingSection()
    routing: RoutingSection = RoutingSection()
    desk: DeskSection = DeskSection()
    placement: PlacementSection = PlacementSection()
    venues: list[VenueSection] = msgspec.field(default_factory=lambda: [VenueSection(name="SIM")])
    # Per-tenant settings by tenant name (``[tenants.NAME.risk]``); a tenant not named here
    # has the server's ``[risk]``
    tenants: dict[str, TenantSection] = msgspec.field(default_factory=dict)

    def risk_of(self, tenant: str) -> RiskSection:
        """The risk limits of ``tenant``'s accounts: ``[risk]`` with its overrides."""
        section = self.tenants.get(tenant)
        return self.risk if section is None else section.risk.over(self.risk)


class User(_Section, frozen=True):
    """A login: API key id, its secret, role (a name of ``model/permissions.ROLES``; README,
    Roles), the tenant it belongs to, and the accounts it trades for when its role reaches
    only its own (trader, advisor, viewer)."""

    key: str
    secret: str
    role: str = "trader"
    accounts: list[str] = msgspec.field(default_factory=list)
    groups: list[str] = msgspec.field(default_factory=list)  # every account of its tenant whose ``group`` is one of these (an advisor's books)
    tenant: str = DEFAULT_TENANT


class _UsersFile(_Section, frozen=True):
    users: list[User]


class _InstrumentsFile(_Section, frozen=True):
    instruments: list[InstrumentSpec]


class Setup(msgspec.Struct, frozen=True):
    """Everything read from ``conf/`` at start: the config and the reference data it names."""

    config: Config
    instruments: list[Instrument]
    users: list[User]
    accounts: list[AccountSeed]


def load_config(path: str | Path) -> Config:
    try:
        data = Path(path).read_bytes()
        config = msgspec.toml.decode(data, type=Config)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise ConfigError(f"{path}: {_tenant_problem(data) or error}") from error
    if config.server.crash_at:
        raise ConfigError(f"{path}: [server] crash_at is a recovery test's, set from the environment (BROKERD_CRASH_AT), never from a file")
    return config


def _tenant_problem(data: bytes) -> str | None:
    """The first bad ``[tenants.NAME]`` section's problem with its tenant named (msgspec's
    own message says ``$.tenants[...]``), or None when the tenants are not what is wrong."""
    try:
        tenants = msgspec.toml.decode(data).get("tenants", {})
    except msgspec.DecodeError:
        return None
    if not isinstance(tenants, dict):
        return None
    for name, section in tenants.items():
        try:
            msgspec.convert(section, TenantSection)
        except msgspec.ValidationError as error:
            return f"[tenants.{name}]: {error}"
    return None


def load_setup(path: str | Path) -> Setup:
    """Load ``server.toml`` and the instrument, user and account files beside it."""
    path = Path(path)
    config = load_config(path)
    base = path.parent
    try:
        instruments_file = msgspec.toml.decode((base / config.files.instruments).read_bytes(), type=_InstrumentsFile)
        users_file = msgspec.toml.decode((base / config.files.users).read_bytes(), type=_UsersFile)
        instruments = [spec.build() for spec in instruments_file.instruments]
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as error:
        raise ConfigError(f"{base}: {error}") from error
    accounts = load_accounts(base / config.files.accounts)
    check_account_symbols(accounts, {i.symbol: i for i in instruments})
    unquotable = sorted(set(config.desk.symbols) - {i.symbol for i in instruments if i.asset_class.value != "mutual_fund"})
    if config.desk.enabled and unquotable:
        raise ConfigError(f"{path}: desk.symbols names symbols that are not instruments the desk can quote (a fund has no bid or ask): {unquotable}")
    config = _resolve_session_configs(config, base)
    config = _resolve_secret_files(config, base)
    _check_unique([i.symbol for i in instruments], "instrument symbol")
    _check_unique([u.key for u in users_file.users], "user key")
    check_users(users_file.users, accounts, str(base / config.files.users))
    check_tenants(config, users_file.users, accounts, str(path))
    return Setup(config=config, instruments=instruments, users=users_file.users, accounts=accounts)


def check_users(users: list[User], accounts: list[AccountSeed], source: str) -> None:
    """Every user's role is one of ``model/permissions.ROLES`` (``admin`` is accepted as
    ``platform_operator``, with a log line saying what to write), its tenant a valid name, and
    every account it names one of its own tenant's: a users file cannot hand one tenant's
    account to another tenant's user. Raises ``ConfigError`` naming every problem."""
    tenant_of = {seed.account: seed.tenant for seed in accounts}
    problems = []
    for user in users:
        try:
            role(user.role)
            check_tenant_name(user.tenant, f"user {user.key}: tenant")
        except (UnknownRole, ValueError) as error:
            problems.append(f"user {user.key}: {error}" if isinstance(error, UnknownRole) else str(error))
            continue
        if user.role in ALIASES:
            log.warning("role renamed", user=user.key, role=user.role, means=ALIASES[user.role], write=f'role = "{ALIASES[user.role]}"', file=source)
        foreign = [account for account in user.accounts if tenant_of.get(account, user.tenant) != user.tenant]
        if foreign:
            problems.append(f"user {user.key} (tenant {user.tenant}): accounts of another tenant: {', '.join(foreign)}")
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))


def check_tenants(config: Config, users: list[User], accounts: list[AccountSeed], source: str) -> None:
    """Every tenant ``[tenants.NAME]`` names is a valid tenant name that a user or an account
    belongs to (the default tenant always exists): settings for a tenant nobody has are a
    typo, not a tenant. Raises ``ConfigError`` naming each unknown one and the known ones."""
    known = {DEFAULT_TENANT} | {user.tenant for user in users} | {seed.tenant for seed in accounts}
    problems = []
    for name in config.tenants:
        try:
            check_tenant_name(name, f"[tenants.{name}]")
        except ValueError as error:
            problems.append(str(error))
            continue
        if name not in known:
            problems.append(f"[tenants.{name}]: unknown tenant {name!r} (no user or account belongs to it; tenants: {', '.join(sorted(known))})")
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))


def _resolve_session_configs(config: Config, base: Path) -> Config:
    venues = []
    for venue in config.venues:
        if venue.kind == "fix":
            if not venue.session_config:
                raise ConfigError(f"venue {venue.name}: kind fix needs session_config (a quickfix .cfg file)")
            path = (base / venue.session_config).resolve()
            if not path.is_file():
                raise ConfigError(f"venue {venue.name}: session_config {path} does not exist")
            venue = msgspec.structs.replace(venue, session_config=str(path))
        elif venue.kind != "sim":
            raise ConfigError(f"venue {venue.name}: unknown kind {venue.kind!r} (sim or fix)")
        venues.append(venue)
    drop_copy = config.drop_copy
    if drop_copy.enabled:
        path = (base / drop_copy.session_config).resolve()
        if not path.is_file():
            raise ConfigError(f"drop_copy: session_config {path} does not exist")
        drop_copy = msgspec.structs.replace(drop_copy, session_config=str(path))
    return msgspec.structs.replace(config, venues=venues, drop_copy=drop_copy)


def _resolve_secret_files(config: Config, base: Path) -> Config:
    """The secret files' paths made absolute (relative ones: to server.toml's folder): the
    actors that read them run elsewhere."""
    secrets, gateway = config.secrets, config.gateway

    def absolute(name: str) -> str:
        return str((base / name).resolve()) if name else ""

    secrets = msgspec.structs.replace(
        secrets,
        master_key_file=absolute(secrets.master_key_file),
        vault_file=absolute(secrets.vault_file),
        api_keys_file=absolute(secrets.api_keys_file),
        mfa_file=absolute(secrets.mfa_file),
    )
    gateway = msgspec.structs.replace(gateway, tls_cert_file=absolute(gateway.tls_cert_file), tls_key_file=absolute(gateway.tls_key_file))
    return msgspec.structs.replace(config, secrets=secrets, gateway=gateway)


def _check_unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ConfigError(f"duplicate {what}: {value}")
        seen.add(value)
