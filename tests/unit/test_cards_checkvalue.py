from datetime import datetime, timezone

import pytest

from assist_ws.domain import cards
from assist_ws.domain.checkvalue import checkvalue, verify_order_checkvalue
from assist_ws.domain.errors import ValidationError
from assist_ws.domain.passwords import hash_password, verify_password

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)


def test_checkvalue_matches_the_published_vector():
    assert checkvalue("secret", "111111ok4.00RUBCanceled") == "74DEB154081757F1E8097DDFAC35FC5C"


def test_order_checkvalue_accepts_the_joined_form():
    joined = checkvalue("s", "100001;A-1;10.00;RUB")
    for given in (joined, joined.lower()):
        assert verify_order_checkvalue("s", given, "100001", "A-1", "10.00", "RUB")
    assert not verify_order_checkvalue("s", joined, "100001", "A-1", "10.01", "RUB")
    assert not verify_order_checkvalue("other", joined, "100001", "A-1", "10.00", "RUB")
    # extras go in only when sent and non-zero
    with_points = checkvalue("s", "100001;A-1;10.00;RUB;50")
    assert verify_order_checkvalue("s", with_points, "100001", "A-1", "10.00", "RUB", ("50",))
    assert verify_order_checkvalue("s", joined, "100001", "A-1", "10.00", "RUB", ("0", None))


def test_the_unjoined_form_counts_only_where_the_merchant_allows_it():
    # Signed for order S8255771 of 150.00; sent as order S82557711 of 50.00: the unjoined
    # strings are the same, so only the joined form tells the two apart.
    legacy = checkvalue("s", "100001S8255771150.00RUB")
    tampered = ("100001", "S82557711", "50.00", "RUB")
    assert not verify_order_checkvalue("s", legacy, *tampered)
    assert verify_order_checkvalue("s", legacy, *tampered, legacy=True)
    joined = checkvalue("s", "100001;S8255771;150.00;RUB")
    assert not verify_order_checkvalue("s", joined, *tampered, legacy=True)


def test_a_request_without_currency_is_signed_without_it():
    signed = checkvalue("s", "100001;A-1;10.00")
    assert verify_order_checkvalue("s", signed, "100001", "A-1", "10.00", None)
    assert verify_order_checkvalue("s", signed, "100001", "A-1", "10.00", "")
    assert not verify_order_checkvalue("s", signed, "100001", "A-1", "10.00", "RUB")
    assert not verify_order_checkvalue("s", checkvalue("s", "100001;A-1;10.00;RUB"),
                                       "100001", "A-1", "10.00", None)
    with_points = checkvalue("s", "100001;A-1;10.00;50")
    assert verify_order_checkvalue("s", with_points, "100001", "A-1", "10.00", None, ("50",))


def test_luhn_mask_brand():
    assert cards.luhn_ok("4111111111111111")
    assert not cards.luhn_ok("4111111111111112")
    assert cards.mask("4111 1111 1111 1111") == "411111******1111"
    assert cards.brand("2200000000000004") == "MIR"
    assert cards.brand("5555555555554444") == "MasterCard"


def test_card_data_never_shows_number_or_cvc():
    card = cards.parse_card("4111 1111 1111 1111", "12", "30", "ivan petrov", "123", NOW)
    assert "4111111111111111" not in repr(card) and "123" not in repr(card)
    assert card.cardholder == "IVAN PETROV" and card.expire_year == 2030


@pytest.mark.parametrize("args,field", [
    (("4111111111111112", "12", "2030", "IVAN", "123"), "CardNumber"),
    (("4111111111111111", "10", "2026", "IVAN", "123"), "ExpireYear"),
    (("4111111111111111", "13", "2030", "IVAN", "123"), "ExpireMonth"),
    (("4111111111111111", "12", "2030", "Иван", "123"), "Cardholder"),
    (("4111111111111111", "12", "2030", "IVAN", "12"), "CVC2"),
])
def test_card_errors_name_the_field(args, field):
    errors = cards.card_errors(*args, NOW)
    assert [e.field for e in errors] == [field]
    with pytest.raises(ValidationError):
        cards.parse_card(*args, NOW)


def test_password_hash_is_salted_scrypt():
    h = hash_password("DemoPass123", n=2**10)
    assert h.startswith("scrypt$") and "DemoPass123" not in h
    assert verify_password("DemoPass123", h)
    assert not verify_password("DemoPass124", h)
    assert hash_password("DemoPass123", n=2**10) != h
