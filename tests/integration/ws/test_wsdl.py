"""The WSDLs: served ones equal the committed ones under ``wsdl/``; they follow WS-I Basic
Profile 1.1 (document/literal, one ``element=`` part per message, typed faults, unique names);
mandatory fields are mandatory; the embedded schemas compile; and replies validate."""

from __future__ import annotations

import pathlib
from collections import Counter

import pytest
import requests
import xmlschema
from lxml import etree

from assist_ws.bootstrap import build
from assist_ws.config import Settings
from assist_ws.domain.cards import parse_card
from assist_ws.services.orders import AuthorizationRequest, create_order
from assist_ws.services.payment import OrderTimedOut
from assist_ws.soap.services import SERVICES, committed_name
from assist_ws.wsgi import create_app

from ...merchant_endpoint import Answer
from ..conftest import MERCHANT
from .conftest import PASSWORD, paid_order

ROOT = pathlib.Path(__file__).resolve().parents[3]
W = "http://schemas.xmlsoap.org/wsdl/"
S = "http://schemas.xmlsoap.org/wsdl/soap/"
XS = "http://www.w3.org/2001/XMLSchema"
NS = "http://www.paysecure.ru/ws/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PATHS = [s.path for s in SERVICES]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    db = tmp_path_factory.mktemp("wsdl") / "none.db"
    container = build(Settings(database_url=f"sqlite:///{db}", secret_key="x",
                               var_dir=str(db.parent)))
    yield create_app(container).test_client()
    container.close()


def served(client, path: str) -> bytes:
    r = client.get(path + ".wsdl", base_url="http://gateway.example:8443")
    assert r.status_code == 200 and r.content_type.startswith("text/xml")
    return r.data


@pytest.mark.parametrize("path", PATHS)
def test_served_wsdl_equals_the_committed_one(client, path):
    body = served(client, path)
    committed = (ROOT / "wsdl" / committed_name(path)).read_bytes()
    assert f'location="http://gateway.example:8443{path}.cfm"'.encode() in body
    normalized = body.replace(b"http://gateway.example:8443", b"http://127.0.0.1:8080")
    assert normalized == committed, f"run scripts/regen-wsdl and commit wsdl/{path}"
    also = client.get(path + ".cfm?wsdl", base_url="http://gateway.example:8443")
    assert also.status_code == 200 and also.data == body


@pytest.mark.parametrize("path", PATHS)
def test_wsdl_follows_ws_i_basic_profile(client, path):
    root = etree.fromstring(served(client, path))
    assert root.get("targetNamespace") == NS
    schema = root.find(f"{{{W}}}types/{{{XS}}}schema")
    for message in root.findall(f"{{{W}}}message"):
        parts = message.findall(f"{{{W}}}part")
        assert len(parts) == 1 and parts[0].get("element") and not parts[0].get("type")
    binding = root.find(f"{{{W}}}binding")
    soap_binding = binding.find(f"{{{S}}}binding")
    assert soap_binding.get("style") == "document"
    assert soap_binding.get("transport") == "http://schemas.xmlsoap.org/soap/http"
    for op in binding.findall(f"{{{W}}}operation"):
        assert op.find(f"{{{S}}}operation").get("soapAction") == NS + op.get("name")
        for body in op.iter(f"{{{S}}}body"):
            assert body.get("use") == "literal"
        [fault] = op.findall(f"{{{W}}}fault")
        assert fault.get("name") == "AssistFault"
        assert fault.find(f"{{{S}}}fault").get("use") == "literal"
        assert fault.find(f"{{{S}}}fault").get("name") == "AssistFault"
    for op in root.find(f"{{{W}}}portType").findall(f"{{{W}}}operation"):
        assert op.find(f"{{{W}}}fault").get("message") == "tns:AssistFault"
    for kind in ("element", "complexType", "simpleType"):
        names = Counter(e.get("name") for e in schema.findall(f"{{{XS}}}{kind}"))
        assert all(n == 1 for n in names.values()), names
    fault_type = schema.find(f"{{{XS}}}complexType[@name='AssistFault']")
    assert [e.get("name") for e in fault_type.iter(f"{{{XS}}}element")] == [
        "firstcode", "secondcode", "message"]


@pytest.mark.parametrize("path", PATHS)
def test_mandatory_fields_are_declared_mandatory(client, path):
    schema = etree.fromstring(served(client, path)).find(f"{{{W}}}types/{{{XS}}}schema")
    root = etree.fromstring(served(client, path))
    request = root.find(f"{{{W}}}portType/{{{W}}}operation/{{{W}}}input").get("message")
    element = root.find(f"{{{W}}}message[@name='{request.split(':')[1]}']/{{{W}}}part"
                        ).get("element").split(":")[1]
    type_name = schema.find(f"{{{XS}}}element[@name='{element}']").get("type").split(":")[1]
    fields = {e.get("name"): e for e in
              schema.find(f"{{{XS}}}complexType[@name='{type_name}']").iter(f"{{{XS}}}element")}
    for name in ("merchant_id", "login", "password"):
        assert fields[name].get("minOccurs") in (None, "1")
        assert fields[name].get("nillable") in (None, "false")
    assert fields["login"].get("minOccurs") is None
    optional = [n for n, e in fields.items() if e.get("minOccurs") == "0"]
    assert optional and all(fields[n].get("nillable") in (None, "false") for n in fields)
    amount = schema.find(f"{{{XS}}}simpleType[@name='Amount']/{{{XS}}}restriction")
    assert (amount is None) == path.startswith("/notification/")  # no money in those
    if amount is not None:
        assert amount.get("base") == "xs:decimal"
        assert amount.find(f"{{{XS}}}fractionDigits").get("value") == "3"
    times = [e for e in schema.iter(f"{{{XS}}}element") if e.get("name") in (
        "packetdate", "operationdate", "createdate", "lasttrydate", "nexttrydate")]
    assert times and all(e.get("type") == "xs:dateTime" for e in times)


def _schema(wsdl: bytes) -> xmlschema.XMLSchema10:
    root = etree.fromstring(wsdl)
    schema = root.find(f"{{{W}}}types/{{{XS}}}schema")
    return xmlschema.XMLSchema10(etree.tostring(schema).decode())


@pytest.mark.parametrize("path", PATHS)
def test_embedded_schema_compiles(client, path):
    schema = _schema(served(client, path))
    assert schema.elements and f"{{{NS}}}AssistFault" in schema.maps.elements


def test_replies_and_faults_validate_against_the_wsdl(gw, server):
    """The streamed results-by-date reply (written by hand, not by Spyne) and a fault detail
    are what the schema declares."""
    paid_order(gw, "19.00")
    schema = _schema(requests.get(server.wsdl("resultbydate"), timeout=10).content)
    body = (f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:ws="{NS}"><soapenv:Body>'
            f"<ws:resultbydate><ws:merchant_id>{MERCHANT}</ws:merchant_id><ws:login>erp_user"
            f"</ws:login><ws:password>{{}}</ws:password></ws:resultbydate></soapenv:Body>"
            f"</soapenv:Envelope>")
    r = requests.post(server.cfm("resultbydate"), data=body.format(PASSWORD).encode(),
                      headers={"Content-Type": "text/xml"}, timeout=30)
    assert r.status_code == 200
    reply = etree.fromstring(r.content).find(f"{{{SOAP_ENV}}}Body")[0]
    assert reply.tag == f"{{{NS}}}resultbydateResponse" and len(reply[0]) >= 1
    schema.validate(etree.tostring(reply).decode())
    r = requests.post(server.cfm("resultbydate"), data=body.format("Wrong1234").encode(),
                      headers={"Content-Type": "text/xml"}, timeout=30)
    detail = etree.fromstring(r.content).find(f".//{{{NS}}}AssistFault")
    schema.validate(etree.tostring(detail).decode())


def test_every_soap_reply_validates_against_its_wsdl(gw, server, zeep_clients):
    """The replies are written by our own writer: each is exactly what its WSDL declares."""
    number, bill = paid_order(gw, "29.00", delay=True)
    auth = (f"<ws:merchant_id>{MERCHANT}</ws:merchant_id><ws:login>erp_user</ws:login>"
            f"<ws:password>{PASSWORD}</ws:password>")
    calls = [
        ("orderstate", f"<ws:orderstate><ws:ordernumber>{number}</ws:ordernumber>{auth}"
                       f"</ws:orderstate>"),
        ("charge", f"<ws:charge><ws:billnumber>{bill}</ws:billnumber>{auth}<ws:amount>20.00"
                   f"</ws:amount><ws:currency>RUB</ws:currency></ws:charge>"),
        ("orderresult", f"<ws:orderresult><ws:ordernumber>{number}</ws:ordernumber>{auth}"
                        f"</ws:orderresult>"),
        ("cancel", f"<ws:cancel><ws:billnumber>{bill}</ws:billnumber>{auth}<ws:amount>5.00"
                   f"</ws:amount><ws:currency>RUB</ws:currency></ws:cancel>"),
        ("wscancel", f"<ws:WSCancelRequestParams><ws:billnumber>{bill}</ws:billnumber>{auth}"
                     f"<ws:externalrefundid>ext-{bill}</ws:externalrefundid>"
                     f"</ws:WSCancelRequestParams>"),
    ]
    for name, inner in calls:
        schema = _schema(requests.get(server.wsdl(name), timeout=10).content)
        envelope = (f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:ws="{NS}">'
                    f"<soapenv:Body>{inner}</soapenv:Body></soapenv:Envelope>")
        r = requests.post(server.cfm(name), data=envelope.encode(),
                          headers={"Content-Type": "text/xml"}, timeout=30)
        assert r.status_code == 200, (name, r.text)
        reply = etree.fromstring(r.content).find(f"{{{SOAP_ENV}}}Body")[0]
        schema.validate(etree.tostring(reply).decode())
        request = etree.fromstring(envelope).find(f"{{{SOAP_ENV}}}Body")[0]
        schema.validate(etree.tostring(request).decode())   # and so was the request


def test_notification_replies_validate_against_their_wsdls(gw, server, shops):
    """Replay and undelivered notifications, with their optional fields present (a result
    with an operation, tried) and absent (the buyer's timeout, never tried), their requests
    and a fault: each is what its WSDL declares."""
    shops.endpoint.default = Answer(500, b"down")
    number, bill = paid_order(gw, "39.00", merchant=shops.a)
    assert shops.deliver() == 1
    timed_out = create_order(gw.uow, gw.clock, AuthorizationRequest(
        str(shops.a), "LATE-" + bill, "7.00", "RUB"))
    gw.clock.move(minutes=25)
    with pytest.raises(OrderTimedOut):
        gw.pay_by_card(timed_out.bill_number, parse_card(
            "4111111111111111", "12", "2030", "TEST HOLDER", "123", gw.clock.now()))
    c = shops.creds()
    auth = (f"<ws:merchant_id>{c['merchant_id']}</ws:merchant_id><ws:login>{c['login']}"
            f"</ws:login><ws:password>{{}}</ws:password>")
    calls = [
        ("undelivered", f"<ws:undelivered>{auth}</ws:undelivered>", 2),
        ("replay", f"<ws:replay>{auth}<ws:ordernumber>{number}</ws:ordernumber></ws:replay>",
         1),
        ("replay", f"<ws:replay>{auth}<ws:billnumber>{timed_out.bill_number}</ws:billnumber>"
                   f"</ws:replay>", 1),
    ]
    for name, inner, count in calls:
        schema = _schema(requests.get(server.wsdl(name), timeout=10).content)
        envelope = (f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:ws="{NS}">'
                    f"<soapenv:Body>{inner}</soapenv:Body></soapenv:Envelope>")
        r = requests.post(server.cfm(name), data=envelope.format(c["password"]).encode(),
                          headers={"Content-Type": "text/xml"}, timeout=30)
        assert r.status_code == 200, (name, r.text)
        reply = etree.fromstring(r.content).find(f"{{{SOAP_ENV}}}Body")[0]
        assert len(reply[0]) == count, r.text
        schema.validate(etree.tostring(reply).decode())
        request = etree.fromstring(envelope.format(c["password"])).find(f"{{{SOAP_ENV}}}Body")[0]
        schema.validate(etree.tostring(request).decode())
        r = requests.post(server.cfm(name), data=envelope.format("Wrong1234").encode(),
                          headers={"Content-Type": "text/xml"}, timeout=30)
        assert r.status_code == 500
        schema.validate(etree.tostring(etree.fromstring(r.content).find(
            f".//{{{NS}}}AssistFault")).decode())
    listed = etree.fromstring(requests.post(
        server.cfm("undelivered"), data=(
            f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:ws="{NS}"><soapenv:Body>'
            f'{calls[0][1].format(c["password"])}</soapenv:Body></soapenv:Envelope>').encode(),
        headers={"Content-Type": "text/xml"}, timeout=30).content)
    tried, late = listed.iter(f"{{{NS}}}notification")
    assert tried.find(f"{{{NS}}}lasthttpstatus") is not None
    assert tried.find(f"{{{NS}}}operationstate") is not None
    for absent in ("lasthttpstatus", "lasttrydate", "operationstate", "operationbillnumber"):
        assert late.find(f"{{{NS}}}{absent}") is None, absent
