from __future__ import annotations

from typing import get_args

from hypothesis import given
from hypothesis import strategies as st

from model.enums import ExecType, OrderStatus, OrderType, Side, TimeInForce, VenueEventKind
from model.messages import (
    Batch,
    ExecutionReport,
    Message,
    NewOrder,
    OrderUpdate,
    Reply,
    VenueQuote,
    books,
    bulk,
    client,
    control,
    decode_batch,
    desk,
    encode_batch,
    risk,
    routing,
    statements,
    strategies,
    transfers,
)
from model.orders import OrderSpec
from tests.unit.model.messages.support import tags_of

# The wire tag of every message: what journals and links hold, so none may change.
WIRE_TAGS = {
    "NewOrder": 1,
    "CancelOrder": 2,
    "ReplaceOrder": 3,
    "CancelAll": 4,
    "QueryOrders": 5,
    "QueryAccount": 6,
    "LoadOrders": 7,
    "GatewayServes": 8,
    "ExecutionReport": 20,
    "OrdersReply": 21,
    "AccountReply": 22,
    "RequestRejected": 23,
    "CancelAllDone": 24,
    "ReportToAsker": 25,
    "OrdersLoaded": 26,
    "RouteOrder": 30,
    "CancelRoute": 31,
    "ReplaceRoute": 32,
    "VenueNewOrder": 40,
    "VenueCancel": 41,
    "VenueReplace": 42,
    "VenueCancelAll": 43,
    "VenueReport": 50,
    "VenueQuote": 51,
    "VenueSessionChanged": 52,
    "OrderUpdate": 60,
    "MarketUpdate": 61,
    "AllocationReport": 62,
    "AllocationFills": 63,
    "QuoteEvent": 70,
    "SetTradingStatus": 80,
    "SetKill": 81,
    "AdminCancelAll": 82,
    "OpenAccount": 83,
    "OpenMarket": 84,
    "StrikeNav": 85,
    "SetRiskLimits": 86,
    "SetPortfolioModel": 160,
    "SetPortfolioLimits": 161,
    "SetAccountTradingState": 162,
    "RiskAlert": 163,
    "CreateStrategy": 180,
    "RunStrategy": 181,
    "PromoteStrategy": 182,
    "SubscribeStrategy": 183,
    "RedeemStrategy": 184,
    "VenueStart": 90,
    "VenueTick": 91,
    "VenueSetSession": 92,
    "VenueWireIn": 93,
    "VenueWireSent": 94,
    "VenueRecovered": 95,
    "SetLiquidity": 200,
    "RequestTransfer": 110,
    "RequestJournal": 111,
    "QueryTransfers": 112,
    "DecideTransfer": 113,
    "JournalPrepare": 114,
    "JournalVote": 115,
    "JournalOutcome": 116,
    "JournalApplied": 117,
    "TransferEvent": 120,
    "TransferToAsker": 121,
    "TransfersReply": 122,
    "JournalReply": 123,
    "JournalLots": 150,
    "QueryLots": 130,
    "QueryGains": 131,
    "SetLotMethod": 132,
    "LotsReply": 133,
    "GainsReply": 134,
    "NewLotOrder": 135,
    "QueryStatement": 140,
    "StatementReply": 141,
    "SetDesk": 210,
    "DeskControl": 211,
    "DeskOrder": 212,
    "DeskRoute": 213,
    "DeskOrderRefused": 214,
}

amounts = st.integers(min_value=0, max_value=2**63 - 1)
maybe = st.none() | amounts
text = st.text(max_size=20)
replies = st.none() | st.builds(Reply, text, st.integers(min_value=0, max_value=2**31), st.binary(max_size=12))

specs = st.builds(
    OrderSpec, text, st.sampled_from(Side), st.sampled_from(OrderType), st.sampled_from(TimeInForce), maybe, maybe, maybe, maybe
)
new_orders = st.builds(NewOrder, text, text, specs, replies)
updates = st.builds(OrderUpdate, text, text, st.sampled_from(VenueEventKind), amounts, maybe, st.none() | text, text, amounts, st.booleans())
quotes = st.builds(VenueQuote, text, text, maybe, amounts, maybe, amounts, amounts)
reports = st.builds(
    ExecutionReport, text, text, text, text, st.sampled_from(ExecType), st.sampled_from(OrderStatus), specs,
    amounts, maybe, amounts, maybe, maybe, st.none() | text, amounts, replies,
)


@given(sender=text, seq=st.integers(min_value=1, max_value=2**63 - 1), messages=st.lists(new_orders | updates | quotes | reports, max_size=20))
def test_a_batch_of_any_messages_decodes_to_what_was_encoded(sender: str, seq: int, messages: list) -> None:  # type: ignore[type-arg]
    batch = Batch(sender, seq, 123, messages)
    assert decode_batch(encode_batch(batch)) == batch


def test_messages_encode_as_arrays_with_an_integer_tag() -> None:
    data = encode_batch(Batch("s", 1, 0, [OrderUpdate("o", "A1", VenueEventKind.TRADE, 1, 2, None, "SIM", 3)]))
    assert b"order_id" not in data  # array_like: field names are not on the wire


def test_a_batch_takes_every_tagged_message_and_each_tag_once() -> None:
    tagged = {**tags_of(client), **tags_of(routing), **tags_of(control), **tags_of(bulk), **tags_of(transfers), **tags_of(books), **tags_of(statements), **tags_of(risk), **tags_of(strategies), **tags_of(desk)}
    assert set(get_args(Message)) == set(tagged)
    assert len(set(tagged.values())) == len(tagged)


def test_every_message_keeps_its_wire_tag() -> None:
    assert {message.__name__: message.__struct_config__.tag for message in get_args(Message)} == WIRE_TAGS
