"""The wire pieces of the payment pages, without a server: parameter names, cleaning,
return URLs, page sessions and CSRF tokens, texts and amounts, log redaction."""

from decimal import Decimal

import pytest

from assist_ws.domain.cards import card_data_in
from assist_ws.domain.errors import AssistError, ValidationError
from assist_ws.domain.redaction import RedactSecrets, redact
from assist_ws.web import texts
from assist_ws.web.authrequest import (Params, authorization_request, clean_url, language)
from assist_ws.web.page_session import PageSessions
from assist_ws.web.returns import assist_quote, origin, with_order
from assist_ws.web.security import csp


def test_params_ignore_case_and_the_first_source_wins():
    p = Params({"ORDERNUMBER": "form", "merchant_id": "1"}, {"OrderNumber": "query", "X": "y"})
    assert p.get("OrderNumber") == "form" and p.get("Merchant_ID") == "1"
    assert p.get("x") == "y" and p.get("missing") is None


def test_card_data_in_parameters_by_name_or_by_a_card_number_in_any_value():
    assert card_data_in([("cardNumber", "1"), ("CVC2", "2"), ("a", "b")]) == ["cardnumber",
                                                                             "cvc2"]
    found = card_data_in([("cc", "4111111111111111"), ("CardNo", "4111 1111 1111 1111"),
                          ("x", "1"), ("x", "pan:5555-5555-5555-4444"),
                          ("pan_ok", "4111111111111112"),        # fails the Luhn check
                          ("n", "17336000000000000"),             # begins with 1
                          ("OrderNumber", "4111111111111111")])   # the shop's own number
    assert found == ["cardno", "cc", "x"]


@pytest.mark.parametrize("url", ["javascript:alert(1)", "/relative", "ftp://h/x",
                                 "http://", "http://h/" + "x" * 260, "http://h/a b",
                                 "http://h/\x07"])
def test_return_urls_must_be_absolute_http(url):
    with pytest.raises(ValidationError) as refused:
        clean_url("URL_RETURN_OK", url)
    assert refused.value.codes == (5, 154)


@pytest.mark.parametrize("url", [
    "https://shop.example;script-src *", "https://shop.example,evil.example/ok",
    "https://user:pw@shop.example/ok", "https://shop.example\\@evil.example/",
    "https://shop_1.example/ok", "https://-shop.example/", "https://shop.example:0/",
    "https://shop.example:65536/", "https://shop.example:８４４３/", "https://shop.example:x/",
    "https://shop.example:" + "9" * 5000, "http://[fe80::1%25eth0]/ok",
    "https://1.2.3/ok", "http://[::1/ok", "https://shop.example./ok", "https://%73hop.example/",
])
def test_return_urls_need_a_host_name_or_an_ip_address(url):
    with pytest.raises(ValidationError) as refused:
        clean_url("URL_RETURN_OK", url)
    assert refused.value.codes == (5, 154)
    assert origin(url) is None


def test_return_urls_with_a_valid_host_are_taken_and_their_origin_written_anew():
    for url, expected in [
        ("HTTPS://Shop.Example:8443/ok;a,b?x=1", "https://shop.example:8443"),
        ("https://shop.example:443/ok", "https://shop.example"),
        ("http://127.0.0.1:8080/ok", "http://127.0.0.1:8080"),
        ("http://[::1]:8080/ok", "http://[::1]:8080"),
        ("https://магазин.рф/ok", "https://xn--80aairftm.xn--p1ai"),
    ]:
        assert clean_url("URL_RETURN_OK", url) == url
        assert origin(url) == expected


def test_the_csp_names_only_origins_parsed_and_written_anew():
    policy = csp(["https://shop.example;script-src *", "https://a.example/ok,b",
                  "https://Shop.Example:443/ok", None],
                 ["https://x.example;frame-ancestors *"])
    assert "form-action 'self' https://a.example https://shop.example;" in policy
    assert "frame-ancestors 'self';" in policy
    assert policy.count("script-src") == 1 and "*" not in policy and "," not in policy


def test_return_urls_are_cleaned_as_assist_does():
    assert clean_url("U", " https://shop.example/ok?a=1&&\"x<b>%3Cc%3e ") == \
        'https://shop.example/ok?a=1&"xbc'
    assert clean_url("U", "") is None and clean_url("U", None) is None


def test_authorization_request_cleans_and_bounds_customer_fields():
    req = authorization_request(Params({
        "merchant_id": "7", "lastname": "O'Neil (jr)", "address": "Lenina <b>=5</b> \\",
        "ClientIP": " 10.0.0.1 ", "CardPayment": "1", "ymPayment": "0",
        "OrderComment": "a<b>=c"}), client_ip="192.0.2.1")
    assert req.customer.lastname == "ONeil jr" and req.customer.address == "Lenina b5/b"
    assert req.client_ip == "10.0.0.1" and req.comment == "abc"
    assert req.means_flags == {"CardPayment": "1", "YMPayment": "0"}
    assert authorization_request(Params({}), client_ip="192.0.2.1").client_ip == "192.0.2.1"
    with pytest.raises(ValidationError) as refused:
        authorization_request(Params({"State": "ABCD"}))
    assert refused.value.codes == (5, 124)
    with pytest.raises(ValidationError):
        authorization_request(Params({"ClientIP": "999.1.1.1"}))


def test_language_falls_back():
    assert language(" en ") == "EN" and language("de") == "RU"
    assert language(None, "EN") == "EN"


def test_return_url_gets_billnumber_and_ordernumber_encoded_as_assist_does():
    assert assist_quote("A-1_b c.d/ё") == "A-1_b+c%2Ed%2F%D1%91"
    assert with_order("https://s/ok", "1234567890123456", "N 1") == \
        "https://s/ok?billnumber=1234567890123456&ordernumber=N+1"
    assert with_order("https://s/ok?x=1#top", "1", "2") == \
        "https://s/ok?x=1&billnumber=1&ordernumber=2#top"
    assert origin("HTTPS://Shop.Example:8443/ok?x") == "https://shop.example:8443"
    assert origin("javascript:x") is None and origin(None) is None


def test_page_sessions_are_sealed_and_bound_to_one_order():
    sessions = PageSessions(b"secret")
    sid = sessions.new("4035745379002870")
    assert sessions.bill_number(sid) == "4035745379002870"
    assert sessions.new("4035745379002870") != sid  # a nonce in each
    assert len(sid) == 43 and "=" not in sid
    flipped = [sid[:i] + ("A" if sid[i] != "A" else "B") + sid[i + 1:] for i in range(43)]
    for bad in flipped + [sid[1:], sid + "A", sid + "=", "", None, "é" * 43, "!" * 43]:
        assert sessions.bill_number(bad) is None
    assert PageSessions(b"other").bill_number(sid) is None


def test_csrf_tokens_belong_to_one_session_and_one_form():
    sessions = PageSessions(b"secret")
    a, b = sessions.new("1000000000000001"), sessions.new("1000000000000001")
    token = sessions.csrf(a, "card")
    assert sessions.csrf_ok(a, "card", token)
    assert not sessions.csrf_ok(b, "card", token)
    assert not sessions.csrf_ok(a, "means", token)
    assert not sessions.csrf_ok(a, "card", "") and not sessions.csrf_ok(a, "card", None)
    assert not sessions.csrf_ok(a, "card", "ü" + token[1:])


def test_amounts_are_written_for_the_buyers_language():
    assert texts.money(Decimal("1290.5"), "RUB", "RU") == "1\u00a0290,50\u00a0RUB"
    assert texts.money(Decimal("1290.5"), "RUB", "EN") == "1,290.50\u00a0RUB"
    assert texts.money(Decimal("1500"), "JPY", "EN") == "1,500\u00a0JPY"
    assert texts.money(Decimal("1.5"), "KWD", "EN") == "1.500\u00a0KWD"


@pytest.mark.parametrize("codes, ru_words", [
    ((10, 100), "Магазин не найден"), ((3, 0), "отсутствует"), ((9, 0), "неверна"),
    ((11, 107), "уже оплачен"), ((5, 105), "валюте"), ((5, 109), "Двухстадийная"),
    ((16, 201), "Время на оплату"), ((5, 118), "покупателя"), ((42, 999), "неверен"),
])
def test_every_refusal_gets_a_sentence_in_both_languages(codes, ru_words):
    error = AssistError("x", codes[1], firstcode=codes[0])
    assert ru_words in texts.explain("RU", error)
    assert texts.explain("EN", error) and texts.explain("EN", error) != texts.explain("RU",
                                                                                     error)


def test_every_text_exists_in_both_languages():
    assert set(texts.TEXTS["RU"]) == set(texts.TEXTS["EN"])


def test_csp_allows_only_our_assets_and_the_shop_for_forms_and_frames():
    policy = csp(["https://shop.example"], ["https://shop.example"])
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "form-action 'self' https://shop.example" in policy
    assert "frame-ancestors 'self' https://shop.example" in policy
    assert "unsafe" not in policy


def test_envelope_logs_lose_card_numbers_and_cvcs():
    envelope = ("<ns0:Authorize><card_number>4111111111111111</card_number>"
                "<cvc>737</cvc><request_id>ab12</request_id></ns0:Authorize> "
                "billnumber 1234567890123456")
    cleaned = redact(envelope)
    assert "4111111111111111" not in cleaned and "737" not in cleaned
    assert "411111******1111" in cleaned and "1234567890123456" in cleaned
    import logging
    record = logging.LogRecord("zeep.transports", logging.DEBUG, __file__, 1,
                               "HTTP Post to %s:\n%s", ("http://c", envelope), None)
    assert RedactSecrets().filter(record) and "737" not in record.getMessage()


def test_log_lines_lose_passwords_cvcs_and_page_sessions_in_urls_and_forms():
    line = ('GET /orderstate/orderstate.cfm?Login=erp&Password=Secret1&x=1 '
            'POST body CVC2=123&CFSID=1234.abcd&cc=5555-5555-5555-4444 '
            '<ws:password>Secret2</ws:password> Password%3DSecret3')
    cleaned = redact(line)
    for secret in ("Secret1", "Secret2", "Secret3", "123&", "1234.abcd", "5555-5555-5555-4444"):
        assert secret not in cleaned
    assert "Login=erp" in cleaned and "x=1" in cleaned and "555555******4444" in cleaned


def test_every_card_check_message_has_a_russian_wording():
    from datetime import datetime, timezone

    from assist_ws.domain.cards import card_errors
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    inputs = [("", "", "", "", ""), ("4111111111111112", "13", "20", "Иван", "1"),
              ("4111111111111111", "5", "x", "A", "12345"),
              ("4111111111111111", "1", "2020", "A B", "123"),
              ("4111111111111111", "1", "2099", "A B", "123")]
    messages = {e.message for args in inputs for e in card_errors(*args, now)}
    assert len(messages) == len(texts.FIELD_RU)  # every check was made to speak
    assert messages <= set(texts.FIELD_RU)
