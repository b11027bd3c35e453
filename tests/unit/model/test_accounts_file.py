from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from model import fixed
from model.accounts_file import AccountSeed, check_account_symbols, load_accounts, numbered_csv_rows, parse_accounts_csv
from model.enums import AssetClass
from model.errors import ConfigError
from model.instruments import Instrument

ROOT = Path(__file__).resolve().parents[3]


def D(text: str) -> int:
    return fixed.parse(text)


def refusal(text: str) -> str:
    with pytest.raises(ConfigError) as refused:
        parse_accounts_csv(text, "accounts.csv")
    return str(refused.value)


def test_the_shipped_accounts_file_still_loads() -> None:
    seeds = load_accounts(ROOT / "conf" / "accounts.csv")
    assert seeds[0] == AccountSeed("A1", "trader1", D("100000.00"), False)
    advised = {seed.account: seed for seed in seeds if seed.group == "ADV1"}
    assert advised["C1"].positions == (("IBM", D("10")), ("AAPL", D("0.5")))


def test_the_old_three_and_four_column_forms_still_read() -> None:
    text = "account,owner,cash,allow_short\nA1,t1,100.00,true\nA2,t1,5.50\n"
    assert parse_accounts_csv(text, "accounts.csv") == [
        AccountSeed("A1", "t1", D("100.00"), True),
        AccountSeed("A2", "t1", D("5.50"), False),
    ]


def test_a_good_file_with_positions_and_groups(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text(
        "account,owner,cash,allow_short,positions,group\n"
        "A1,t1,1000.00,false,IBM:10;AAPL:0.5,ADV1\n"
        "A2,t1,0.00,true, IBM : -3 ; MSFT:0.000000001 ,ADV1\n"
        "\n"
        "B1,t2,50.25,,,\n"
    )
    assert load_accounts(path) == [
        AccountSeed("A1", "t1", D("1000"), False, (("IBM", D("10")), ("AAPL", D("0.5"))), "ADV1"),
        AccountSeed("A2", "t1", 0, True, (("IBM", D("-3")), ("MSFT", 1)), "ADV1"),
        AccountSeed("B1", "t2", D("50.25"), False, (), ""),
    ]


def test_columns_may_come_in_any_order_and_unknown_ones_are_ignored() -> None:
    text = "group,note,cash,positions,owner,account\nADV2,hi,10.00,IBM:1,t9,C1\n"
    assert parse_accounts_csv(text, "upload") == [AccountSeed("C1", "t9", D("10"), False, (("IBM", D("1")),), "ADV2")]


def test_a_byte_order_mark_is_ignored() -> None:
    assert parse_accounts_csv("\ufeffaccount,owner,cash\nA1,t,1.00\n", "upload") == [AccountSeed("A1", "t", D("1"), False)]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("A9,t,1.00,false,IBM", "position 'IBM' is not SYMBOL:QTY"),
        ("A9,t,1.00,false,IBM:", "position 'IBM:' is not SYMBOL:QTY"),
        ("A9,t,1.00,false,:5", "position ':5' is not SYMBOL:QTY"),
        ("A9,t,1.00,false,IBM:1:2:2024-13-01", "position IBM: acquired '2024-13-01' is not a date YYYY-MM-DD"),
        ("A9,t,1.00,false,IBM:1:2.001", "position IBM: cost must be a non-negative amount in whole cents, not 2.001"),
        ("A9,t,1.00,false,IBM:1:x", "position IBM: cost: not a decimal number"),
        ("A9,t,1.00,false,IBM:", "position 'IBM:' is not SYMBOL:QTY[:COST[:YYYY-MM-DD]]"),
        ("A9,t,1.00,false,IBM:1;", "position '' is not SYMBOL:QTY"),
        ("A9,t,1.00,false,IBM:1e3", "position IBM: not a decimal number"),
        ("A9,t,1.00,false,IBM:0.0000000001", "position IBM: not a decimal number"),
        ("A9,t,1.00,false,IBM:1;AAPL:2;IBM:3", "symbol IBM appears twice in positions"),
        ("A9,t,1.00,false,IBM:-1", "position IBM:-1 is short but allow_short is false"),
        ("A9,t,1.00,false,IBM:0:1400.00", "position IBM:0 holds nothing"),
        ("A9,t,1.00,true,IBM:-0.000", "position IBM:-0.000 holds nothing"),
        ("A9,t,1.00,,IBM:-1", "position IBM:-1 is short but allow_short is false"),
        ("A9,t,1.00,maybe", "allow_short must be true or false, not 'maybe'"),
        ("A9,t,1.001", "cash must be a non-negative amount in whole cents, not 1.001"),
        ("A9,t,-1.00", "cash must be a non-negative amount in whole cents, not -1.00"),
        ("A9,t,abc", "cash: not a decimal number"),
        ("A9,t,", "cash: not a decimal number"),
        ("A9,t", "missing cash"),
        (",t,1.00", "empty account id"),
        ("A9,t,1.00,false,,G,extra", "7 fields but the header names 6"),
        ("A9,t,9223372036.86", "cash: not a decimal number of at most 9223372036.854775807"),
        ("A9,t,999999999999999999.00", "cash: not a decimal number of at most 9223372036.854775807"),
        ("A9,t,1.00,false,IBM:9223372037", "position IBM: not a decimal number of at most 9223372036.854775807"),
        ("A9,t,1.00,true,IBM:-9223372037", "position IBM: not a decimal number of at most 9223372036.854775807"),
        ("A9,t,1.00,false,IBM:1:10000000000.00", "position IBM: cost: not a decimal number of at most 9223372036.854775807"),
    ],
)
def test_each_kind_of_bad_row_is_reported_with_its_row_number(row: str, problem: str) -> None:
    text = "account,owner,cash,allow_short,positions,group\nA1,t,1.00\n" + row + "\nA2,t,1.00\n"
    message = refusal(text)
    assert message.startswith("accounts.csv: row 3: ")
    assert problem in message
    assert "row 2" not in message and "row 4" not in message


def test_a_short_position_is_allowed_when_the_account_may_sell_short() -> None:
    seeds = parse_accounts_csv("account,owner,cash,allow_short,positions\nA1,t,1.00,yes,IBM:-2.5\n", "upload")
    assert seeds[0].positions == (("IBM", D("-2.5")),)


def test_every_bad_row_is_listed_and_nothing_is_returned() -> None:
    text = "account,owner,cash,positions\nA1,t,1.00,IBM:1\nA2,t,x\nA3,t,1.00\n\nA4,t,1.00,IBM\nA5,t,1.00,IBM:1\n"
    message = refusal(text)
    assert [part.split(":")[0] for part in message.removeprefix("accounts.csv: ").split("; ")] == ["row 3", "row 6"]


def test_duplicate_accounts_are_reported_with_both_row_numbers() -> None:
    text = "account,owner,cash\nA1,t,1.00\nB1,t,1.00\nA1,t,2.00\nC1,t,1.00\n\nB1,t,1.00\nA1,t,3.00\n"
    assert refusal(text) == (
        "accounts.csv: row 4: duplicate account A1 (first on row 2); "
        "row 7: duplicate account B1 (first on row 3); "
        "row 8: duplicate account A1 (first on row 2)"
    )


def test_a_bad_row_that_is_also_a_duplicate_is_reported_for_both() -> None:
    text = "account,owner,cash\nA1,t,1.00\nA1,t,x\n"
    message = refusal(text)
    assert "row 3: account A1: cash:" in message and "row 3: duplicate account A1 (first on row 2)" in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "accounts.csv: row 1: no header (the file is empty); expected account,owner,cash"),
        ("account,owner\nA1,t\n", "accounts.csv: row 1: header lacks cash (expected account,owner,cash)"),
        ("account,owner,cash,cash\n", "accounts.csv: row 1: column 'cash' appears twice in the header"),
        ('account,owner,cash\nA1,t,1.00\nA2,"t,1.00\n', "accounts.csv: row 3: unexpected end of data; reading stopped there"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_a_row_number(text: str, problem: str) -> None:
    assert refusal(text) == problem


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="accounts.csv"):
        load_accounts(tmp_path / "accounts.csv")


IBM = Instrument("IBM", AssetClass.EQUITY, fixed.parse("0.01"), fixed.SCALE, fixed.parse("150"))
OPT = Instrument("OPT", AssetClass.OPTION, fixed.parse("0.05"), fixed.SCALE, fixed.parse("7.50"), multiplier=100)
INSTRUMENTS = {i.symbol: i for i in (IBM, OPT)}


def test_positions_in_unknown_symbols_are_named_with_their_accounts() -> None:
    seeds = parse_accounts_csv("account,owner,cash,positions\nA1,t,1.00,IBM:1;ZZZ:2\nA2,t,1.00,QQQ:1\nA3,t,1.00\n", "upload")
    check_account_symbols(seeds, {symbol: IBM for symbol in ("IBM", "ZZZ", "QQQ")})
    with pytest.raises(ConfigError) as refused:
        check_account_symbols(seeds, INSTRUMENTS)
    assert str(refused.value) == "account A1: unknown symbol ZZZ; account A2: unknown symbol QQQ"


def test_the_largest_amounts_a_lot_holds_load_and_one_cent_more_is_a_bad_row() -> None:
    (seed,) = parse_accounts_csv("account,owner,cash,allow_short,positions\nA1,t,9223372036.85,true,IBM:9223372036.854775807:9223372036.85\n", "f")
    assert seed.cash == seed.basis[0][1] == fixed.parse("9223372036.85") and seed.positions == (("IBM", fixed.LARGEST),)
    check_account_symbols([seed], INSTRUMENTS)  # its cost is given: the reference price does not price it
    assert "row 2: account A1: cash: not a decimal number of at most" in refusal("account,owner,cash\nA1,t,9223372036.86\n")


def test_a_position_whose_value_at_the_reference_price_does_not_fit_64_bits_is_named_with_its_account() -> None:
    """Its cost when loaded is that value: a lot that could not hold it would fail at the
    account's shard, after the file was accepted."""
    text = "account,owner,cash,allow_short,positions\nA1,t,1.00,,IBM:61489146\nA2,t,1.00,,IBM:61489147\nA3,t,1.00,true,OPT:-12297830;IBM:1\nA4,t,1.00,,IBM:100000000:1.00\n"
    seeds = parse_accounts_csv(text, "f")
    with pytest.raises(ConfigError) as refused:
        check_account_symbols(seeds, INSTRUMENTS)
    assert str(refused.value) == (
        "account A2: position IBM: 61489147 at the reference price 150 costs more than 9223372036.854775807; "
        "account A3: position OPT: -12297830 at the reference price 7.5 costs more than 9223372036.854775807"
    )
    check_account_symbols([seeds[0], seeds[3]], INSTRUMENTS)  # 61489146 × 150 fits; a given cost is its own


def test_csv_rows_are_numbered_by_the_line_they_start_on_with_blank_rows_skipped() -> None:
    text = 'a,b\n\n  x ,y\n"multi\nline",z\n \t \nlast,row\n'
    rows = list(numbered_csv_rows(csv.reader(io.StringIO(text, newline=""), strict=True)))
    assert rows == [(1, ["a", "b"]), (3, ["x", "y"]), (4, ["multi\nline", "z"]), (7, ["last", "row"])]


def test_the_tenant_column_names_each_account_s_tenant_and_defaults_to_the_default_one() -> None:
    seeds = parse_accounts_csv("account,owner,cash,tenant\nA1,a,1.00,firm-a\nA2,a,1.00,\n", "t.csv")
    assert [(seed.account, seed.tenant) for seed in seeds] == [("A1", "firm-a"), ("A2", "default")]
    with pytest.raises(ConfigError, match="row 2: account A1: tenant must be 1 to 64 letters"):
        parse_accounts_csv("account,owner,cash,tenant\nA1,a,1.00,../x\n", "t.csv")


def test_a_file_loaded_for_a_tenant_gives_its_accounts_that_tenant_and_refuses_another_s() -> None:
    seeds = parse_accounts_csv("account,owner,cash\nF1,f,1.00\n", "t.csv", "firm-b")
    assert seeds[0].tenant == "firm-b"
    with pytest.raises(ConfigError, match="row 2: account F1: tenant default is not firm-b, the tenant loading the file"):
        parse_accounts_csv("account,owner,cash,tenant\nF1,f,1.00,default\n", "t.csv", "firm-b")


def test_a_position_may_give_its_cost_and_acquisition_date() -> None:
    from datetime import date

    (seed,) = parse_accounts_csv("account,owner,cash,positions\nA1,t,1.00,IBM:10:1400.00:2024-03-01;AAPL:1:190.00;MSFT:2\n", "f")
    assert seed.positions == (("IBM", 10 * fixed.SCALE), ("AAPL", fixed.SCALE), ("MSFT", 2 * fixed.SCALE))
    assert seed.basis == (("IBM", fixed.parse("1400"), date(2024, 3, 1).toordinal()), ("AAPL", fixed.parse("190"), 0))
