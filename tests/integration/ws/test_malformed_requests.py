"""Requests as careless or hostile clients write them, against the running server on both
backends: each gets a SOAP fault or an Assist error in the asked format, never an HTML 500,
and changes nothing — SOAP envelopes the service cannot take, bodies that are not UTF-8,
JSON nested past the parser's depth, numbers in other scripts' digits, characters XML cannot
carry.  And replies stay well-formed XML whatever the database holds."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
import requests
from lxml import etree
from sqlalchemy import delete, insert, select
from werkzeug.test import Client

from assist_ws.db.tables import operations, orders
from assist_ws.soap.wire import NS

from ...openapi_check import json_status
from ..conftest import MERCHANT
from .conftest import PASSWORD

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
AUTH = {"Merchant_ID": str(MERCHANT), "Login": "erp_user", "Password": PASSWORD}
CREDS = (f"<ws:merchant_id>{MERCHANT}</ws:merchant_id><ws:login>erp_user</ws:login>"
         f"<ws:password>{PASSWORD}</ws:password>")


def envelope(inner: str, ns: str = SOAP_ENV, encoding: str = "UTF-8") -> bytes:
    return (f'<?xml version="1.0" encoding="{encoding}"?><soapenv:Envelope '
            f'xmlns:soapenv="{ns}" xmlns:ws="{NS}"><soapenv:Body>{inner}</soapenv:Body>'
            f'</soapenv:Envelope>').encode()


def soap(server, name: str, body: bytes, headers: dict | None = None) -> requests.Response:
    return requests.post(server.cfm(name), data=body, timeout=30, headers=headers or {
        "Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{NS}{name}"'})


def fault(r: requests.Response) -> tuple[int, int, str, str]:
    """(firstcode, secondcode, faultcode, message) of a SOAP fault."""
    assert r.status_code == 500 and r.headers["Content-Type"].startswith("text/xml"), r.text
    root = etree.fromstring(r.content)
    detail = root.find(f".//{{{NS}}}AssistFault")
    return (int(detail.findtext(f"{{{NS}}}firstcode")),
            int(detail.findtext(f"{{{NS}}}secondcode")), root.findtext(".//faultcode"),
            detail.findtext(f"{{{NS}}}message"))


def xml_codes(r: requests.Response) -> tuple[int, int]:
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/xml"), r.text
    root = etree.fromstring(r.content)
    return int(root.get("firstcode")), int(root.get("secondcode"))


def json_codes(r: requests.Response) -> tuple[int, int]:
    """The codes of a JSON refusal, which comes with the status of its kind."""
    assert r.headers["Content-Type"].startswith("application/json"), r.text
    doc = r.json()
    assert r.status_code == json_status(doc["firstcode"]), r.text
    return doc["firstcode"], doc["secondcode"]


ORDERSTATE = f"<ws:orderstate><ws:ordernumber>N-1</ws:ordernumber>{CREDS}</ws:orderstate>"
UTF7 = envelope(ORDERSTATE).replace(b"UTF-8", b"UTF-7")


@pytest.mark.parametrize("body,faultcode,words", [
    (envelope(""), "Client", "no request element"),
    (envelope("just some text"), "Client", "no request element"),
    (envelope(ORDERSTATE, ns=SOAP12_ENV), "VersionMismatch", "SOAP 1.1"),
    (envelope(f"<ws:charge><ws:billnumber>1234567890123456</ws:billnumber>{CREDS}"
              f"</ws:charge>"), "Client", "not charge"),
    (b"\xef\xbb\xbf" + UTF7, "Client", "UTF-7"),
    (envelope(ORDERSTATE.replace("N-1", "N-\xff")).replace(b"\xc3\xbf", b"\xff"), "Client",
     "not UTF-8"),
], ids=["empty Body", "text in Body", "SOAP 1.2", "another service's operation",
        "BOM and UTF-7", "not UTF-8"])
def test_envelopes_the_service_cannot_take_get_a_fault(gw, server, body, faultcode, words):
    first, second, code, message = fault(soap(server, "orderstate", body))
    assert (first, second, code) == (4, 215, f"soap11env:{faultcode}")
    assert words in message


def test_a_soap_body_without_a_content_type_is_answered_as_soap(gw, server):
    client = Client(server.httpd.app)  # a WSGI environ without CONTENT_TYPE at all
    r = client.post("/orderstate/orderstate.cfm", data=envelope(ORDERSTATE))
    assert r.status_code == 500 and b"<faultcode>soap11env:Client</faultcode>" in r.data
    assert b"<tns:secondcode>201</tns:secondcode>" in r.data


@pytest.mark.parametrize("element,value,code", [
    ("merchant_id", "１００００１", 100), ("amount", "１００", 108), ("amount", "١٠٠", 108),
    ("amount", "1e999999", 108),  # not an xs:decimal; as a Decimal, a million digits
])
def test_soap_numbers_are_written_in_ascii_digits(gw, server, element, value, code):
    fields = {"billnumber": "1234567890123456", "merchant_id": str(MERCHANT),
              "login": "erp_user", "password": PASSWORD, "amount": "1.00", "currency": "RUB"}
    fields[element] = value
    inner = "".join(f"<ws:{k}>{v}</ws:{k}>" for k, v in fields.items())
    r = soap(server, "charge", envelope(f"<ws:charge>{inner}</ws:charge>"))
    first, second, _, message = fault(r)
    assert (first, second) == (4, code) and "malformed" in message
    assert len(r.content) < 2000


@pytest.mark.parametrize("fields,code", [
    ({"Merchant_ID": "²"}, 100), ({"Merchant_ID": "１００００１"}, 100),
    ({"Amount": "١٠٠", "Currency": "RUB"}, 108), ({"Amount": "１００", "Currency": "RUB"}, 108),
    ({"StartYear": "2026", "StartMonth": "¹", "StartDay": "1"}, 129),
])
@pytest.mark.parametrize("fmt", ["1", "3", "4"])
def test_form_numbers_are_written_in_ascii_digits(gw, server, fields, code, fmt):
    data = dict(AUTH, Billnumber="1234567890123456", Format=fmt, **fields)
    r = requests.post(server.cfm("charge" if "Amount" in fields else "orderstate"),
                      data=dict(data, Ordernumber="N-1"), timeout=30)
    if fmt == "4":
        assert fault(r)[:2] == (4, code)
    elif fmt == "3":
        assert xml_codes(r) == (4, code)
    else:
        assert r.status_code == 200 and r.text.splitlines()[1].startswith(f"4;{code};")


@pytest.mark.parametrize("value", ["N\x00", "N\x01", "N\x1b[31m", "N\ufffe"])
@pytest.mark.parametrize("fmt", ["3", "4", "5", "json"])
def test_parameters_xml_cannot_carry_are_refused_naming_the_field(gw, server, value, fmt):
    fields = dict(AUTH, Ordernumber=value)
    if fmt == "json":
        r = requests.post(server.cfm("orderstate"), data=json.dumps(fields), timeout=30,
                          headers={"Content-Type": "application/json"})
        assert json_codes(r) == (4, 107) and "Ordernumber" in r.json()["message"]
        return
    r = requests.post(server.cfm("orderstate"), data=dict(fields, Format=fmt), timeout=30)
    if fmt == "4":
        first, second, _, message = fault(r)
        assert (first, second) == (4, 107) and "Ordernumber" in message
    elif fmt == "3":
        assert xml_codes(r) == (4, 107) and "Ordernumber" in r.text
    else:
        assert json_codes(r) == (4, 107)


def test_a_lone_surrogate_in_json_is_refused(gw, server):
    body = '{"Merchant_ID": "%s", "Login": "erp_user", "Password": "%s", ' \
           '"Ordernumber": "N-\\ud800"}' % (MERCHANT, PASSWORD)
    r = requests.post(server.cfm("orderstate"), data=body, timeout=30,
                      headers={"Content-Type": "application/json"})
    assert json_codes(r) == (4, 107)


@pytest.mark.parametrize("body,status,codes,words", [
    ("[" * 50_000 + "]" * 50_000, 400, (4, 0), "nested"),
    ('{"a":' * 40_000 + "1" + "}" * 40_000, 400, (4, 0), "nested"),
    ('{"a":' * 50_000 + "1" + "}" * 50_000, 413, (17, 0), "at most"),  # over 256 KiB
], ids=["arrays", "objects", "objects over the size limit"])
def test_json_nested_past_the_parsers_depth_is_refused(gw, server, body, status, codes,
                                                        words):
    r = requests.post(server.cfm("orderstate"), data=body, timeout=30,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == status and r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert (doc["firstcode"], doc["secondcode"]) == codes and words in doc["message"]


def test_a_body_over_the_size_limit_is_refused_unread(gw, server):
    big = "x" * 300_000
    r = soap(server, "orderstate", envelope(ORDERSTATE.replace("N-1", big)))
    assert r.status_code == 413 and "at most 262144 bytes" in r.text
    r = requests.post(server.cfm("orderstate"), data=dict(AUTH, Ordernumber=big, Format="3"),
                      timeout=30)
    assert r.status_code == 413 and r.headers["Content-Type"].startswith("text/plain")


# -- replies stay well-formed whatever the database holds -------------------------------------
@pytest.fixture
def unfit_orders(gw):
    """Two orders of MERCHANT written straight into the tables with values XML cannot hold
    (as rows from before such values were refused): one in its order number, the other
    where an order result shows it.  Each has a declined pay operation."""
    now = gw.clock.now()
    tag = uuid.uuid4().hex[:10]
    rows = [(f"CTL\x01{tag}", "tea", None), (f"CTL-{tag}", "tea\x01time", "Ivan\x02")]
    ids = []
    with gw.engine.begin() as conn:
        for i, (number, comment, lastname) in enumerate(rows):
            order_id = conn.execute(insert(orders).values(
                bill_number=str(8_100_000_000_000_000 + int(tag[:8], 16) * 10 + i),
                merchant_id=MERCHANT, order_number=number, amount=Decimal("10.00"),
                currency="RUB", delay=False, language="RU", state="Declined",
                payment_means=["card"], test_mode=False, created_at=now, updated_at=now,
                comment=comment, lastname=lastname)).inserted_primary_key[0]
            conn.execute(insert(operations).values(
                order_id=order_id, number=1, type=100, state="Declined",
                amount=Decimal("10.00"), currency="RUB", means="card",
                response_code="AS100", message="declined\x0b", auto_deposit=False,
                created_at=now))
            ids.append(order_id)
    yield rows[1][0], rows[0][0]
    with gw.engine.begin() as conn:
        conn.execute(delete(operations).where(operations.c.order_id.in_(ids)))
        conn.execute(delete(orders).where(orders.c.id.in_(ids)))


def test_replies_are_well_formed_whatever_the_rows_hold(gw, server, unfit_orders):
    number, unfit_number = unfit_orders
    r = requests.post(server.cfm("orderresult"), timeout=30,
                      data=dict(AUTH, Ordernumber=number, Format="3"))
    root = etree.fromstring(r.content)
    assert root.findtext(".//ordercomment") == "tea\ufffdtime"
    assert root.findtext(".//lastname") == "Ivan\ufffd"
    assert root.findtext(".//operation/message") == "declined\ufffd"
    r = soap(server, "orderresult", envelope(
        f"<ws:orderresult><ws:ordernumber>{number}</ws:ordernumber>{CREDS}"
        f"</ws:orderresult>"))
    assert r.status_code == 200, r.text
    assert etree.fromstring(r.content).findtext(f".//{{{NS}}}ordercomment") == "tea\ufffdtime"
    expected = unfit_number.replace("\x01", "\ufffd")
    r = requests.post(server.cfm("resultbydate"), timeout=30, data=dict(AUTH, Format="3"))
    found = [el.text for el in etree.fromstring(r.content).iter("ordernumber")]
    assert expected in found and number in found
    r = soap(server, "resultbydate", envelope(f"<ws:resultbydate>{CREDS}</ws:resultbydate>"))
    found = [el.text for el in etree.fromstring(r.content).iter(f"{{{NS}}}ordernumber")]
    assert expected in found and number in found
    with gw.engine.connect() as conn:  # nothing was changed by reading
        assert conn.scalar(select(orders.c.comment).where(
            orders.c.order_number == number)) == "tea\x01time"


@pytest.mark.parametrize("field,code", [("OrderNumber", 107), ("OrderComment", 110),
                                        ("Lastname", 117), ("City", 123)])
def test_the_same_values_from_a_shop_are_refused(gw, server, field, code):
    fields = {"Merchant_ID": str(MERCHANT), "OrderNumber": f"CTL-{uuid.uuid4().hex[:10]}",
              "OrderAmount": "10.00", "OrderCurrency": "RUB", "Language": "EN"}
    fields[field] = fields.get(field, "") + "x\x01y"
    with gw.engine.connect() as conn:
        before = conn.scalar(select(orders.c.id).order_by(orders.c.id.desc()).limit(1))
    r = requests.post(server.url + "/pay/order.cfm", data=fields, timeout=30,
                      allow_redirects=False)
    assert r.status_code == 400
    assert f'data-firstcode="4" data-secondcode="{code}"' in r.text and field in r.text
    r = requests.post(server.url + "/pay/payrequest.cfm", data=json.dumps(fields), timeout=30,
                      headers={"Content-Type": "application/json"})
    assert r.json()["orderstate"] == "Decline"
    assert (r.json()["firstcode"], r.json()["secondcode"]) == (4, code)
    with gw.engine.connect() as conn:
        assert conn.scalar(select(orders.c.id).order_by(orders.c.id.desc()).limit(1)) == before
