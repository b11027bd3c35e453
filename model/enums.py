"""The trade's vocabulary. Values are the wire strings of the API (docs/protocol.md).

On the order path, code that tests a member many times per order binds the members it
tests to module names once (``_BUY = Side.BUY``): on Python 3.11 reading a member off its
class (``Side.BUY``) goes through ``EnumType.__getattr__``'s slot and costs several times
a global read — about a sixth of the pure cores' time per order, measured. The predicates
below are written the same way.
"""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"

    @property
    def has_price(self) -> bool:
        return self in _PRICED

    @property
    def has_stop(self) -> bool:
        return self in _STOPPED


_PRICED = (OrderType.LIMIT, OrderType.STOP_LIMIT)  # tuples: ``in`` tests identity first
_STOPPED = (OrderType.STOP, OrderType.STOP_LIMIT)


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    OPG = "opg"


class OrderStatus(StrEnum):
    PENDING_NEW = "pending_new"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REPLACED = "replaced"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self in _OPEN_STATUSES


_OPEN_STATUSES = (OrderStatus.NEW, OrderStatus.PENDING_NEW, OrderStatus.PARTIALLY_FILLED)


class ExecType(StrEnum):
    PENDING_NEW = "pending_new"
    NEW = "new"
    TRADE = "trade"
    CANCELED = "canceled"
    REPLACED = "replaced"
    REJECTED = "rejected"
    EXPIRED = "expired"


class AssetClass(StrEnum):
    EQUITY = "equity"
    ETF = "etf"
    OPTION = "option"
    MUTUAL_FUND = "mutual_fund"


class SessionState(StrEnum):
    """A venue's trading session."""

    PRE_OPEN = "pre_open"
    OPEN = "open"
    CLOSED = "closed"


class VenueEventKind(StrEnum):
    """What a venue says about one child order."""

    ACCEPTED = "accepted"
    TRADE = "trade"
    CANCELED = "canceled"
    REPLACED = "replaced"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCEL_REJECTED = "cancel_rejected"
    REPLACE_REJECTED = "replace_rejected"


class Reason(StrEnum):
    """Why an order was rejected, canceled or a request refused (the ``reason`` field)."""

    INSUFFICIENT_BUYING_POWER = "insufficient_buying_power"
    INSUFFICIENT_POSITION = "insufficient_position"
    PRICE_OUT_OF_BAND = "price_out_of_band"
    MAX_ORDER_SIZE = "max_order_size"
    MAX_ORDER_NOTIONAL = "max_order_notional"
    DUPLICATE_CLIENT_ORDER_ID = "duplicate_client_order_id"
    HALTED = "halted"
    ACCOUNT_KILLED = "account_killed"
    MARKET_CLOSED = "market_closed"
    NO_LIQUIDITY = "no_liquidity"
    NO_VENUE = "no_venue"
    NO_REFERENCE_PRICE = "no_reference_price"
    UNSUPPORTED = "unsupported_order"
    VENUE_REJECTED = "venue_rejected"
    USER_CANCELED = "user_canceled"
    IOC_REMAINDER = "ioc_remainder"
    FOK_NOT_FILLED = "fok_not_filled"
    END_OF_DAY = "end_of_day"
    TOO_LATE_TO_CANCEL = "too_late_to_cancel"
    PENDING_REQUEST = "pending_request"
    NOT_FILLED_AT_OPEN = "not_filled_at_open"  # the part of an order for the open its block did not get
    OPEN_PASSED = "open_passed"  # an order for the open after today's open (config: open.late_orders = "reject")
    UNKNOWN_LOT = "unknown_lot"  # a sell names a lot its account holds no open lot of in the symbol (``model/lots.py``)
    LOT_QTY_EXCEEDED = "lot_qty_exceeded"  # ... a lot holding less than the quantity named
    INVALID_LOTS = "invalid_lots"  # ... a lot twice
    # portfolio limits and trading states (``model/risk/limits.py``), checked after the others
    ACCOUNT_HALTED = "account_halted"  # the account's trading state is halted
    ACCOUNT_REDUCING = "account_reducing"  # ... reducing, and the order does not reduce risk
    MAX_DRAWDOWN = "max_drawdown"
    MAX_GROSS_EXPOSURE = "max_gross_exposure"
    MAX_CONCENTRATION = "max_concentration"
    MAX_SECTOR_CONCENTRATION = "max_sector_concentration"  # one sector's gross exposure over its share of equity
    MAX_VAR = "max_var"
