"""``/pay/order.cfm``, ``/pay/payrequest.cfm`` and the order's pages over plain HTTP, against
the gateway process on SQLite and PostgreSQL: every refusal of the authorization request
names the problem with Assist's codes and creates nothing; sessions, CSRF tokens, headers and
concurrent "Pay" requests."""

from __future__ import annotations

import json
import re
import threading
import uuid
from decimal import Decimal

import pytest
import requests

from ..openapi_check import assert_valid
from .conftest import INACTIVE, LEGACY, MERCHANT, RUB_ONLY, sign_request


def codes(resp) -> tuple[int, int]:
    found = re.search(r'data-firstcode="(\d+)" data-secondcode="(\d+)"', resp.text)
    assert found, resp.text
    return int(found.group(1)), int(found.group(2))


def paid_order_number(site, delay: bool = False) -> str:
    session = site.start(Delay="1" if delay else "0")
    assert session.pay().status_code == 303
    state = site.order(session.bill).state
    assert state == ("Delayed" if delay else "Approved")
    return site.order(session.bill).order_number


PAYREQUEST = "/pay/payrequest.cfm"
REFUSALS = {
    # name: (changes to a valid signed request of MERCHANT, firstcode, secondcode, text)
    "missing merchant": (dict(Merchant_ID=""), 3, 100, "The shop"),
    "unknown merchant": (dict(Merchant_ID="999999"), 10, 100, "unknown"),
    "inactive merchant": (dict(Merchant_ID=str(INACTIVE)), 10, 100, "unknown"),
    "malformed amount": (dict(OrderAmount="10.3.4"), 4, 108, "amount"),
    "amount in fullwidth digits": (dict(OrderAmount="１００.００"), 4, 108, "amount"),
    "amount in Arabic-Indic digits": (dict(OrderAmount="١٠٠"), 4, 108, "amount"),
    "Merchant_ID with a superscript digit": (dict(Merchant_ID="10000²"), 4, 100, "shop"),
    "OrderMaxPoints with a superscript digit": (dict(OrderMaxPoints="²"), 4, 108, "amount"),
    "control character in OrderNumber": (dict(OrderNumber="A\x01B"), 4, 107, "order number"),
    "control character in a customer field": (dict(Lastname="Ivan\x01"), 4, 117, "buyer"),
    "negative amount": (dict(OrderAmount="-5.00"), 4, 108, "amount"),
    "zero amount": (dict(OrderAmount="0.00"), 5, 108, "amount"),
    "too many decimals": (dict(OrderAmount="10.123"), 5, 108, "amount"),
    "currency not accepted": (dict(OrderCurrency="EUR"), 5, 105, "currency"),
    "unknown currency": (dict(OrderCurrency="XXX"), 5, 105, "currency"),
    "Delay=1 without two-stage": (dict(Merchant_ID=str(RUB_ONLY), Delay="1"), 5, 109,
                                  "Two-stage"),
    "Checkvalue missing": (dict(Checkvalue=None), 3, 0, "Checkvalue"),
    "Checkvalue wrong": (dict(Checkvalue="0" * 32), 9, 0, "Checkvalue"),
    "Checkvalue of other values": (dict(OrderAmount="100.01", resign=False), 9, 0,
                                   "Checkvalue"),
    "all payment means off": (dict(CardPayment="0", YMPayment="0"), 5, 218, "payment means"),
    "return URL not http": (dict(URL_RETURN_OK="javascript:alert(1)"), 5, 154, "return"),
    "return URL host holding ;": (dict(URL_RETURN_OK="https://shop.example;sandbox"), 5, 154,
                                  "return"),
    "return URL host holding ,": (dict(URL_RETURN_NO="https://shop.example,https://evil.example"),
                                  5, 154, "return"),
    "return URL with a user": (dict(URL_RETURN="https://user@shop.example/back"), 5, 154,
                               "return"),
    "return URL with an unclosed IPv6 literal": (dict(URL_RETURN="http://[::1/back"), 5, 154,
                                                 "return"),
    "customer field too long": (dict(Lastname="x" * 71), 5, 117, "buyer"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_request_names_the_problem_and_creates_nothing(site, case):
    changes, first, second, words = REFUSALS[case]
    changes = dict(changes)
    resign = changes.pop("resign", True)
    fields = site.fields(Language="EN")
    for name, value in changes.items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    if resign and "Checkvalue" not in changes and fields["Merchant_ID"] == str(MERCHANT):
        fields["Checkvalue"] = sign_request(fields)
    before = site.order_count()
    resp = site.order_cfm(fields)
    assert resp.status_code == 400
    assert codes(resp) == (first, second)
    assert words.lower() in resp.text.lower()
    assert "Location" not in resp.headers
    assert site.order_count() == before


@pytest.mark.parametrize("delay", [False, True], ids=["paid", "held"])
def test_order_number_already_paid_or_held_is_refused(site, delay):
    number = paid_order_number(site, delay=delay)
    before = site.order_count()
    resp = site.order_cfm(site.fields(OrderNumber=number, Language="RU"))
    assert resp.status_code == 400 and codes(resp) == (11, 107)
    assert "уже оплачен" in resp.text
    assert site.order_count() == before


def test_declined_order_number_may_be_paid_again(site):
    first = site.start()
    first.pay(number="4000000000000002")
    assert site.order(first.bill).state == "Declined"
    number = site.order(first.bill).order_number
    again = site.order_cfm(site.fields(OrderNumber=number))
    assert again.status_code == 303


def test_names_are_case_insensitive_and_get_works(site):
    fields = site.fields()
    shouting = {name.upper(): value for name, value in fields.items()}
    resp = site.order_cfm(shouting, method="GET")
    assert resp.status_code == 303 and "/pay/pay.cfm?CFSID=" in resp.headers["Location"]
    session = site.open(resp.headers["Location"])
    order = site.order(session.bill)
    assert (order.order_number, order.amount, order.currency, order.state) == (
        fields["OrderNumber"], Decimal("100.00"), "RUB", "In Process")


def tampered(merchant: int) -> dict[str, str]:
    """A request signed in the unjoined form for order S…1 of 150.00, sent as order S…11 of
    50.00: the same unjoined string."""
    number = "S" + str(uuid.uuid4().int)[:7] + "1"
    signed = {"Merchant_ID": str(merchant), "OrderNumber": number, "OrderAmount": "150.00",
              "OrderCurrency": "RUB"}
    return dict(signed, OrderNumber=number + "1", OrderAmount="50.00",
                Checkvalue=sign_request(signed, legacy=True))


def test_an_unjoined_checkvalue_does_not_let_digits_move_into_the_order_number(site):
    before = site.order_count()
    resp = site.order_cfm(site.fields(**tampered(MERCHANT)))
    assert resp.status_code == 400 and codes(resp) == (9, 0)
    assert site.order_count() == before
    # Only a merchant whose settings allow the unjoined form takes it.
    fields = site.fields(merchant=LEGACY, **tampered(LEGACY))
    resp = site.order_cfm(fields)
    assert resp.status_code == 303, resp.text
    order = site.order(site.open(resp.headers["Location"]).bill)
    assert (order.order_number, order.amount) == (fields["OrderNumber"], Decimal("50.00"))


def test_a_request_signed_without_currency_gets_the_base_currency_and_is_paid(site):
    fields = site.fields()
    del fields["OrderCurrency"]
    fields["Checkvalue"] = sign_request(fields)
    resp = site.order_cfm(fields)
    assert resp.status_code == 303, resp.text
    session = site.open(resp.headers["Location"])
    assert session.pay().status_code == 303
    order = site.order(session.bill)
    assert (order.amount, order.currency, order.state) == (Decimal("100.00"), "RUB",
                                                           "Approved")


def test_forbidden_characters_are_stripped_as_assist_does(site):
    session = site.start(Lastname="<b>O'Neil</b>", OrderComment="Tea <script>x=1</script>",
                         Email="a=b@example.com")
    order = site.order(session.bill)
    assert order.lastname == "bONeilb"
    assert order.comment == "Tea scriptx1/script"
    assert order.email == "ab@example.com"
    assert "<script>" not in session.page.text


def test_payrequest_answers_json_with_a_working_page_url(site):
    resp = site.http.post(site.url + "/pay/payrequest.cfm", data=site.fields(), timeout=30)
    assert_valid(PAYREQUEST, resp.status_code, resp.content)
    body = resp.json()
    assert body["URL"] == body["url"]
    assert body["orderstate"] == "In Process" and body["firstcode"] == 0
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d", body["expirationtime"])
    assert body["url"].startswith(site.url + "/pay/pay.cfm?CFSID=")
    session = site.open(body["url"])
    assert session.page.status_code == 200 and 'name="CardNumber"' in session.page.text
    assert session.bill == body["billnumber"]


def test_payrequest_takes_json_bodies_with_numbers_kept_as_sent(site):
    fields = site.fields(amount="10.30")
    payload = dict(fields, Merchant_ID=int(fields["Merchant_ID"]))
    raw = json.dumps(payload).replace('"10.30"', "10.30")
    resp = site.http.post(site.url + "/pay/payrequest.cfm", data=raw,
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert_valid(PAYREQUEST, resp.status_code, resp.content)
    assert resp.json()["orderstate"] == "In Process", resp.text


def test_payrequest_refusal_is_decline_with_codes(site):
    before = site.order_count()
    resp = site.http.post(site.url + "/pay/payrequest.cfm",
                          data=site.fields(OrderCurrency="EUR"), timeout=30)
    assert_valid(PAYREQUEST, resp.status_code, resp.content)
    body = resp.json()
    assert resp.status_code == 200
    assert (body["orderstate"], body["url"], body["firstcode"], body["secondcode"]) == (
        "Decline", "", 5, 105)
    assert site.order_count() == before


def payrequest_json(site, body) -> dict:
    resp = site.http.post(site.url + "/pay/payrequest.cfm", data=body, timeout=30,
                          headers={"Content-Type": "application/json"})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith(
        "application/json"), resp.text
    assert_valid(PAYREQUEST, resp.status_code, resp.content)
    return resp.json()


@pytest.mark.parametrize("body", ["[" * 30_000 + "]" * 30_000,
                                  '{"a":' * 10_000 + "1" + "}" * 10_000],
                         ids=["arrays", "objects"])
def test_payrequest_refuses_json_nested_past_the_parsers_depth(site, body):
    before = site.order_count()
    answer = payrequest_json(site, body)
    assert (answer["orderstate"], answer["firstcode"], answer["secondcode"]) == (
        "Decline", 4, 0)
    assert site.order_count() == before


@pytest.mark.parametrize("body", ["[" * 50_000 + "]" * 50_000,
                                  '{"a":' * 50_000 + "1" + "}" * 50_000],
                         ids=["arrays", "objects"])
def test_payrequest_refuses_a_body_over_its_limit_unread_in_json(site, body):
    before = site.order_count()
    resp = site.http.post(site.url + "/pay/payrequest.cfm", data=body, timeout=30,
                          headers={"Content-Type": "application/json"})
    assert resp.status_code == 413 and resp.json()["firstcode"] == 17
    assert_valid(PAYREQUEST, resp.status_code, resp.content)
    assert site.order_count() == before


def test_payrequest_refuses_json_text_it_cannot_keep(site):
    before = site.order_count()
    fields = site.fields(merchant=RUB_ONLY)
    lone = json.dumps(dict(fields, OrderNumber="N-\ud800"))  # a lone surrogate, escaped
    answer = payrequest_json(site, lone)
    assert (answer["orderstate"], answer["firstcode"], answer["secondcode"]) == (
        "Decline", 4, 107)
    latin1 = json.dumps(dict(fields, OrderNumber="N-\xff"), ensure_ascii=False)
    answer = payrequest_json(site, latin1.encode("latin-1"))  # not UTF-8
    assert (answer["orderstate"], answer["firstcode"], answer["secondcode"]) == (
        "Decline", 4, 0)
    assert site.order_count() == before


def test_card_page_headers(site):
    session = site.start()
    headers = session.page.headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert f"form-action 'self' {site.shop.url}" in csp
    assert "no-store" in headers["Cache-Control"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "http" not in re.sub(r'(href|src)="/pay/', "", session.page.text.split("<body>")[0])


def test_the_csp_names_the_shop_only_by_an_origin_written_anew(site):
    session = site.start()
    with site.container.uow as uow:  # a return URL kept before such hosts were refused
        uow.orders.get(session.bill).url_return_ok = "https://shop.example;script-src *"
        uow.commit()
    csp = site.http.get(site.url + f"/pay/pay.cfm?CFSID={session.sid}",
                        timeout=30).headers["Content-Security-Policy"]
    assert f"form-action 'self' {site.shop.url};" in csp
    assert f"frame-ancestors 'self' {site.shop.url};" in csp
    assert "*" not in csp and csp.count("script-src") == 1


def test_card_data_in_a_url_is_refused(site):
    session = site.start()
    resp = site.http.get(site.url + "/pay/pay.cfm", params={
        "CFSID": session.sid, "CardNumber": "4111111111111111", "CVC2": "123"}, timeout=30)
    assert resp.status_code == 400
    assert not site.order(session.bill).operations


def test_forged_or_foreign_forms_are_refused(site):
    session = site.start()
    for extra in ({"csrf": ""}, {"csrf": "forged"}, {"csrf": session.csrf().swapcase()}):
        assert session.pay(**extra).status_code == 403
    cross = site.http.post(site.url + "/pay/pay.cfm", timeout=30, allow_redirects=False,
                           headers={"Sec-Fetch-Site": "cross-site"},
                           data={"CFSID": session.sid, "step": "card", "csrf": session.csrf(),
                                 "CardNumber": "4111111111111111", "ExpireMonth": "12",
                                 "ExpireYear": "2030", "Cardholder": "A B", "CVC2": "123"})
    assert cross.status_code == 403
    assert not site.order(session.bill).operations


def test_tampered_session_ids_are_refused(site):
    session = site.start()
    sid = session.sid
    for bad in (sid[:-2] + ("AA" if sid[-2:] != "AA" else "BB"), "x" * 43, "", "%00"):
        resp = site.http.get(site.url + "/pay/pay.cfm", params={"CFSID": bad}, timeout=30)
        assert resp.status_code == 404


def test_concurrent_pay_requests_make_one_authorization(site):
    session = site.start()
    before = len(site.authorizations())
    answers: list[int] = []

    def click():
        answers.append(session.pay(http=requests.Session()).status_code)

    threads = [threading.Thread(target=click) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [303] * 6
    order = site.order(session.bill)
    assert order.state == "Approved" and len(order.operations) == 1
    assert len(site.authorizations()) == before + 1


def test_two_attempts_of_one_order_number_cannot_both_be_paid(site):
    first = site.start()
    number = site.order(first.bill).order_number
    second = site.open(site.order_cfm(site.fields(OrderNumber=number)).headers["Location"])
    assert first.pay().status_code == 303
    refused = second.pay()
    assert refused.status_code == 409 and codes(refused) == (11, 107)
    assert site.order(first.bill).state == "Approved"
    assert site.order(second.bill).state == "In Process" and not site.order(
        second.bill).operations


def test_after_payment_the_page_shows_the_result_not_a_form(site):
    session = site.start()
    assert session.pay().headers["Location"].startswith(site.shop.url + "/ok?billnumber=")
    again = site.open(site.url + f"/pay/pay.cfm?CFSID={session.sid}")
    assert 'name="CardNumber"' not in again.page.text
    assert 'data-state="Approved"' in again.page.text
    # A repeated POST (a refresh) goes to the outcome and authorizes nothing again.
    before = len(site.authorizations())
    repeated = session.pay()
    assert repeated.headers["Location"].startswith(site.shop.url + "/ok?billnumber=")
    assert len(site.order(session.bill).operations) == 1
    assert len(site.authorizations()) == before


def test_two_attempts_paid_at_the_same_moment_make_one_payment(site):
    first = site.start()
    number = site.order(first.bill).order_number
    others = [site.open(site.order_cfm(site.fields(OrderNumber=number)).headers["Location"])
              for _ in range(3)]
    before = len(site.authorizations())
    answers: dict[str, int] = {}

    def pay(session):
        answers[session.bill] = session.pay(http=requests.Session()).status_code

    threads = [threading.Thread(target=pay, args=(s,)) for s in [first] + others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    states = sorted(site.order(s.bill).state for s in [first] + others)
    assert states == ["Approved", "In Process", "In Process", "In Process"]
    assert sorted(answers.values()) == [303, 409, 409, 409]
    assert len(site.authorizations()) == before + 1
