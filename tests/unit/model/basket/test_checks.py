"""Basket files: CSV and Parquet read into checked columns, every bad row named (all or
nothing), decimals exact, and the same decision as the gateway's ``new_order`` checks."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model import fixed
from model.basket import BasketError, BasketRules, decode_chunks, encode_chunks, number_ranges, parse_basket
from model.enums import AssetClass, OrderType, Side, TimeInForce
from model.instruments import Instrument
from model.routing import shard_of
from server.gateway.protocol import OrderFields
from server.gateway.validation import Invalid, to_new_order

D = fixed.parse
IBM = Instrument("IBM", AssetClass.EQUITY, D("0.01"), D("0.000001"), D("150"))
XYZ = Instrument("XYZ", AssetClass.EQUITY, D("0.01"), fixed.SCALE, D("25"))
OPT = Instrument("OPT", AssetClass.OPTION, D("0.05"), fixed.SCALE, D("7.50"), multiplier=100)
INSTRUMENTS = {i.symbol: i for i in (IBM, XYZ, OPT)}
MINE = ["A1", "A2", "A3"]
HEADER = "account,client_order_id,symbol,side,qty,notional,type,limit_price,tif"


def rules(max_rows: int = 1000, listed: int = 1000) -> BasketRules:
    return BasketRules(INSTRUMENTS, MINE, lambda account: f"account {account!r} is not yours", max_rows, 16, listed)


def csv_basket(*rows: str, header: str = HEADER, max_rows: int = 1000) -> Any:
    return parse_basket(("\n".join([header, *rows]) + "\n").encode(), "b.csv", rules(max_rows))


def refusal(*rows: str, header: str = HEADER) -> BasketError:
    with pytest.raises(BasketError) as refused:
        csv_basket(*rows, header=header)
    return refused.value


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


def test_columns_come_in_any_order_unknown_ones_are_ignored_and_cells_are_trimmed() -> None:
    data = "\ufeffnote,tif, qty ,side,symbol,client_order_id,account\r\nhi, day , 1.5 ,buy,IBM, c1 ,A1\r\n\r\n".encode()
    orders = parse_basket(data, "b.csv", rules()).orders()
    assert (orders.accounts, orders.client_order_ids, orders.qty, orders.tifs) == (["A1"], ["c1"], [D("1.5")], [TimeInForce.DAY])


BAD_ROWS = [
    ("A1,c1,IBM,buy,1,,,", "invalid_request", "8 fields but the header names 9"),
    ("A1,c1,IBM,buy,1,,,,,", "invalid_request", "10 fields but the header names 9"),
    (",c1,IBM,buy,1,,,,", "invalid_request", "missing account"),
    ("B9,c1,IBM,buy,1,,,,", "forbidden", "account 'B9' is not yours"),
    ("A1,,IBM,buy,1,,,,", "invalid_request", "client_order_id must be 1 to 16 printable characters"),
    ("A1,c-far-too-long-for-it,IBM,buy,1,,,,", "invalid_request", "client_order_id must be 1 to 16 printable characters"),
    ("A1,c\u00a01,IBM,buy,1,,,,", "invalid_request", "client_order_id must be 1 to 16 printable characters"),
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
    ("A1,c1,IBM,buy,1,,limit,150.001,", "invalid_request", "limit_price is off the tick of 0.01 for IBM"),
    ("A1,c1,OPT,buy,1,,limit,7.52,", "invalid_request", "limit_price is off the tick of 0.05 for OPT"),
]


@pytest.mark.parametrize(("row", "code", "problem"), BAD_ROWS, ids=[problem for _, _, problem in BAD_ROWS])
def test_each_kind_of_bad_row_refuses_the_whole_file_naming_the_row(row: str, code: str, problem: str) -> None:
    refused = refusal("A2,ok,IBM,buy,1,,,,", row, "A3,ok,IBM,buy,1,,,,")
    assert [(bad.row, bad.code, bad.problem) for bad in refused.bad] == [(3, code, problem)]
    assert str(refused) == f"b.csv: 1 bad row, nothing loaded: row 3: {problem}"


def test_every_bad_row_is_named_by_the_line_it_starts_on_blank_lines_and_quoted_newlines_counted() -> None:
    refused = refusal(
        "A1,c1,IBM,buy,1,,,,",
        "",
        'A1,"c\n2",IBM,buy,1,,,,',  # a newline inside quotes: not printable, and two lines long
        "A1,c3,NOPE,buy,1,,,,",
        "A1,c1,IBM,buy,1,,,,",
        "A1,c5,IBM,buy,1,,,",
    )
    assert [(bad.row, bad.problem) for bad in refused.bad] == [
        (4, "client_order_id must be 1 to 16 printable characters"),
        (6, "unknown symbol 'NOPE'"),
        (7, "account A1 has client_order_id 'c1' on row 2 already"),
        (8, "8 fields but the header names 9"),
    ]


def test_a_long_refusal_describes_the_first_rows_and_lists_the_numbers_of_the_rest() -> None:
    data = "\n".join([HEADER] + [f"A1,c{i},NOPE,buy,1,,,,".replace("NOPE", "IBM" if i in (3, 4) else "NOPE") for i in range(10)]) + "\n"
    with pytest.raises(BasketError) as refused:
        parse_basket(data.encode(), "b.csv", rules(listed=3))
    assert len(refused.value.bad) == 8 and refused.value.unlisted() == "7-11"
    assert str(refused.value).endswith("row 4: unknown symbol 'NOPE'; and rows 7-11")
    assert number_ranges([1, 2, 3, 5, 7, 8]) == "1-3, 5, 7-8"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "row 1: no header (the file is empty)"),
        (b"account,client_order_id,symbol,qty\nA1,c1,IBM,1\n", "row 1: header lacks side"),
        (b"account,client_order_id,symbol,side\nA1,c1,IBM,buy\n", "row 1: header has neither qty nor notional"),
        (b"account,client_order_id,symbol,side,qty,qty\n", "row 1: column 'qty' appears twice in the header"),
        (HEADER.encode() + b"\nA1,c1,IBM,buy,1,,,,\nA1,c\xff,IBM,buy,1,,,,\n", "row 3: not UTF-8"),
    ],
    ids=["empty", "missing-column", "no-size-column", "column-twice", "not-utf8"],
)
def test_a_file_that_is_not_a_basket_is_refused_with_its_problem(data: bytes, problem: str) -> None:
    with pytest.raises(BasketError) as refused:
        parse_basket(data, "b.csv", rules())
    assert problem in refused.value.problem and not refused.value.bad


def test_a_file_over_the_row_cap_is_refused_before_anything_is_checked() -> None:
    with pytest.raises(BasketError) as refused:
        csv_basket("A1,c1,IBM,buy,1,,,,", "A1,c2,IBM,buy,1,,,,", "A1,c3,NOPE,buy,1,,,,", max_rows=2)
    assert "3 orders, more than the 2 a basket may hold" in refused.value.problem


def parquet(columns: dict[str, pa.Array]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue()


def base_columns(count: int = 2) -> dict[str, pa.Array]:
    return {
        "account": pa.array(["A1"] * count),
        "client_order_id": pa.array([f"c{i}" for i in range(count)]),
        "symbol": pa.array(["IBM"] * count),
        "side": pa.array(["buy"] * count),
    }


def test_parquet_decimal_integer_and_string_columns_read_exactly() -> None:
    columns = base_columns(3)
    columns["qty"] = pa.array([Decimal("0.123456000000000000"), None, Decimal("2")], pa.decimal128(38, 18))
    columns["notional"] = pa.array([None, "10.50", None])
    columns["limit_price"] = pa.array([None, None, 150], pa.int64())
    columns["type"] = pa.array(["market", "market", "limit"]).dictionary_encode()
    orders = parse_basket(parquet(columns), "b.parquet", rules(), parquet=True).orders()
    assert orders.qty == [123_456_000, None, 2 * fixed.SCALE]
    assert orders.notional == [None, D("10.50"), None] and orders.price == [None, None, D("150")]


def test_parquet_rows_are_numbered_from_one_and_a_decimal_finer_than_nine_places_is_a_bad_row() -> None:
    columns = base_columns(2)
    columns["qty"] = pa.array([Decimal("1.0000000001"), Decimal("1")], pa.decimal128(20, 10))
    with pytest.raises(BasketError) as refused:
        parse_basket(parquet(columns), "b.parquet", rules(), parquet=True)
    assert [(bad.row, bad.problem) for bad in refused.value.bad] == [
        (1, "qty must be a decimal string with at most 9 places, not '1.0000000001'")
    ]


@pytest.mark.parametrize("kind", [pa.float64(), pa.float32()])
def test_a_float_column_is_refused_whole(kind: pa.DataType) -> None:
    columns = base_columns(1)
    columns["qty"] = pa.array([0.1], kind)
    with pytest.raises(BasketError) as refused:
        parse_basket(parquet(columns), "b.parquet", rules(), parquet=True)
    assert "column qty holds binary floats" in refused.value.problem


def test_something_that_is_not_parquet_is_refused() -> None:
    with pytest.raises(BasketError) as refused:
        parse_basket(b"account,qty\n", "b.parquet", rules(), parquet=True)
    assert "not a Parquet file" in refused.value.problem


def test_chunks_go_to_the_shard_of_each_account_in_file_order_and_survive_the_trip_between_processes() -> None:
    rows = [f"A{1 + i % 3},c{i},IBM,buy,{i + 1},,,," for i in range(10)]
    basket = csv_basket(*rows)
    chunks = basket.chunks(lambda account: f"account-{shard_of(account, 2)}", 2)
    for shard, orders in chunks:
        assert len(orders) <= 2 and {f"account-{shard_of(a, 2)}" for a in orders.accounts} == {shard}
    by_shard: dict[str, list[str]] = {}
    for shard, orders in chunks:
        by_shard.setdefault(shard, []).extend(orders.client_order_ids)
    assert sorted(i for ids in by_shard.values() for i in ids) == sorted(f"c{i}" for i in range(10))
    assert all(ids == sorted(ids, key=lambda i: int(i[1:])) for ids in by_shard.values())
    assert decode_chunks(encode_chunks(chunks)) == chunks


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
