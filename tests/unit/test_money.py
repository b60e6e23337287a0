from decimal import Decimal

import pytest

from assist_ws.domain.errors import ValidationError
from assist_ws.domain.money import Money, normalize_currency, parse_amount


def test_exponents_follow_iso_4217():
    assert parse_amount("10.34", "RUB").wire == "10.34"
    assert parse_amount("10", "USD").wire == "10.00"
    assert parse_amount("1500", "JPY").wire == "1500"
    assert parse_amount("1.125", "KWD").wire == "1.125"


@pytest.mark.parametrize("text,currency", [("10.345", "RUB"), ("1.5", "JPY"), ("1.1234", "KWD")])
def test_too_many_decimals_refused(text, currency):
    with pytest.raises(ValidationError) as info:
        parse_amount(text, currency)
    assert info.value.secondcode == 108


@pytest.mark.parametrize("text", ["", "abc", "-1", "1e3", "1.2.3", "+5", "1234567890123456"])
def test_malformed_amounts_refused(text):
    with pytest.raises(ValidationError):
        parse_amount(text, "RUB")


def test_comma_decimal_accepted_and_trailing_zeros_ok():
    assert parse_amount("10,50", "RUB") == Money(Decimal("10.50"), "RUB")
    assert parse_amount("10.500", "RUB").wire == "10.50"


def test_floats_are_refused():
    with pytest.raises(TypeError):
        Money(10.5, "RUB")  # type: ignore[arg-type]


def test_arithmetic_needs_same_currency():
    a, b = Money.of("1.00", "RUB"), Money.of("1.00", "USD")
    assert (a + a).wire == "2.00"
    with pytest.raises(ValidationError):
        a + b


def test_conversion_rounds_half_up_to_target_exponent():
    usd = Money.of("10.01", "USD")
    assert usd.convert("RUB", Decimal("90.125")) == Money.of("902.15", "RUB")
    assert usd.convert("JPY", Decimal("150.5")) == Money.of("1507", "JPY")
    assert usd.convert("USD", Decimal("2")) is usd


def test_currency_codes():
    assert normalize_currency("rur") == "RUB"
    with pytest.raises(ValidationError) as info:
        normalize_currency("XXX")
    assert info.value.secondcode == 105


@pytest.mark.parametrize("text", ["１００", "١٠٠", "۱۰۰.۵۰", "100.５０", "१००"])
def test_amounts_take_ascii_digits_only(text):
    with pytest.raises(ValidationError) as info:
        parse_amount(text, "RUB", name="OrderAmount")
    assert info.value.codes == (4, 108)
