"""Checking a basket: every row through the gateway's ``new_order`` rules over columns,
every bad row named (all or nothing), decimals exact, and the same decision as the
gateway's ``new_order`` checks."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model import fixed
from model.basket import BasketError, BasketRules, parse_basket
from model.basket.checks import _fixed, _lookup, _words
from model.basket.chunks import Amounts
from model.enums import OrderType, Side, TimeInForce
from server.gateway.protocol import OrderFields
from server.gateway.validation import Invalid, to_new_order
from tests.unit.model.basket.support import HEADER, INSTRUMENTS, csv_basket, refusal, rules


def test_a_good_csv_becomes_exact_columns_with_the_defaults_filled_in() -> None:
    orders = csv_basket(
        "A1,c1,IBM,buy,0.000001,,,,",
        "A2,c2,IBM,sell,,1234567.89,market,,ioc",
        "A3,c3,XYZ,buy,3,,limit,25.01,day",
    ).orders()
    assert orders.accounts == ["A1", "A2", "A3"] and orders.client_order_ids == ["c1", "c2", "c3"]
    assert orders.sides == [Side.BUY, Side.SELL, Side.BUY]
    assert orders.order_types == [OrderType.MARKET, OrderType.MARKET, OrderType.LIMIT]
    assert orders.tifs == [TimeInForce.OPG, TimeInForce.IOC, TimeInForce.DAY]
    assert orders.qty == [1_000, None, 3 * fixed.SCALE]
    assert orders.notional == [None, 1_234_567_890_000_000, None]
    assert orders.price == [None, None, 25_010_000_000]



BAD_ROWS = [
    ("A1,c1,IBM,buy,1,,,", "invalid_request", "8 fields but the header names 9"),
    ("A1,c1,IBM,buy,1,,,,,", "invalid_request", "10 fields but the header names 9"),
    (",c1,IBM,buy,1,,,,", "invalid_request", "missing account"),
    ("B9,c1,IBM,buy,1,,,,", "forbidden", "account 'B9' is not yours"),
    ("A1,,IBM,buy,1,,,,", "invalid_request", "client_order_id must be 1 to 16 printable characters"),
    ("A1,c-far-too-long-for-it,IBM,buy,1,,,,", "invalid_request", "client_order_id must be 1 to 16 printable characters"),
    ("A1,c\u00a01,IBM,buy,1,,,,", "invalid_request", "client_order_id must be 1 to 16 printable characters"),
    ("A1,strategy:s-1-1,IBM,buy,1,,,,", "invalid_request", "client_order_id must not start with 'strategy:': that prefix is reserved for strategies' orders"),
    ("A1,c1,,buy,1,,,,", "invalid_request", "missing symbol"),
    ("A1,c1,NOPE,buy,1,,,,", "unknown_symbol", "unknown symbol 'NOPE'"),
    ("A1,c1,IBM,,1,,,,", "invalid_request", "missing side"),
    ("A1,c1,IBM,hold,1,,,,", "invalid_request", "side must be one of buy, sell, not 'hold'"),
    ("A1,c1,IBM,buy,1,,stop,,", "invalid_request", "type must be one of market, limit, not 'stop'"),
    ("A1,c1,IBM,buy,1,,,,later", "invalid_request", "tif must be one of day, gtc, ioc, fok, opg, not 'later'"),
    ("A1,c1,IBM,buy,1e3,,,,", "invalid_request", "qty must be a decimal string with at most 9 places, not '1e3'"),
    ("A1,c1,IBM,buy,0.0000000001,,,,", "invalid_request", "qty must be a decimal string with at most 9 places, not '0.0000000001'"),
    ("A1,c1,IBM,buy,+1,,,,", "invalid_request", "qty must be a decimal string with at most 9 places, not '+1'"),
    ("A1,c1,IBM,buy,10000000000,,,,", "invalid_request", "qty must be at most 9223372036.854775807, not '10000000000'"),
    ("A1,c1,IBM,buy,1,2.00,,,", "invalid_request", "give exactly one of qty or notional"),
    ("A1,c1,IBM,buy,,,,,", "invalid_request", "give exactly one of qty or notional"),
    ("A1,c1,IBM,buy,0,,,,", "invalid_request", "qty must be > 0"),
    ("A1,c1,IBM,buy,0.0000001,,,,", "invalid_request", "qty for IBM must be in multiples of 0.000001"),
    ("A1,c1,XYZ,buy,1.5,,,,", "invalid_request", "qty for XYZ must be in whole units"),
    ("A1,c1,IBM,buy,,-5.00,,,", "invalid_request", "notional must be > 0"),
    ("A1,c1,IBM,buy,,5.001,,,", "invalid_request", "notional must be in whole cents"),
    ("A1,c1,IBM,buy,,5.00,limit,150,", "invalid_request", "notional orders must be market orders with tif day, ioc or opg"),
    ("A1,c1,IBM,buy,,5.00,,,gtc", "invalid_request", "notional orders must be market orders with tif day, ioc or opg"),
    ("A1,c1,OPT,buy,,5.00,,,", "invalid_request", "OPT does not trade fractionally; notional orders need fractional shares"),
    ("A1,c1,IBM,buy,1,,limit,,", "invalid_request", "a limit order needs limit_price"),
    ("A1,c1,IBM,buy,1,,market,150,", "invalid_request", "a market order takes no limit_price"),
    ("A1,c1,IBM,buy,1,,limit,-150,", "invalid_request", "limit_price must be > 0"),
    ("A1,c1," + "Z" * 5000 + ",buy,1,,,,", "unknown_symbol", "unknown symbol '" + "Z" * 63 + "…"),  # a refusal quotes 64 characters
    ("A1,c1,IBM," + "s" * 5000 + ",1,,,,", "invalid_request", "side must be one of buy, sell, not '" + "s" * 63 + "…"),
    ("A1,c1,IBM,buy,1,,limit,150.001,", "invalid_request", "limit_price is off the tick of 0.01 for IBM"),
    ("A1,c1,OPT,buy,1,,limit,7.52,", "invalid_request", "limit_price is off the tick of 0.05 for OPT"),
]


@pytest.mark.parametrize(("row", "code", "problem"), BAD_ROWS, ids=[problem[:80] for _, _, problem in BAD_ROWS])
def test_each_kind_of_bad_row_refuses_the_whole_file_naming_the_row(row: str, code: str, problem: str) -> None:
    refused = refusal("A2,ok,IBM,buy,1,,,,", row, "A3,ok,IBM,buy,1,,,,")
    assert [(bad.row, bad.code, bad.problem) for bad in refused.bad] == [(3, code, problem)]
    assert str(refused) == f"b.csv: 1 bad row, nothing loaded: row 3: {problem}"


def test_a_file_over_the_row_cap_is_refused_before_anything_is_checked() -> None:
    with pytest.raises(BasketError) as refused:
        csv_basket("A1,c1,IBM,buy,1,,,,", "A1,c2,IBM,buy,1,,,,", "A1,c3,NOPE,buy,1,,,,", max_rows=2)
    assert "3 orders, more than the 2 a basket may hold" in refused.value.problem


def test_each_distinct_value_is_looked_up_once_and_its_answer_given_to_every_row_holding_it() -> None:
    asked: list[str] = []

    def look(value: str) -> int:
        asked.append(value)
        return {"a": 1, "b": 2}.get(value, -1)

    assert _lookup(pa.array(["b", "a", "b", "", "b"]), look).tolist() == [2, 1, 2, -1, 2]
    assert sorted(asked) == ["", "a", "b"]
    assert _lookup(pa.array([], pa.string()), look).tolist() == []


def test_a_word_is_its_place_among_the_members_an_empty_cell_the_default_and_any_other_word_minus_one() -> None:
    cells = pa.array(["buy", "sell", "", "hold"])
    assert _words(cells, ("buy", "sell"), None).tolist() == [0, 1, -2, -1]
    assert _words(cells, ("buy", "sell"), "sell").tolist() == [0, 1, 1, -1]


def test_decimal_text_becomes_exact_units_and_says_which_cells_are_given_readable_and_fit() -> None:
    cells = pa.array(["1.5", "", "1e3", "10000000000", "-0.000000001", "9223372036.854775807", "9223372036.854775808"])
    found = _fixed(cells)
    assert found.given.tolist() == [True, False, True, True, True, True, True]
    assert found.readable.tolist() == [True, False, False, True, True, True, True]
    assert (found.readable & found.fits).tolist() == [True, False, False, False, True, True, False]
    assert found.value.tolist() == [fixed.parse("1.5"), 0, 0, 0, -1, 2**63 - 1, 0]
    every = np.arange(7)
    assert Amounts(found.value, found.given).take(every)[:2] == [fixed.parse("1.5"), None]
    nothing = _fixed(pa.array(["", ""]))
    assert Amounts(nothing.value, nothing.given).take(np.arange(2)) == [None, None]
    assert type(Amounts(found.value, found.given).take(every)[0]) is int  # a Python int, not numpy's


# --- the same decision as the gateway's new_order, row by row ----------------------------------

decimals = st.one_of(
    st.sampled_from(["1", "2", "1.5", "0.01", "25.00", "150.05", "140.10"]),
    st.decimals(min_value=-5, max_value=10**6, places=6, allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["0", "1e2", "+3", ".5", "7.", "0.0000001", "12345678901", "-0", "1.0000000000"]),
)


@st.composite
def fields(draw: st.DrawFn) -> dict[str, str]:
    """One row's cells, mostly well formed (one size field, a limit price only on limits), so
    that each rule is met both ways often."""
    order_type = draw(st.sampled_from(["", "market", "limit"]))
    size = draw(st.sampled_from(["qty", "notional", "qty", "notional", "both", "neither"]))
    priced = (order_type == "limit") != (draw(st.integers(0, 9)) == 0)  # one in ten the other way
    return {
        "account": draw(st.sampled_from(["A1", "A2"])),
        "symbol": draw(st.sampled_from(["IBM", "IBM", "XYZ", "OPT", "NOPE"])),
        "side": draw(st.sampled_from(["buy", "sell", "buy", "short"])),
        "type": order_type,
        "tif": draw(st.sampled_from(["", "day", "gtc", "ioc", "fok", "opg"])),
        "qty": draw(decimals) if size in ("qty", "both") else "",
        "notional": draw(decimals) if size in ("notional", "both") else "",
        "limit_price": draw(decimals) if priced else "",
    }


@settings(max_examples=500, deadline=None)
@given(rows=st.lists(fields(), min_size=1, max_size=8))
def test_a_row_passes_exactly_when_the_gateway_takes_the_same_new_order_and_means_the_same(rows: list[dict[str, str]]) -> None:
    lines, expected = [HEADER], []
    for index, row in enumerate(rows):
        lines.append(",".join([row["account"], f"c{index}", row["symbol"], row["side"], row["qty"], row["notional"], row["type"], row["limit_price"], row["tif"]]))
        wire = OrderFields(
            row["account"], f"c{index}", row["symbol"], row["side"], row["type"] or "market", row["tif"] or "opg",
            row["qty"] or None, row["notional"] or None, row["limit_price"] or None,
        )
        try:
            expected.append(to_new_order(wire, INSTRUMENTS, None, 16).spec)
        except Invalid as invalid:
            expected.append(invalid.code)
    try:
        orders = parse_basket(("\n".join(lines) + "\n").encode(), "b.csv", rules()).orders()
    except BasketError as refused:
        bad = {bad.row - 2: bad.code for bad in refused.bad}
        for index, outcome in enumerate(expected):
            if index in bad:
                assert outcome == bad[index] or (bad[index] == "invalid_request" and _too_large(rows[index])), (rows[index], bad[index], outcome)
            else:
                assert not isinstance(outcome, str), (rows[index], outcome)
        return
    specs = [
        (symbol, side, order_type, tif, qty, notional, price)
        for _, _, symbol, side, order_type, tif, qty, notional, price in orders.rows()
    ]
    assert specs == [(s.symbol, s.side, s.order_type, s.tif, s.qty, s.notional, s.price) for s in expected]  # type: ignore[union-attr]


def _too_large(row: dict[str, str]) -> bool:
    """A value the gateway parses to a Python int beyond int64 (which no message can carry)."""
    for name in ("qty", "notional", "limit_price"):
        try:
            if abs(fixed.parse(row[name])) > 2**63 - 1:
                return True
        except fixed.DecimalFormatError:
            continue
    return False


def test_each_distinct_account_of_the_file_is_looked_up_once_and_the_reach_is_never_listed() -> None:
    """What the loading user may reach is only asked ``in`` — once per distinct account of
    the file: an operator reaching a million accounts does not pay for listing them with
    every basket."""

    class Reach:
        def __init__(self) -> None:
            self.asked: list[str] = []

        def __contains__(self, account: object) -> bool:
            self.asked.append(str(account))
            return account in ("A1", "A2")

    reach = Reach()
    checked = BasketRules(INSTRUMENTS, reach, lambda account: f"account {account!r} is not yours", 1000, 16)
    rows = ["A1,c1,IBM,buy,1,,,,", "A2,c2,IBM,buy,1,,,,", "A1,c3,IBM,buy,1,,,,", "B9,c4,IBM,buy,1,,,,"]
    with pytest.raises(BasketError) as refused:
        parse_basket(("\n".join([HEADER, *rows]) + "\n").encode(), "b.csv", checked)
    assert sorted(reach.asked) == ["A1", "A2", "B9"]
    assert [(row.row, row.code) for row in refused.value.bad] == [(5, "forbidden")]
