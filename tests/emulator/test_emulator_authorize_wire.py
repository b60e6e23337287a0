"""Authorize without Zeep or Spyne, on both sides of the wire: the emulator's fast path
answers exactly as its Spyne service does (answers and faults); the gateway's
``authorize_wire`` writes the request Zeep writes (the center takes the same request id from
Zeep afterwards as the same request) and reads every kind of answer."""

from __future__ import annotations

import io
import socket
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from assist_ws.domain.cards import CardData
from assist_ws.domain.model import ProcessingCenter
from assist_ws.domain.money import Money
from assist_ws.domain.ports import Outcome
from assist_ws.emulator import EmulatorConfig
from assist_ws.emulator.server import EmulatorApp
from assist_ws.processing import SoapProcessingGateway, Timeouts, authorize_wire
from assist_ws.processing.wire import BrokenAnswer

TNS = "{urn:assist-ws:processing:1}"
WSDL = Path(__file__).resolve().parents[2] / "wsdl" / "processing.wsdl"


def _post(app, body: bytes) -> tuple[str, bytes]:
    env = {"REQUEST_METHOD": "POST", "PATH_INFO": "/emulator-rub", "QUERY_STRING": "",
           "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "text/xml; charset=utf-8",
           "wsgi.input": io.BytesIO(body), "SERVER_NAME": "test", "SERVER_PORT": "80",
           "wsgi.url_scheme": "http"}
    got = {}
    out = app(env, lambda status, headers, exc_info=None: got.setdefault("status", status))
    return got["status"], b"".join(out)


def _result(payload: bytes) -> list[tuple[str, str]]:
    result = etree.fromstring(payload).find(f".//{TNS}AuthorizeResult")
    return [(child.tag, child.text) for child in result]


def _fault(payload: bytes) -> tuple[str, str]:
    root = etree.fromstring(payload)
    return root.findtext(".//faultcode").split(":")[-1], root.findtext(".//faultstring")


@pytest.fixture
def apps(emulator):
    """The running emulator's ledger file behind two apps: the fast path and Spyne only."""
    config = EmulatorConfig(str(emulator.data_path), late_seconds=0)
    fast, spyne = EmulatorApp(config), EmulatorApp(config, fast_authorize=False)
    yield fast, spyne
    fast.close()
    spyne.close()


def _card(number="4111111111111111", holder="IVAN IVANOV", month=12, year=None, cvc="123"):
    from datetime import datetime, timezone
    return CardData(number, month, year or datetime.now(timezone.utc).year + 1, holder, cvc)


def _body(rid, card=None, amount="10.00", currency="RUB"):
    return authorize_wire.request_body(rid, card or _card(), Money(Decimal(amount), currency))


# -- the emulator's side ------------------------------------------------------------------
@pytest.mark.parametrize("number", ["4111111111111111", "4000000000000002", "4000000000009995",
                                    "4111111111111112", "4000000000000119"])
def test_fast_path_answers_as_spyne_does(emulator, apps, number):
    fast, spyne = apps
    for first, second in ((fast, spyne), (spyne, fast)):
        rid = emulator.rid("w")
        status, answer = _post(first, _body(rid, _card(number)))
        assert status.startswith("200")
        again_status, again = _post(second, _body(rid, _card(number)))  # the stored answer
        assert again_status.startswith("200")
        assert _result(answer) == _result(again)
    fields = dict((tag.split("}")[1], text) for tag, text in _result(answer))
    assert fields["request_id"] == rid and fields["amount"] == "10.00"


@pytest.mark.parametrize("change, code", [
    (lambda b: b.replace(b"<p:amount>10.00</p:amount>", b"<p:amount>ten</p:amount>"),
     "Client.SchemaValidationError"),
    (lambda b: b.replace(b"<p:cvc>123</p:cvc>", b""), "Client.SchemaValidationError"),
    (lambda b: b.replace(b"<p:expire_month>12</p:expire_month>",
                         b"<p:expire_month>13</p:expire_month>"), "Client.InvalidExpiry"),
    (lambda b: b.replace(b"<p:amount>10.00</p:amount>", b"<p:amount>10.001</p:amount>"),
     "Client.InvalidAmount"),
    (lambda b: b.replace(b"RUB", b"USD"), "Client.CurrencyMismatch"),
    (lambda b: b.replace(b"4111111111111111", b"4000000000000259"), "Server.SystemError"),
])
def test_fast_path_faults_as_spyne_does(emulator, apps, change, code):
    fast, spyne = apps
    results = [_post(app, change(_body(emulator.rid("f")))) for app in (fast, spyne)]
    assert [status[:3] for status, _ in results] == ["500", "500"]
    assert [_fault(payload)[0] for _, payload in results] == [code, code]


def test_a_request_id_reused_for_another_card_is_a_fault_on_both_paths(emulator, apps):
    fast, spyne = apps
    rid = emulator.rid("r")
    assert _post(fast, _body(rid))[0].startswith("200")
    for app in (fast, spyne):
        status, payload = _post(app, _body(rid, _card("5555555555554444")))
        assert status.startswith("500") and _fault(payload)[0] == "Client.RequestIdReused"


# -- the gateway's side -------------------------------------------------------------------
def test_the_request_is_valid_by_the_contract_and_escapes_what_it_carries():
    wsdl = etree.parse(str(WSDL))
    schema_el = wsdl.find(".//{http://www.w3.org/2001/XMLSchema}schema")
    embedded = etree.Element(schema_el.tag, attrib=dict(schema_el.attrib),
                             nsmap=wsdl.getroot().nsmap)
    embedded.extend(schema_el)
    schema = etree.XMLSchema(etree.ElementTree(embedded))
    body = _body("a&b<c>", _card(holder='O\'NEIL & "SONS" <X>'))
    authorize = etree.fromstring(body).find(".//{urn:assist-ws:processing:1}Authorize")
    schema.assertValid(authorize)
    values = {child.tag.split("}")[1]: child.text for child in authorize}
    assert values["request_id"] == "a&b<c>" and values["cardholder"] == 'O\'NEIL & "SONS" <X>'
    assert values["amount"] == "10.00" and values["expire_month"] == "12"


def _center(emulator, url=None):
    return ProcessingCenter("emulator-rub", url or f"{emulator.base}/emulator-rub?wsdl", "RUB")


def _gateway(read=5.0):
    return SoapProcessingGateway(Timeouts(connect=2, read=read, batch_read=10))


@pytest.mark.parametrize("number, outcome, code", [
    ("4111111111111111", Outcome.SUCCESS, "AS000"),
    ("4000000000000002", Outcome.DECLINED, "AS100"),
    ("4000000000009995", Outcome.DECLINED, "AS102"),
])
def test_gateway_authorizes_and_the_center_takes_zeeps_request_as_the_same(
        emulator, number, outcome, code):
    rid = emulator.rid("g")
    card = _card(number, holder="TEST HOLDER")
    reply = _gateway().authorize(_center(emulator), rid, card, Money(Decimal("25.50"), "RUB"))
    assert (reply.outcome, reply.response_code, reply.request_id) == (outcome, code, rid)
    if outcome is Outcome.SUCCESS:
        assert reply.approval_code and reply.reference
    # The same request through Zeep: the center sees the same parameters (else it would
    # fault RequestIdReused) and answers what it answered.
    again = emulator.service().Authorize(
        request_id=rid, card_number=card.number, expire_month=card.expire_month,
        expire_year=card.expire_year, cardholder=card.cardholder, cvc=card.cvc,
        amount=Decimal("25.50"), currency="RUB")
    assert (again.status, again.response_code, again.reference, again.approval_code) == (
        "approved" if outcome is Outcome.SUCCESS else "declined", code, reply.reference,
        reply.approval_code)


def test_gateway_failures(emulator):
    gw = _gateway(read=0.5)
    money = Money(Decimal("1.00"), "RUB")
    fault = gw.authorize(_center(emulator), emulator.rid("x"), _card("4000000000000259"), money)
    assert (fault.outcome, fault.response_code, fault.delivered) == (Outcome.DECLINED, "AS998",
                                                                     True)
    late = gw.authorize(_center(emulator), emulator.rid("x"), _card("4000000000000119"), money)
    assert late.outcome is Outcome.UNKNOWN
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    down = gw.authorize(_center(emulator, f"http://127.0.0.1:{dead}/x?wsdl"), emulator.rid("x"),
                        _card(), money)
    assert (down.outcome, down.response_code, down.delivered) == (Outcome.DECLINED, "AS998",
                                                                  False)


def _answer(rid, status="approved"):
    return (f'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
            f'xmlns:t="urn:assist-ws:processing:1"><e:Body><t:AuthorizeResponse>'
            f'<t:AuthorizeResult><t:request_id>{rid}</t:request_id><t:status>{status}</t:status>'
            f'<t:response_code>AS000</t:response_code><t:message>ok</t:message>'
            f'<t:approval_code>A1B2C3</t:approval_code><t:reference>42</t:reference>'
            f'<t:amount>1.00</t:amount><t:currency>RUB</t:currency></t:AuthorizeResult>'
            f'</t:AuthorizeResponse></e:Body></e:Envelope>').encode()


def test_answers_with_a_dtd_of_another_kind_or_incomplete_are_broken():
    ok = _answer("r-1")
    assert authorize_wire.parse_answer(ok, "r-1").outcome is Outcome.SUCCESS
    for content in (b'<!DOCTYPE x [<!ENTITY a "b">]>' + ok, b"not xml",
                    ok.replace(b"AuthorizeResponse", b"ReverseResponse"),
                    ok.replace(b"<t:message>ok</t:message>", b"")):
        with pytest.raises(BrokenAnswer):
            authorize_wire.parse_answer(content, "r-1")
