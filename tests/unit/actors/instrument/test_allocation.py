"""Block allocation: exact sums, caps respected, largest remainder, checked against Python ints."""

from __future__ import annotations

import random
from collections.abc import Callable
from fractions import Fraction
from math import gcd

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from actors.instrument.allocation import LIMIT, _divide_product, pro_rata, split_cash_block, split_qty_block


def units(values: list[int]) -> NDArray[np.int64]:
    return np.array(values, dtype=np.int64)


def oracle_pro_rata(total: int, weights: list[int], caps: list[int] | None = None) -> tuple[list[int], int]:
    """The rounding rule written out in Python ints, one order at a time."""
    if total == 0:
        return [0] * len(weights), 0
    weight_sum = sum(weights)
    shares = [total * weight // weight_sum for weight in weights]
    remainders = [total * weight % weight_sum for weight in weights]
    if caps is not None:
        shares = [min(share, cap) for share, cap in zip(shares, caps, strict=True)]
    residual = total - sum(shares)
    open_orders = [index for index in range(len(weights)) if caps is None or shares[index] < caps[index]]
    ranked = sorted(open_orders, key=lambda index: (-remainders[index], index))
    for index in ranked[:residual]:
        shares[index] += 1
    return shares, residual - len(ranked[:residual])


@st.composite
def weight_lists(draw: st.DrawFn, min_size: int = 1) -> list[int]:
    """Weights of one magnitude or mixed ones, up to 2^55 each, so their sum stays below 2^62."""
    largest = draw(st.sampled_from([3, 100, 10**8, 2**40, 2**55]))
    return draw(st.lists(st.integers(min_value=0, max_value=largest), min_size=min_size, max_size=40))


totals = st.integers(min_value=0, max_value=LIMIT - 1) | st.integers(min_value=0, max_value=1000)


# Hand-worked examples


def test_ten_increments_over_three_equal_weights_go_four_three_three() -> None:
    # exact shares 3⅓ each: floors 3, 3, 3; one unit left, all remainders 1, lowest index wins
    shares, unplaced = pro_rata(10, units([1, 1, 1]))
    assert shares.tolist() == [4, 3, 3]
    assert unplaced == 0


def test_residual_units_go_to_the_largest_remainders_first() -> None:
    # exact shares 0.4, 0.8, 0.8 (remainders 2, 4, 4 of 5): both units go to the 0.8s
    assert pro_rata(2, units([1, 2, 2]))[0].tolist() == [0, 1, 1]


def test_ties_in_remainder_go_to_the_lower_index() -> None:
    assert pro_rata(1, units([1, 2, 2]))[0].tolist() == [0, 1, 0]
    assert pro_rata(2, units([1, 1, 1, 1]))[0].tolist() == [1, 1, 0, 0]
    assert pro_rata(1, units([7, 7]))[0].tolist() == [1, 0]


def test_capped_orders_pass_the_residual_on_and_the_rest_is_unplaced() -> None:
    # floors 5, 3, 2 clipped to 2, 3, 2: three units left, only orders 1 and 2 can take one each
    shares, unplaced = pro_rata(10, units([5, 3, 2]), caps=units([2, 10, 10]))
    assert shares.tolist() == [2, 4, 3]
    assert unplaced == 1


def test_notional_block_house_pays_for_unplaced_increments_at_the_average_price() -> None:
    # $10.00 bought 10 increments, $1.00 each; each order's cash buys at most 3 of them
    split = split_cash_block(10, 1000, units([333, 333, 334]))
    assert split.qty.tolist() == [3, 3, 3]
    assert split.unplaced_qty == 1
    assert split.cash.tolist() == [300, 300, 300]
    assert split.unplaced_cash == 100


def test_quantity_block_cash_follows_the_allocated_quantity() -> None:
    # 7 of 10 asked increments fill for 701 cents: qty 3.5/2.1/1.4 -> 4, 2, 1; cash 400.57/200.29/100.14
    split = split_qty_block(7, 701, units([5, 3, 2]))
    assert (split.unplaced_qty, split.unplaced_cash) == (0, 0)
    assert split.qty.tolist() == [4, 2, 1]
    assert split.cash.tolist() == [401, 200, 100]


def test_an_empty_fill_allocates_nothing() -> None:
    for split in (split_qty_block(0, 0, units([5, 3])), split_cash_block(0, 0, units([500, 300]))):
        assert split.qty.tolist() == [0, 0]
        assert split.cash.tolist() == [0, 0]
        assert (split.unplaced_qty, split.unplaced_cash) == (0, 0)
    assert pro_rata(0, units([0, 0]))[0].tolist() == [0, 0]


def test_notional_sell_with_proceeds_rounded_to_nothing_still_allocates_quantity() -> None:
    split = split_cash_block(3, 0, units([100, 200]))
    assert split.qty.tolist() == [1, 2]
    assert split.cash.tolist() == [0, 0]


# Properties against the Python-int oracle


@settings(max_examples=400, deadline=None)
@given(total=totals, weights=weight_lists(), data=st.data())
def test_pro_rata_matches_the_python_int_oracle(total: int, weights: list[int], data: st.DataObject) -> None:
    if total > 0 and sum(weights) == 0:
        weights[0] = 1
    caps = data.draw(st.none() | st.lists(st.integers(min_value=0, max_value=2**63 - 1), min_size=len(weights), max_size=len(weights)))
    shares, unplaced = pro_rata(total, units(weights), None if caps is None else units(caps))
    assert (shares.tolist(), unplaced) == oracle_pro_rata(total, weights, caps)
    assert shares.dtype == np.int64


@settings(max_examples=300, deadline=None)
@given(total=totals, weights=weight_lists())
def test_uncapped_shares_sum_exactly_and_stay_within_one_unit_of_the_exact_share(total: int, weights: list[int]) -> None:
    if total > 0 and sum(weights) == 0:
        weights[-1] = 5
    shares, unplaced = pro_rata(total, units(weights))
    assert unplaced == 0
    assert sum(shares.tolist()) == total
    weight_sum = sum(weights)
    for share, weight in zip(shares.tolist(), weights, strict=True):
        exact = Fraction(total * weight, weight_sum) if weight_sum else Fraction(0)
        assert abs(share - exact) < 1


@settings(max_examples=300, deadline=None)
@given(asked=weight_lists(), data=st.data())
def test_quantity_block_is_exact_within_asked_and_leaves_nothing_unplaced(asked: list[int], data: st.DataObject) -> None:
    fill_qty = data.draw(st.integers(min_value=0, max_value=sum(asked)))
    fill_cash = data.draw(st.integers(min_value=0, max_value=LIMIT - 1)) if fill_qty else 0
    split = split_qty_block(fill_qty, fill_cash, units(asked))
    qty, cash = split.qty.tolist(), split.cash.tolist()
    assert split.unplaced_qty == 0 and split.unplaced_cash == 0
    assert sum(qty) == fill_qty
    assert sum(cash) == fill_cash
    assert all(0 <= taken <= wanted for taken, wanted in zip(qty, asked, strict=True))
    for taken, wanted, paid in zip(qty, asked, cash, strict=True):
        assert abs(taken - Fraction(fill_qty * wanted, sum(asked) or 1)) < 1
        assert abs(paid - Fraction(fill_cash * taken, fill_qty or 1)) < 1


@settings(max_examples=300, deadline=None)
@given(asked=weight_lists(), data=st.data())
def test_notional_block_is_exact_and_no_order_pays_more_than_it_asked(asked: list[int], data: st.DataObject) -> None:
    fill_cash = data.draw(st.integers(min_value=0, max_value=sum(asked)))
    fill_qty = data.draw(st.integers(min_value=1 if fill_cash else 0, max_value=LIMIT - 1))
    if fill_qty and sum(asked) == 0:
        asked[0] = 1
    split = split_cash_block(fill_qty, fill_cash, units(asked))
    qty, cash = split.qty.tolist(), split.cash.tolist()
    assert sum(qty) + split.unplaced_qty == fill_qty
    assert sum(cash) + split.unplaced_cash == fill_cash
    assert all(0 <= paid <= wanted for paid, wanted in zip(cash, asked, strict=True))
    if fill_cash:
        assert all(taken * fill_cash <= wanted * fill_qty for taken, wanted in zip(qty, asked, strict=True))
    for taken, paid in zip([*qty, split.unplaced_qty], [*cash, split.unplaced_cash], strict=True):
        assert abs(paid - Fraction(fill_cash * taken, fill_qty or 1)) < 1


# Determinism, scale, bad input


def test_same_inputs_give_identical_arrays_and_leave_the_inputs_untouched() -> None:
    rng = np.random.default_rng(7)
    asked = rng.integers(0, 10**6, 5000, dtype=np.int64)
    before = asked.copy()
    first = split_cash_block(123_456_789, int(asked.sum()) // 3, asked)
    second = split_cash_block(123_456_789, int(asked.sum()) // 3, asked)
    assert np.array_equal(first.qty, second.qty) and np.array_equal(first.cash, second.cash)
    assert first[2:] == second[2:]
    assert np.array_equal(asked, before)


def test_products_beyond_int64_are_exact_for_twenty_thousand_orders() -> None:
    rng = np.random.default_rng(2024)
    weights = rng.integers(10**7, 10**8, 20_000, dtype=np.int64)
    total = 2 * 10**12  # total × weight reaches 2·10^20, far past 2^63
    shares, unplaced = pro_rata(total, weights)
    expected, _ = oracle_pro_rata(total, weights.tolist())
    assert shares.tolist() == expected
    assert unplaced == 0


def test_totals_and_weight_sums_just_below_two_to_the_62_are_exact() -> None:
    # a float64 estimate of total × w / W is off by hundreds here; the quotient must not be
    rng = np.random.default_rng(62)
    weights = rng.integers(0, 2**62 // 1000, 1000, dtype=np.int64)
    weights[-1] += LIMIT - 1 - int(weights.sum())
    for total in (LIMIT - 1, LIMIT - 12_345, 3**39):
        shares, _ = pro_rata(total, weights)
        assert shares.tolist() == oracle_pro_rata(total, weights.tolist())[0]


def test_products_a_hair_off_a_multiple_of_the_weight_sum_are_exact() -> None:
    # total × w_i ≡ ±1, ±2 (mod W): a float estimate of total × w_i / W falls on the wrong side of an integer
    rng = random.Random(3)
    for _ in range(300):
        weight_sum, total = rng.randrange(2**60, LIMIT), rng.randrange(2**40, LIMIT)
        if gcd(total, weight_sum) != 1:
            continue
        inverse = pow(total, -1, weight_sum)
        weights: list[int] = []
        for residue in (1, weight_sum - 1, 2, weight_sum - 2):
            weight = residue * inverse % weight_sum
            if sum(weights) + weight < weight_sum:
                weights.append(weight)
        weights.append(weight_sum - sum(weights))
        quotients, remainders = _divide_product(total, units(weights), weight_sum)
        assert list(zip(quotients.tolist(), remainders.tolist(), strict=True)) == [divmod(total * weight, weight_sum) for weight in weights]
        assert pro_rata(total, units(weights))[0].tolist() == oracle_pro_rata(total, weights)[0]


@settings(max_examples=300, deadline=None)
@given(divisor=st.integers(min_value=1, max_value=LIMIT - 1), multiplier=st.integers(min_value=0, max_value=LIMIT - 1), data=st.data())
def test_the_exact_division_kernel_matches_python_divmod(divisor: int, multiplier: int, data: st.DataObject) -> None:
    values = data.draw(st.lists(st.integers(min_value=0, max_value=divisor) | st.sampled_from([0, divisor]), min_size=1, max_size=20))
    quotients, remainders = _divide_product(multiplier, units(values), divisor)
    assert list(zip(quotients.tolist(), remainders.tolist(), strict=True)) == [divmod(multiplier * value, divisor) for value in values]


def test_large_notional_block_is_exact_against_the_oracle() -> None:
    rng = np.random.default_rng(5)
    asked_cash = rng.integers(1, 10**9, 2000, dtype=np.int64)  # up to $10M per order
    fill_cash = int(asked_cash.sum()) - 17
    fill_qty = 10**15 + 3  # nano-share increments
    split = split_cash_block(fill_qty, fill_cash, asked_cash)
    caps = [min(wanted, fill_cash) * fill_qty // fill_cash for wanted in asked_cash.tolist()]
    qty, unplaced_qty = oracle_pro_rata(fill_qty, asked_cash.tolist(), caps)
    assert (split.qty.tolist(), split.unplaced_qty) == (qty, unplaced_qty)
    cash, _ = oracle_pro_rata(fill_cash, [*qty, unplaced_qty])
    assert split.cash.tolist() == cash[:-1]
    assert split.unplaced_cash == cash[-1]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: pro_rata(-1, units([1, 2])), ValueError),
        (lambda: pro_rata(LIMIT, units([1, 2])), ValueError),
        (lambda: pro_rata(5, units([1, -2])), ValueError),
        (lambda: pro_rata(5, units([1, 2]), caps=units([1, -1])), ValueError),
        (lambda: pro_rata(5, units([1, 2]), caps=units([1, 2, 3])), ValueError),
        (lambda: pro_rata(5, units([0, 0])), ValueError),
        (lambda: pro_rata(5, units([])), ValueError),
        (lambda: pro_rata(5, units([LIMIT // 2, LIMIT // 2])), ValueError),
        (lambda: pro_rata(5, np.array([1.0, 2.0])), TypeError),
        (lambda: pro_rata(5.0, units([1, 2])), TypeError),  # type: ignore[arg-type]
        (lambda: split_qty_block(0, 100, units([5])), ValueError),
        (lambda: split_qty_block(6, 100, units([2, 3])), ValueError),
        (lambda: split_qty_block(-1, 0, units([2, 3])), ValueError),
        (lambda: split_cash_block(0, 100, units([500])), ValueError),
        (lambda: split_cash_block(5, 801, units([300, 500])), ValueError),
        (lambda: split_cash_block(5, 100, units([300, -500])), ValueError),
    ],
)
def test_bad_input_is_refused(call: Callable[[], object], error: type[Exception]) -> None:
    with pytest.raises(error):
        call()
