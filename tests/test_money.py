"""flask_halyk.money: the one reading of an amount that the client, the schemas, the ledger, the
verification and the sandbox share."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_halyk.errors import InvalidArgument
from flask_halyk.money import (
    AMOUNT_MAX,
    AmountError,
    amount_or_none,
    canonical,
    format_amount,
    from_minor,
    js_amount,
    parse_amount,
    same_amount,
    to_decimal,
    to_minor,
)

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2)


@settings(max_examples=150)
@given(amounts)
def test_canonical_is_stable_across_spellings(value: Decimal) -> None:
    spellings = {canonical(value), canonical(str(value)), canonical(float(value)),
                 canonical(value.quantize(Decimal("0.001")))}
    assert len(spellings) == 1
    assert Decimal(spellings.pop()) == value


@settings(max_examples=150)
@given(amounts)
def test_every_reading_agrees(value: Decimal) -> None:
    # The spellings a shop, the bank's JSON, a form and a stored row give of one amount.
    for spelling in (value, str(value), float(value), format_amount(value), js_amount(value)):
        assert parse_amount(spelling) == value
        assert amount_or_none(spelling) == value
        assert from_minor(to_minor(spelling)) == value
        assert same_amount(spelling, value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("abc", "Not a number."),
        ("1e3", "Not a number."),  # no exponents: ePay's own examples never use them
        ("1_000", "Not a number."),
        (" ", "Not a number."),
        (None, "Not a number."),
        (True, "Not a number (a boolean)."),
        (float("nan"), "Not a finite number."),
        (Decimal("Infinity"), "Not a finite number."),
        (AMOUNT_MAX + 1, "Number out of range."),
        (10**20, "Number out of range."),
        (0, "Must be a positive number."),
        (-5, "Must be a positive number."),
        ("12.345", "Has more than two decimal places."),
        (0.1 + 0.2, "Has more than two decimal places."),  # float noise is refused, not rounded
    ],
)
def test_what_is_not_an_amount(value: object, problem: str) -> None:
    with pytest.raises(AmountError) as info:
        parse_amount(value, "refund amount")
    assert info.value.problem == problem
    assert str(info.value).startswith("refund amount ")
    assert isinstance(info.value, InvalidArgument) and isinstance(info.value, ValueError)
    assert amount_or_none(value) is None


def test_zero_is_an_amount_only_where_allowed() -> None:
    assert parse_amount("0", allow_zero=True) == 0
    assert to_minor(0) == 0
    with pytest.raises(AmountError, match="negative"):
        parse_amount("-0.01", allow_zero=True)


def test_to_decimal_keeps_what_it_reads() -> None:
    assert to_decimal(12.1) == Decimal("12.1")  # by repr, not the binary 12.0999...
    assert to_decimal(" -3.50 ") == Decimal("-3.50")
    assert to_decimal("0." + "0" * 399 + "1") == Decimal("1E-400")
    with pytest.raises(AmountError, match="decimal places"):
        to_decimal("0." + "0" * 400 + "1")


def test_spellings_for_the_wire() -> None:
    assert format_amount(Decimal("100.00")) == "100"
    assert format_amount(Decimal("12.5")) == "12.50"
    assert js_amount(Decimal("100.00")) == 100 and isinstance(js_amount(Decimal(100)), int)
    assert js_amount(Decimal("12.50")) == 12.5
    assert canonical(Decimal("-0.00")) == "0"
    assert not same_amount("100", "abc")
