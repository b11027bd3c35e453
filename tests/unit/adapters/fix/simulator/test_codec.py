"""The market maker's codec with real quickfix messages: what a counterparty sends becomes a
command (or a ``Problem`` on it, or an ``Unusable`` for a message it cannot act on), and
every event becomes a FIX 4.4 message a strict counterparty session accepts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec
import quickfix as fix

from adapters.fix import tags
from adapters.fix.dictionary import plain
from adapters.fix.simulator import messages
from adapters.fix.simulator.codec import Unusable, decode, encode, mark_poss_dup, render
from model import fixed
from model.enums import OrderStatus, OrderType, Side, TimeInForce
from tests.unit.adapters.fix.wire import STRICT, T0, T0_FIX, fields_of, over_the_wire

D = fixed.parse
SESSION = "FIX.4.4:MM1->BROKERD"
ORDER = {11: "c-1", 55: "IBM", 54: "1", 40: "2", 59: "0", 38: "10", 44: "150.25", 60: T0_FIX}


def sent(msg_type: str, fields: Mapping[int, str | None], symbols: Sequence[str] = (), poss_dup: bool = False) -> fix.Message:
    """A message as the simulator's session hands it over: from a counterparty, parsed with the dictionary."""
    message = fix.Message()
    header = message.getHeader()
    for tag, value in ((8, "FIX.4.4"), (49, "BROKERD"), (56, "MM1"), (34, "12"), (52, T0_FIX), (35, msg_type)):
        header.setField(tag, value)
    if poss_dup:
        header.setField(43, "Y")
    for tag, given in fields.items():
        if given is not None:
            message.setField(tag, given)
    for symbol in symbols:
        group = fix.Group(tags.Tag.NoRelatedSym, tags.Tag.Symbol)
        group.setField(tags.Tag.Symbol, symbol)
        message.addGroup(group)
    return fix.Message(message.toString(), STRICT, True)


# --- FIX → commands -------------------------------------------------------------------------


def test_a_new_order_single_becomes_a_new_order_with_fixed_point_numbers() -> None:
    assert decode(sent("D", ORDER), SESSION) == messages.NewOrder(
        session=SESSION, cl_ord_id="c-1", terms=messages.Terms(symbol="IBM", side=Side.BUY, order_type=OrderType.LIMIT,
        tif=TimeInForce.DAY, qty=D("10"), cash=None, price=D("150.25")),
    )  # fmt: skip


def test_a_notional_market_order_without_tif_is_a_day_order_and_a_resend_is_poss_dup() -> None:
    command = decode(sent("D", {**ORDER, 40: "1", 44: None, 59: None, 38: None, 152: "100.00"}, poss_dup=True), SESSION)
    assert isinstance(command, messages.NewOrder)
    terms = command.terms
    assert (terms.order_type, terms.tif, terms.qty, terms.cash) == (OrderType.MARKET, TimeInForce.DAY, None, D("100"))
    assert command.poss_dup is True


def test_what_the_dictionary_allows_but_the_market_maker_does_not_take_is_a_problem_on_the_order() -> None:
    stop = decode(sent("D", {**ORDER, 40: "3", 99: "151.00"}), SESSION)
    unsupported = tags.OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC
    assert isinstance(stop, messages.NewOrder) and stop.problem == messages.Problem(unsupported, "tag 40=3 not supported")
    opg = decode(sent("D", {**ORDER, 59: "2"}), SESSION)
    assert isinstance(opg, messages.NewOrder) and opg.problem == messages.Problem(unsupported, "tag 59=2 not supported")
    fine = decode(sent("D", {**ORDER, 38: "0.0000000001"}), SESSION)
    assert isinstance(fine, messages.NewOrder) and fine.terms.qty is None and fine.problem is not None
    assert fine.problem.reason is tags.OrdRejReason.INCORRECT_QUANTITY and "at most 9 places" in fine.problem.text


def test_the_first_problem_is_the_one_kept() -> None:
    both = decode(sent("D", {**ORDER, 40: "3", 99: "151.00", 38: "0.0000000001"}), SESSION)
    assert isinstance(both, messages.NewOrder) and both.problem is not None
    assert both.problem.reason is tags.OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC


def test_cancel_replace_and_status_requests_become_their_commands() -> None:
    cancel = {11: "x-1", 41: "c-1", 37: "MM-1", 55: "IBM", 54: "1", 60: T0_FIX}
    assert decode(sent("F", cancel), SESSION) == messages.CancelOrder(SESSION, "x-1", "c-1", "MM-1")
    replace = decode(sent("G", {**cancel, 40: "2", 38: "12", 44: "150.30"}), SESSION)
    terms = messages.Terms("IBM", Side.BUY, OrderType.LIMIT, qty=D("12"), price=D("150.30"))
    assert replace == messages.ReplaceOrder(SESSION, "x-1", "c-1", "MM-1", terms)
    status = decode(sent("H", {11: "c-1", 37: "MM-1", 55: "IBM", 54: "2", 790: "s-1"}), SESSION)
    assert status == messages.StatusRequest(SESSION, "c-1", "MM-1", "s-1", "IBM", Side.SELL)


def test_a_market_data_request_names_its_symbols() -> None:
    request = decode(sent("V", {262: "md-1", 263: "1", 264: "1", 267: None}, symbols=["IBM", "AAPL"]), SESSION)
    assert request == messages.MarketDataRequest(SESSION, "md-1", tags.SubscriptionRequestType.SUBSCRIBE, ["IBM", "AAPL"])


def test_a_message_type_or_side_the_market_maker_does_not_act_on_is_unusable() -> None:
    mass_cancel = decode(sent("q", {11: "m-1", 530: "7", 60: T0_FIX}), SESSION)
    assert mass_cancel == Unusable(SESSION, "q", "12", None, tags.BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE, "MsgType q not supported")
    short = decode(sent("D", {**ORDER, 54: "5"}), SESSION)
    assert short == Unusable(SESSION, "D", "12", "c-1", tags.BusinessRejectReason.OTHER, "Side(54)=5 not supported")


# --- events → FIX ---------------------------------------------------------------------------

REPORT = messages.ExecutionReport(
    session=SESSION, order_id="MM-1", exec_id="MM-1-2", kind=tags.ExecTypeCode.TRADE, status=OrderStatus.PARTIALLY_FILLED,
    cl_ord_id="c-1", orig_cl_ord_id=None,
    terms=messages.Terms("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, qty=D("10"), cash=None, price=D("150")),
    cum_qty=D("2.5"), leaves_qty=D("7.5"), avg_price=D("150"), transact_time=T0,
    details=messages.ReportDetails(last_qty=D("2.5"), last_price=D("150")),
)  # fmt: skip


def test_a_trade_report_is_a_valid_execution_report_with_prices_to_the_cent() -> None:
    message = over_the_wire(encode(REPORT))
    assert body(message, 37, 17, 150, 39, 11, 54, 40, 59, 38, 44, 32, 31, 14, 151, 6) == {
        35: "8", 37: "MM-1", 17: "MM-1-2", 150: "F", 39: "1", 11: "c-1", 54: "1", 40: "2", 59: "0",
        38: "10", 44: "150.00", 32: "2.5", 31: "150.00", 14: "2.5", 151: "7.5", 6: "150",
    }  # fmt: skip


def test_a_report_is_written_as_the_very_string_quickfix_makes_of_its_fields() -> None:
    """The simulator writes its messages as strings (one parse, not a call per field): the
    result is what quickfix builds field by field — tags in order, BodyLength, CheckSum."""
    by_fields = fix.Message()
    by_fields.getHeader().setField(8, "FIX.4.4")
    by_fields.getHeader().setField(35, "8")
    for tag, value in {37: "MM-1", 11: "c-1", 39: "1", 17: "MM-1-2", 150: "F", 55: "IBM", 54: "1", 40: "2", 59: "0",
                       38: "10", 44: "150.00", 32: "2.5", 31: "150.00", 14: "2.5", 151: "7.5", 6: "150", 60: T0_FIX}.items():  # fmt: skip
        by_fields.setField(tag, value)
    assert render(REPORT) == by_fields.toString() == encode(REPORT).toString()
    assert render(REPORT).startswith("8=FIX.4.4\x019=") and render(REPORT).endswith("\x01")


def test_only_a_trade_carries_last_qty_and_last_price_and_a_rejection_its_reason() -> None:
    details = messages.ReportDetails(last_qty=0, last_price=None, text="off the tick", reject_reason=messages.BAD_PRICE)
    rejected = msgspec.structs.replace(REPORT, kind=tags.ExecTypeCode.REJECTED, status=OrderStatus.REJECTED, details=details)
    message = over_the_wire(encode(rejected))
    assert fields_of(message, 150, 39, 32, 31, 103, 58) == {150: "8", 39: "8", 32: None, 31: None, 103: "99", 58: "off the tick"}


def test_a_cancel_reject_says_what_it_answers_and_why() -> None:
    response_to, reason = tags.CxlRejResponseTo.REPLACE, tags.CxlRejReason.UNKNOWN_ORDER
    reject = messages.CancelRejected(SESSION, "x-1", "c-1", "NONE", OrderStatus.REJECTED, response_to, reason, "unknown", T0)
    assert body(over_the_wire(encode(reject)), 37, 11, 41, 39, 434, 102, 58) == {
        35: "9", 37: "NONE", 11: "x-1", 41: "c-1", 39: "8", 434: "2", 102: "1", 58: "unknown",
    }


def test_quotes_and_market_data_are_decimal_strings() -> None:
    quote = messages.Quote("IBM", "Q-1", D("149.99"), D("150.01"), D("300"), D("200.5"))
    assert body(over_the_wire(encode(messages.QuoteSent(SESSION, quote))), 117, 55, 132, 133, 134, 135) == {
        35: "S", 117: "Q-1", 55: "IBM", 132: "149.99", 133: "150.01", 134: "300", 135: "200.5",
    }
    snapshot = encode(messages.MarketDataSent(SESSION, "md-1", quote))
    text = over_the_wire(snapshot).toString()
    assert "268=2\x01269=0\x01270=149.99\x01271=300\x01269=1\x01270=150.01\x01271=200.5\x01" in text
    refused = encode(messages.MarketDataRejected(SESSION, "md-2", tags.MDReqRejReason.UNKNOWN_SYMBOL, "unknown symbol NOPE"))
    assert body(over_the_wire(refused), 262, 281, 58) == {35: "Y", 262: "md-2", 281: "0", 58: "unknown symbol NOPE"}


def test_an_unusable_message_is_answered_with_a_business_message_reject() -> None:
    reject = encode(Unusable(SESSION, "q", "12", "m-1", tags.BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE, "MsgType q not supported"))
    assert body(over_the_wire(reject), 45, 372, 379, 380, 58) == {
        35: "j", 45: "12", 372: "q", 379: "m-1", 380: "3", 58: "MsgType q not supported",
    }


def test_a_report_sent_again_is_marked_poss_dup_with_its_original_time() -> None:
    message = encode(REPORT)
    mark_poss_dup(message, T0)
    assert fields_of(message.getHeader(), 43, 122) == {43: "Y", 122: "20251121-04:40:00.123"}


def body(message: fix.Message, *tags: int) -> dict[int, str | None]:
    """The message type (from the header) and the body fields ``tags``."""
    return {35: message.getHeader().getField(35), **fields_of(message, *tags)}



# --- plain messages read in Python --------------------------------------------------------------

VALUES = ["", "0", "1", "-1", "1.5", ".5", "1e3", "nan", "0.0000000001", "Y", "X", "2", "8", "abc", "é", T0_FIX, "20251321-04:40:00"]
EXTRA = [(58, "text"), (1, "ACCT"), (9999, "x"), (5001, "user"), (453, "1"), (43, "Y"), (97, "Y"), (126, T0_FIX), (18, "1 2")]


def received(raw: str) -> fix.Message | None:
    """What quickfix hands the simulator's ``fromApp`` for ``raw``, or None if the session
    would refuse it first (its dictionary validates every message it receives)."""
    try:
        message = fix.Message(raw, STRICT, True)
        STRICT.validate(message)
    except fix.FIXException:
        return None
    return message


def test_a_plain_order_cancel_replace_or_status_request_read_in_python_decodes_as_quickfix_s() -> None:
    """``fromApp`` reads a plain message from its string (``dictionary.plain``) instead of
    field by field through quickfix: every variant either decodes alike or is left to
    quickfix. Variants: each field dropped, given another value, and one more field."""
    bases = [
        sent("D", ORDER),
        sent("D", {**ORDER, 40: "1", 44: None, 38: None, 152: "1000.5", 59: None}, poss_dup=True),
        sent("F", {11: "x-1", 41: "c-1", 55: "IBM", 54: "2", 38: "10", 60: T0_FIX}),
        sent("G", {**ORDER, 11: "r-1", 41: "c-1", 38: "12"}),
        sent("H", {11: "c-1", 55: "IBM", 54: "1", 790: "st-1"}),
    ]
    taken = 0
    for base in bases:
        raw = base.toString()
        fields = [(part.partition("=")[0], part.partition("=")[2]) for part in raw.split("\x01") if part]
        variants = [raw]
        for index, (tag, _) in enumerate(fields):
            if tag in ("8", "9", "10", "35"):
                continue
            variants.append(_rebuild(fields[:index] + fields[index + 1 :]))
            variants += [_rebuild([*fields[:index], (tag, value), *fields[index + 1 :]]) for value in VALUES]
        variants += [_rebuild([*fields, (str(tag), value)]) for tag, value in EXTRA]
        for variant in variants:
            fast, message = plain(variant), received(variant)
            if fast is None or message is None:
                continue  # quickfix reads it (or its session refuses it before the simulator sees it)
            taken += 1
            assert decode(fast, SESSION) == decode(message, SESSION), variant.replace("\x01", "|")
    assert taken > 400, taken


def _rebuild(fields: list[tuple[str, str]]) -> str:
    body = "".join(f"{tag}={value}\x01" for tag, value in fields if tag not in ("8", "9", "10"))
    head = f"8=FIX.4.4\x019={len(body.encode())}\x01"
    return f"{head}{body}10={sum((head + body).encode()) % 256:03d}\x01"
