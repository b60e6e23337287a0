"""The buyer's personal data (``domain.customer``): the one table of the fields, the names a
merchant's setting takes, the checks of what a buyer types, and which fields a payment page
shows, lets change or asks for."""

import pytest

from assist_ws.domain.customer import (ASKED, BY_NAME, EDITABLE, FIELDS, SHOWN,
                                       CustomerDataRefused, Problem, check, customer_form,
                                       parse_names, review)
from assist_ws.domain.errors import ValidationError
from assist_ws.domain.model import CUSTOMER_FIELDS, Customer, Merchant
from assist_ws.web.authrequest import PARAMETERS, Params, authorization_request


def test_the_table_covers_every_customer_attribute_once():
    assert sorted(f.attr for f in FIELDS) == sorted(CUSTOMER_FIELDS)
    assert [f.name for f in FIELDS] == [f.wire.lower() for f in FIELDS]
    # The request takes each field by its wire name, with the field's secondcode.
    assert all(PARAMETERS[f.name] == (f.wire, f.secondcode) for f in FIELDS)


def test_the_request_and_the_pages_share_the_limits():
    for f in FIELDS:
        with pytest.raises(ValidationError) as refused:
            authorization_request(Params({f.wire: "7" * (f.longest + 1)}))
        assert refused.value.secondcode == f.secondcode
        assert check(f, "7" * (f.longest + 1))[1] is not None


def test_setting_names_are_known_ones_in_any_case_each_once_in_page_order():
    assert parse_names("Email, lastname,EMAIL,,mobilephone") == ["lastname", "email",
                                                                 "mobilephone"]
    assert parse_names("") == [] and parse_names(" , ") == []
    with pytest.raises(ValidationError) as refused:
        parse_names("email,phone,surname", "--customer-fields")
    message = refused.value.message
    assert message.startswith("--customer-fields: unknown customer field(s) phone, surname")
    assert "use any of lastname, firstname" in message and "zip, address" in message


@pytest.mark.parametrize("name,typed,kept", [
    ("email", " Ivan.Petrov@Example.com ", "Ivan.Petrov@Example.com"),
    ("email", "ivan@почта.рф", "ivan@почта.рф"),
    ("email", "a+b@mail.example.co.uk", "a+b@mail.example.co.uk"),
    ("mobilephone", "+7 (999) 123-45-67", "+79991234567"),
    ("homephone", "8.495.123.45.67", "84951234567"),
    ("lastname", "  Иванов-Петров  ", "Иванов-Петров"),
    ("firstname", "Anna   Maria", "Anna Maria"),
    ("country", "ru", "RU"),
    ("country", "rus", "RUS"),
    ("state", "77", "77"),
    ("city", "Санкт-Петербург", "Санкт-Петербург"),
    ("zip", "190000", "190000"),
    ("address", "ул. Ленина, д. 5/2, кв. 1", "ул. Ленина, д. 5/2, кв. 1"),
    ("lastname", "   ", None),
])
def test_good_values_are_kept_cleaned(name, typed, kept):
    assert check(BY_NAME[name], typed) == (kept, None)


@pytest.mark.parametrize("name,typed,key,detail", [
    ("email", "ivan.example.com", "email", ()),
    ("email", "ivan@example", "email", ()),
    ("email", "ivan@@example.com", "email", ()),
    ("email", "iv an@example.com", "email", ()),
    ("email", ".ivan@example.com", "email", ()),
    ("email", "iv..an@example.com", "email", ()),
    ("email", "ivan@-example.com", "email", ()),
    ("email", "o'neil@example.com", "characters", (("chars", "'"),)),
    ("email", "a" * 120 + "@example.com", "too_long", (("longest", "128"),)),
    ("mobilephone", "+7 99", "phone", ()),                # 3 digits
    ("mobilephone", "call me", "phone", ()),
    ("mobilephone", "+7 999 123 45 67 89 01 23", "phone", ()),
    ("workphone", "12345x", "phone", ()),
    ("fax", "+1 (555) 123-4567 ext 9", "phone", ()),
    ("lastname", "<b>Ivanov</b>", "characters", (("chars", "< > /"),)),
    ("lastname", "O'Neil (jr)", "characters", (("chars", "' ( )"),)),
    ("lastname", "Ivan\x01ov", "characters", (("chars", "U+0001"),)),
    ("lastname", "Ivan\ufffeov", "characters", (("chars", "U+FFFE"),)),
    ("lastname", "Я" * 71, "too_long", (("longest", "70"),)),
    ("address", "Lenina 5 <b>", "characters", (("chars", "< >"),)),
    ("address", "x" * 257, "too_long", (("longest", "256"),)),
    ("country", "Russia", "too_long", (("longest", "3"),)),
    ("country", "R1", "country", ()),
    ("country", "Рф", "country", ()),
    ("state", "MOWX", "too_long", (("longest", "3"),)),
    ("city", "x" * 71, "too_long", (("longest", "70"),)),
    ("zip", "1" * 26, "too_long", (("longest", "25"),)),
    ("zip", "190#000", "characters", (("chars", "#"),)),
])
def test_bad_values_are_refused_and_say_why(name, typed, key, detail):
    assert check(BY_NAME[name], typed) == (None, Problem(name, key, detail))


def test_problems_carry_the_fields_secondcode_and_never_the_value():
    problem = check(BY_NAME["email"], "secret-person@nowhere")[1]
    assert problem.secondcode == 120 and "secret-person" not in problem.message
    refused = CustomerDataRefused({"email": problem,
                                   "lastname": Problem("lastname", "required")})
    assert refused.codes == (4, 120) and "secret-person" not in refused.message
    assert refused.message == ("the buyer's data cannot be kept: email: Enter an e-mail "
                               "address such as name@example.com; lastname: Please fill in "
                               "this field")
    assert CustomerDataRefused({"lastname": Problem("lastname", "required")}).codes == (3, 117)


def merchant(asked=(), required=(), editable=False):
    return Merchant(1, "Shop", customer_fields=asked, customer_required=required,
                    customer_editable=editable)


def test_the_form_shows_what_the_shop_sent_and_asks_for_the_rest():
    customer = Customer(lastname="Ivanov", email="ivan@example.com", zip="190000")
    form = customer_form(customer, merchant(["email", "firstname", "city"], ["mobilephone"]))
    assert [(f.name, f.value, f.mode, f.required) for f in form] == [
        ("lastname", "Ivanov", SHOWN, False),
        ("firstname", None, ASKED, False),
        ("email", "ivan@example.com", SHOWN, False),
        ("mobilephone", None, ASKED, True),       # required implies asked
        ("city", None, ASKED, False),
        ("zip", "190000", SHOWN, False),
    ]
    editable = customer_form(customer, merchant(["email"], ["email"], editable=True))
    assert [(f.name, f.mode, f.required) for f in editable] == [
        ("lastname", EDITABLE, False), ("email", EDITABLE, True), ("zip", EDITABLE, False)]
    assert customer_form(Customer(), None) == ()
    assert [f.mode for f in customer_form(customer, None)] == [SHOWN] * 3


def test_review_takes_what_the_buyer_typed_into_the_inputs_only():
    customer = Customer(lastname="Ivanov", email="shop@example.com")
    form = customer_form(customer, merchant(["firstname", "city"], ["mobilephone"]))
    changes, problems = review(form, {"firstname": " Ivan ", "city": "",
                                      "mobilephone": "+7 999 123-45-67",
                                      "email": "forged@example.com", "lastname": "Forged"})
    assert problems == {}
    assert changes == {"firstname": "Ivan", "mobile_phone": "+79991234567"}


def test_review_finds_every_problem_at_once():
    form = customer_form(Customer(), merchant(["firstname", "email"], ["email", "zip"]))
    changes, problems = review(form, {"firstname": "<Ivan>", "zip": "   "})
    assert changes == {}
    assert problems == {"firstname": Problem("firstname", "characters", (("chars", "< >"),)),
                        "email": Problem("email", "required"),
                        "zip": Problem("zip", "required")}


def test_editable_fields_keep_the_shops_value_unless_changed():
    customer = Customer(lastname="O Neil", email="shop@example", city="Moscow")
    form = customer_form(customer, merchant(["email"], ["email"], editable=True))
    # Sent back as it was (even a value the pages would not take), or not sent: kept.
    assert review(form, {"email": "shop@example", "lastname": " O  Neil "}) == ({}, {})
    assert review(form, {}) == ({}, {})
    changes, problems = review(form, {"email": "buyer@example.com", "city": ""})
    assert problems == {} and changes == {"email": "buyer@example.com", "city": None}
    assert review(form, {"email": ""})[1] == {"email": Problem("email", "required")}
    assert review(form, {"email": "buyer@"})[1] == {"email": Problem("email", "email")}


def test_every_field_has_its_labels_hint_and_messages_in_both_languages():
    from assist_ws.domain.customer import MESSAGES
    from assist_ws.web import pay, texts
    assert set(texts.CUSTOMER_LABELS) == set(BY_NAME) == set(pay.AUTOCOMPLETE)
    assert set(texts.PROBLEM_RU) == set(MESSAGES)
    problem = Problem("zip", "too_long", (("longest", "25"),))
    assert texts.customer_message("RU", problem) == "Не более 25 символов"
    assert texts.customer_message("EN", problem) == "At most 25 characters"
    assert texts.customer_label("RU", "state") == "Регион (код)"
