"""The desk's terms: ``[desk]`` read and checked, and ``desk tune``'s changes checked whole."""

from __future__ import annotations

import msgspec
import pytest

from model import fixed
from model.config import Config
from model.desk import DeskParams, tuned, view

D = fixed.parse
PARAMS = DeskParams("IBM", size=D("10"), spread_bps=5, max_position=D("100"), max_loss=D("500"))


def config(text: str) -> Config:
    return msgspec.toml.decode(text.encode(), type=Config)


def test_the_desk_is_off_by_default_and_reads_a_default_block_and_a_symbol_s_own() -> None:
    assert not Config().desk.enabled and Config().desk.symbols == []
    section = config(
        '[desk]\nenabled = true\naccount = "D1"\nsymbols = ["IBM", "AAPL"]\n'
        '[desk.params]\nsize = "10"\nmax_position = "100"\nmax_loss = "250.50"\n'
        '[desk.per_symbol.AAPL]\nsize = "2.5"\nspread_bps = 20\nmax_position = "5"\n'
    ).desk
    ibm, aapl = section.params_of("IBM"), section.params_of("AAPL")
    assert (ibm.size, ibm.max_position, ibm.max_loss, ibm.spread_bps) == (D("10"), D("100"), D("250.50"), 10)
    assert (aapl.size, aapl.max_position, aapl.max_loss, aapl.spread_bps) == (D("2.5"), D("5"), 0, 20)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[desk]\nenabled = true\nsymbols = ["IBM"]\n[desk.params]\nsize = "1"\nmax_position = "1"\n', "desk.account must name"),
        ('[desk]\nenabled = true\naccount = "D1"\nsymbols = ["IBM"]\n[desk.params]\nsize = "1"\n', "max_position must be more than 0"),
        ('[desk]\nenabled = true\naccount = "D1"\nsymbols = ["IBM"]\n[desk.params]\nsize = "1"\nmax_position = "1"\nlevels = 11\n', "levels must be 1 to 10"),
        ('[desk]\nenabled = true\naccount = "D1"\nsymbols = ["IBM"]\n[desk.per_symbol.XYZ]\nsize = "1"\n', "not in desk.symbols"),
    ],
)
def test_a_bad_desk_section_is_refused_saying_why(text: str, problem: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=problem):
        config(text)


def test_a_tune_changes_the_knobs_named_and_checks_them_with_the_rest() -> None:
    changed = tuned(PARAMS, ["size=12.5", "spread_bps=3", "target_position=-20", "skew_range=40"], max_levels=10)
    assert (changed.size, changed.spread_bps, changed.target_position, changed.skew_range) == (D("12.5"), 3, -D("20"), D("40"))
    assert view(changed)["size"] == "12.5" and view(changed)["spread_bps"] == 3


@pytest.mark.parametrize(
    ("pairs", "problem"),
    [
        ([], "at least one key=value"),
        (["size"], "not key=value"),
        (["colour=red"], "not key=value"),
        (["size=abc"], "size='abc' is not a decimal"),
        (["spread_bps=1.5"], "not a whole number of bps"),
        (["size=1", "size=2"], "size given twice"),
        (["size=0"], "size must be more than 0"),
        (["target_position=500"], "target_position must be within max_position"),
        (["levels=0"], "levels must be 1 to 10"),
        (["spread_bps=0"], "spread_bps must be 1 to 9999"),
    ],
)
def test_a_bad_tune_is_refused_whole_saying_why(pairs: list[str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        tuned(PARAMS, pairs, max_levels=10)
