"""``admin nav``'s strikes from typed values and NAV files (``actors/supervisor/nav.py``)."""

from __future__ import annotations

import pytest

from actors.supervisor.nav import nav_file, strike
from model import fixed
from model.admin_commands import AdminError
from model.messages import StrikeNav
from tests.conftest import demo_setup

INSTRUMENTS = {instrument.symbol: instrument for instrument in demo_setup().instruments}


def refusal(text: str) -> str:
    with pytest.raises(AdminError) as refused:
        nav_file(text, "navs.csv", INSTRUMENTS)
    return str(refused.value)


def test_a_typed_nav_is_an_exact_strike() -> None:
    assert strike(INSTRUMENTS, "VFIAX", "451.20") == StrikeNav("VFIAX", fixed.parse("451.20"))


@pytest.mark.parametrize(
    ("symbol", "text", "problem"),
    [
        ("IBM", "150", "IBM is not a mutual fund"),
        ("NOPE", "1", "NOPE is not a mutual fund"),
        ("VFIAX", "abc", "bad NAV 'abc'"),
        ("VFIAX", "0", "VFIAX: NAV must be a positive multiple of the tick"),
        ("VFIAX", "-5", "VFIAX: NAV must be a positive multiple of the tick"),
        ("VFIAX", "451.201", "VFIAX: NAV must be a positive multiple of the tick"),
    ],
)
def test_a_bad_typed_nav_says_why(symbol: str, text: str, problem: str) -> None:
    with pytest.raises(AdminError, match=problem):
        strike(INSTRUMENTS, symbol, text)


def test_a_nav_file_strikes_every_fund_in_it() -> None:
    assert nav_file("symbol,nav\r\nVFIAX,402.00\r\n", "navs.csv", INSTRUMENTS) == [StrikeNav("VFIAX", fixed.parse("402"))]


def test_a_bad_row_refuses_the_whole_file_naming_every_bad_row() -> None:
    message = refusal("symbol,nav\nVFIAX,402\nIBM,1\nVFIAX,403\nX\n")
    assert message.startswith("navs.csv: nothing struck; ")
    assert "row 3: IBM is not a mutual fund" in message
    assert "row 4: VFIAX appears twice" in message
    assert "row 5: expected symbol,nav, got 1 fields" in message


def test_a_file_without_its_header_or_without_navs_is_refused() -> None:
    assert refusal("fund,price\nVFIAX,1\n") == "navs.csv: row 1: the header must be symbol,nav"
    assert refusal("") == "navs.csv: row 1: the header must be symbol,nav"
    assert refusal("symbol,nav\n\n") == "navs.csv: no NAVs in the file"
    assert "nothing struck" in refusal('symbol,nav\nVFIAX,"402\n')  # unbalanced quote
