"""The buyer's personal data typed on the card page, against the gateway's application over
real HTTP on both backends: each field's checks (a message beside the field, what was typed
kept on the page, nothing written), and the data of a paid order in every reply the merchant
gets -- ``orderresult`` and ``resultbydate`` in CSV, XML, SOAP and JSON, and result
notifications by POST and by SOAP."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import uuid

import pytest
import requests
from lxml import etree

from assist_ws.services import admin
from assist_ws.services.notifications.outbox import NotifySettings
from assist_ws.web.page_session import PageSessions

ALL = ("lastname,firstname,middlename,email,mobilephone,homephone,workphone,fax,country,"
       "state,city,zip,address")
GOOD = {"Lastname": "Иванов", "Firstname": "Иван", "Middlename": "Иванович",
        "Email": "ivan@example.com", "MobilePhone": "+7 (999) 123-45-67",
        "HomePhone": "8 495 123-45-67", "WorkPhone": "+7 495 765 43 21", "Fax": "84951112233",
        "Country": "ru", "State": "77", "City": "Москва", "Zip": "101000",
        "Address": "ул. Тверская, д. 1, кв. 2"}
#: wire name -> (a value the page refuses, the message beside the field)
BAD = {
    "Lastname": ("<Ivanov>", "These characters are not allowed: &lt; &gt;"),
    "Firstname": ("I" * 71, "At most 70 characters"),
    "Middlename": ("Ivan#ovich", "These characters are not allowed: #"),
    "Email": ("ivan@example", "Enter an e-mail address such as name@example.com"),
    "MobilePhone": ("+7 999", "Enter a phone number of 5 to 15 digits (a + in front is "
                              "allowed)"),
    "HomePhone": ("call me", "Enter a phone number of 5 to 15 digits"),
    "WorkPhone": ("+7 495 123 45 67 ext. 12", "Enter a phone number of 5 to 15 digits"),
    "Fax": ("1234567890123456", "Enter a phone number of 5 to 15 digits"),
    "Country": ("Russia", "At most 3 characters"),
    "State": ("Moscow", "At most 3 characters"),
    "City": ("Mos\x07cow", "These characters are not allowed: U+0007"),
    "Zip": ("1" * 26, "At most 25 characters"),
    "Address": ("ул. Тверская = 1", "These characters are not allowed: ="),
}
CARD = {"CardNumber": "4111 1111 1111 1111", "ExpireMonth": "12", "ExpireYear": "2030",
        "Cardholder": "IVAN IVANOV", "CVC2": "123"}


def set_customer(gw, mid, fields="", required="", editable=False):
    admin.save_merchant(gw.uow, mid, admin.MerchantSettings(
        customer_fields=fields, customer_required=required, customer_editable=editable),
        create=False)


class Buyer:
    """A browser's requests: the shop's authorization request, the card page, "Pay"."""

    def __init__(self, gw, server, mid, lang="EN", **request):
        self.gw, self.server, self.http = gw, server, requests.Session()
        self.number = "CU-" + uuid.uuid4().hex[:12]
        r = self.http.post(server.url + "/pay/order.cfm", data={
            "Merchant_ID": str(mid), "OrderNumber": self.number, "OrderAmount": "42.00",
            "OrderCurrency": "RUB", "Language": lang, **request}, allow_redirects=False,
            timeout=30)
        assert r.status_code == 303, r.text
        self.location = r.headers["Location"]
        self.sid = re.search(r"CFSID=([^&]+)", self.location).group(1)
        self.bill = PageSessions(gw.settings.secret()).bill_number(self.sid)
        self.page = self.http.get(server.url + self.location, timeout=30).text

    def pay(self, **fields) -> requests.Response:
        csrf = re.search(r'name="csrf" value="([^"]+)"', self.page).group(1)
        r = self.http.post(self.server.url + "/pay/pay.cfm", data={
            "CFSID": self.sid, "step": "card", "csrf": csrf, **CARD, **fields},
            allow_redirects=False, timeout=30)
        if r.status_code == 422:
            self.page = r.text
        return r

    def order(self):
        with self.gw.uow.reader() as r:
            return r.orders.get(self.bill)


def error_beside(page: str, wire: str) -> str | None:
    """The message in the field's own block, tied to its input (``aria-describedby``)."""
    found = re.search(rf'<input id="{wire}"[^>]*aria-describedby="error-{wire}"[^>]*>\s*'
                      rf'<p class="error" id="error-{wire}" role="alert">([^<]*)</p>', page) \
        or re.search(rf'<textarea id="{wire}"[^>]*aria-describedby="error-{wire}"[^>]*>'
                     rf'[^<]*</textarea>\s*<p class="error" id="error-{wire}" role="alert">'
                     rf'([^<]*)</p>', page)
    return found.group(1) if found else None


def value_of(page: str, wire: str) -> str:
    found = re.search(rf'<input id="{wire}"[^>]* value="([^"]*)"', page) or re.search(
        rf'<textarea id="{wire}"[^>]*>([^<]*)</textarea>', page)
    return html.unescape(found.group(1))


@pytest.fixture
def asking(gw, shops):
    """Merchant A of ``shops`` (notified at the test's endpoint), asking for every field."""
    set_customer(gw, shops.a, ALL)
    return shops.a


# -- each field's checks ------------------------------------------------------------------
@pytest.mark.parametrize("wire", list(BAD))
def test_a_bad_value_gets_its_message_beside_the_field_and_nothing_is_written(
        gw, server, asking, wire):
    buyer = Buyer(gw, server, asking)
    typed = dict(GOOD, **{wire: BAD[wire][0]})
    r = buyer.pay(**typed)
    assert r.status_code == 422
    message = error_beside(r.text, wire)
    assert message is not None and message.startswith(BAD[wire][1]), message
    assert len(re.findall(r'<p class="error"', r.text)) == 1
    for other, value in typed.items():  # what the buyer typed comes back, card data not
        if "\x07" not in value:
            assert value_of(r.text, other) == value
    assert 'name="CardNumber"' in r.text and "4111 1111" not in r.text
    assert 'value="123"' not in r.text
    order = buyer.order()
    assert order.operations == [] and order.state == "In Process"
    assert order.customer == type(order.customer)()  # no field written


def test_the_page_speaks_russian_too(gw, server, asking):
    buyer = Buyer(gw, server, asking, lang="RU")
    assert "Данные покупателя" in buyer.page and "Электронная почта" in buyer.page
    r = buyer.pay(**dict(GOOD, Email="ivan@", Country="Россия"))
    assert error_beside(r.text, "Email") == ("Введите адрес электронной почты, например "
                                             "name@example.com")
    assert error_beside(r.text, "Country") == "Не более 3 символов"


def test_card_errors_and_field_errors_come_together(gw, server, asking):
    set_customer(gw, asking, ALL, "email")
    buyer = Buyer(gw, server, asking)
    r = buyer.pay(**dict(GOOD, Email="", CardNumber="4111 1111 1111 1112"))
    assert r.status_code == 422
    assert error_beside(r.text, "Email") == "Please fill in this field"
    assert 'id="error-CardNumber"' in r.text
    assert buyer.order().operations == []


def test_a_required_field_the_form_left_out_blocks_the_payment_on_the_page(gw, server, shops):
    set_customer(gw, shops.a, "", "email")
    buyer = Buyer(gw, server, shops.a)
    assert re.search(r'<input id="Email" name="Email" type="email" inputmode="email" '
                     r'autocomplete="email"[^>]* required aria-required="true"', buyer.page)
    r = buyer.pay()  # a form without the field (an older page, a script)
    assert r.status_code == 422 and error_beside(r.text, "Email") == \
        "Please fill in this field"
    assert buyer.order().operations == []


# -- the data of a paid order, everywhere the shop's data go ------------------------------
def _post(server, name, creds, **fields):
    r = requests.post(server.cfm(name), data={
        "Merchant_ID": str(creds["merchant_id"]), "Login": creds["login"],
        "Password": creds["password"], **fields}, timeout=30)
    assert r.status_code == 200, r.text
    return r


def _rows(fmt: str, content: bytes, row: str) -> list[dict]:
    """Each ``row`` of a reply as {field: value}, whatever the format."""
    if fmt == "1":
        lines = list(csv.reader(io.StringIO(content.decode("utf-8")), delimiter=";"))
        return [dict(zip(lines[0], values)) for values in lines[1:]]
    if fmt == "5":  # {"orderresult": {"orders": [...]}}, {"resultbydate": {"operations": ...
        [[found]] = [value.values() for value in json.loads(content).values()]
        return [dict(r, **r.get("customer", {})) for r in found]
    root = etree.fromstring(content)
    return [{etree.QName(c).localname: c.text or "" for c in el}
            for el in root.iter() if etree.QName(el).localname == row]


def _names(row: dict) -> tuple[str, ...]:
    return tuple(row.get(k) or "" for k in ("lastname", "firstname", "middlename", "email"))


@pytest.mark.parametrize("fmt", ["1", "3", "4", "5"])
def test_the_buyers_data_are_in_every_reply_format(gw, server, asking, shops, fmt):
    buyer = Buyer(gw, server, asking, Lastname="Петров")  # the shop sent one field
    assert re.search(r'<dd id="customer-Lastname">Петров</dd>', buyer.page)
    assert 'id="Lastname"' not in buyer.page  # shown, not asked again
    r = buyer.pay(Firstname="Пётр", Middlename="", Email="petr@example.com",
                  Lastname="Forged")
    assert r.status_code == 303, r.text
    order = buyer.order()
    assert order.state == "Approved"
    expected = ("Петров", "Пётр", "", "petr@example.com")
    creds = shops.creds()
    [found] = [r for r in _rows(fmt, _post(server, "orderresult", creds, Format=fmt,
                                           OrderNumber=buyer.number).content, "order")]
    assert _names(found) == expected
    rows = _rows(fmt, _post(server, "resultbydate", creds, Format=fmt).content, "operation")
    [found] = [r for r in rows if r.get("billnumber") == f"{buyer.bill}.1"]
    assert _names(found) == expected


def test_the_buyers_data_are_in_post_and_soap_notifications(gw, server, asking, shops):
    paid = []
    for protocol in ("post", "soap"):  # the protocol is the merchant's when it is sent
        admin.save_merchant(gw.uow, asking, admin.MerchantSettings(
            notify=NotifySettings(protocol=protocol)), create=False,
            check_notify_url=shops.worker.notifier.check_url)
        buyer = Buyer(gw, server, asking)
        assert buyer.pay(**GOOD).status_code == 303
        paid.append(buyer.bill)
        assert shops.deliver() == 1
    post, soap = shops.endpoint.received
    assert post.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert post.form["billnumber"] == paid[0]
    assert _names(post.form) == ("Иванов", "Иван", "Иванович", "ivan@example.com")
    assert soap.headers["content-type"].startswith("text/xml")
    order = next(el for el in soap.xml.iter() if etree.QName(el).localname == "order")
    values = {etree.QName(c).localname: c.text for c in order}
    assert values["billnumber"] == paid[1]
    assert _names(values) == ("Иванов", "Иван", "Иванович", "ivan@example.com")
    with gw.uow.reader() as r:  # the order keeps every field typed, as the pages took it
        kept = r.orders.get(paid[1])
    assert (kept.mobile_phone, kept.home_phone, kept.work_phone, kept.fax) == (
        "+79991234567", "84951234567", "+74957654321", "84951112233")
    assert (kept.country, kept.region, kept.city, kept.zip, kept.address) == (
        "RU", "77", "Москва", "101000", "ул. Тверская, д. 1, кв. 2")
