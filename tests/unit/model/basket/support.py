"""What the basket modules' tests share: three instruments, the loading user's accounts,
the rules a basket is checked against, and baskets made from rows of text or columns."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from model import fixed
from model.basket import BasketError, BasketRules, parse_basket
from model.enums import AssetClass
from model.instruments import Instrument

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
