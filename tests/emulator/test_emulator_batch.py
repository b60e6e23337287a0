"""Settle batches without per-element objects, on both sides of the wire: the emulator's fast
path answers exactly as its Spyne service does (answers and faults), and the gateway's
``settlement_wire`` reads every kind of answer; bulk import of authorizations."""

from __future__ import annotations

import io
import socket
from decimal import Decimal

import pytest
from lxml import etree

from assist_ws.domain.model import ProcessingCenter
from assist_ws.domain.money import Money
from assist_ws.domain.ports import Outcome
from assist_ws.domain.settlement import SettlementItem
from assist_ws.emulator import DEFAULT_CENTERS, EmulatorConfig
from assist_ws.emulator.server import EmulatorApp
from assist_ws.processing import SoapProcessingGateway, Timeouts, settlement_wire
from assist_ws.processing.wire import BrokenAnswer

TNS = "{urn:assist-ws:processing:1}"


def _post(app, body: bytes) -> tuple[str, bytes]:
    env = {"REQUEST_METHOD": "POST", "PATH_INFO": "/emulator-rub", "QUERY_STRING": "",
           "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "text/xml; charset=utf-8",
           "wsgi.input": io.BytesIO(body), "SERVER_NAME": "test", "SERVER_PORT": "80",
           "wsgi.url_scheme": "http"}
    got = {}
    out = app(env, lambda status, headers, exc_info=None: got.setdefault("status", status))
    return got["status"], b"".join(out)


def _answers(payload: bytes):
    root = etree.fromstring(payload)
    result = root.find(f".//{TNS}SettleResult")
    return (result.findtext(f"{TNS}batch_id"),
            [tuple(child.text for child in row) for row in result.find(f"{TNS}items")])


def _fault(payload: bytes) -> str:
    return etree.fromstring(payload).findtext(".//faultcode").split(":")[-1]


@pytest.fixture
def apps(emulator):
    """The running emulator's ledger file behind two apps: the fast path and Spyne only."""
    config = EmulatorConfig(str(emulator.data_path))
    fast, spyne = EmulatorApp(config), EmulatorApp(config, fast_settle=False)
    yield fast, spyne
    fast.close()
    spyne.close()


def _auths(emulator, n, amount="10.00"):
    return [emulator.authorize(amount=amount).request_id for _ in range(n)]


def test_fast_path_answers_as_spyne_does(emulator, apps):
    fast, spyne = apps
    a1, a2, a3 = _auths(emulator, 3)
    items = [(emulator.rid("s"), a1, "10.00"), (emulator.rid("s"), a2, "4.00"),
             (emulator.rid("s"), a3, "11.00"), (emulator.rid("s"), "nobody", "1.00")]
    body = settlement_wire.request_body("batch-1", [
        SettlementItem(rid, aid, Money(Decimal(amt), "RUB")) for rid, aid, amt in items])
    status, first = _post(fast, body)
    assert status.startswith("200")
    again_status, again = _post(spyne, body)  # the same ids: answered from the ledger
    assert again_status.startswith("200")
    assert _answers(first) == _answers(again)
    batch_id, rows = _answers(first)
    assert batch_id == "batch-1"
    assert [r[1] for r in rows] == ["success", "success", "declined", "not_found"]
    center = emulator.ledger()["centers"]["emulator-rub"]
    by_id = {a["request_id"]: a for a in center["authorizations"]}
    assert (by_id[a2]["held"], by_id[a2]["settled"]) == ("0.00", "4.00")  # rest released


@pytest.mark.parametrize("item, code", [
    ("<p:request_id>s-1</p:request_id><p:authorization_request_id>a</p:authorization_request_id>"
     "<p:amount>1.001</p:amount>", "Client.InvalidAmount"),
    ("<p:request_id>s-2</p:request_id><p:authorization_request_id>a</p:authorization_request_id>",
     "Client.SchemaValidationError"),
    ("<p:request_id>" + "x" * 65 + "</p:request_id><p:authorization_request_id>a"
     "</p:authorization_request_id><p:amount>1.00</p:amount>", "Client.SchemaValidationError"),
    ("<p:request_id>s-3</p:request_id><p:authorization_request_id>a</p:authorization_request_id>"
     "<p:amount>ten</p:amount>", "Client.SchemaValidationError"),
])
def test_fast_path_faults_as_spyne_does(apps, item, code):
    fast, spyne = apps
    body = ('<?xml version="1.0" encoding="utf-8"?><e:Envelope '
            'xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:p="urn:assist-ws:processing:1"><e:Body><p:Settle><p:batch_id>b</p:batch_id>'
            f'<p:items><p:SettlementItem>{item}</p:SettlementItem></p:items></p:Settle>'
            '</e:Body></e:Envelope>').encode()
    results = [_post(app, body) for app in (fast, spyne)]
    assert [status[:3] for status, _ in results] == ["500", "500"]
    assert [_fault(payload) for _, payload in results] == [code, code]


def test_a_settle_request_with_a_dtd_is_not_taken_by_the_fast_path(apps):
    fast, _ = apps
    body = (b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x "boom">]><e:Envelope '
            b'xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
            b'xmlns:p="urn:assist-ws:processing:1"><e:Body><p:Settle><p:batch_id>&x;'
            b'</p:batch_id><p:items/></p:Settle></e:Body></e:Envelope>')
    status, payload = _post(fast, body)
    assert b"boom" not in payload  # the entity is never expanded into an answer


# -- the gateway's side -------------------------------------------------------------------
def _center(emulator, url=None):
    return ProcessingCenter("emulator-rub", url or f"{emulator.base}/emulator-rub?wsdl", "RUB")


def _item(rid, aid, amount):
    return SettlementItem(rid, aid, Money(Decimal(amount), "RUB"))


def test_gateway_reads_each_kind_of_item_answer(emulator):
    a1, a2 = _auths(emulator, 2)
    gw = SoapProcessingGateway(Timeouts(connect=2, read=5, batch_read=10))
    items = [_item("g-1", a1, "10.00"), _item("g-2", a2, "12.00"), _item("g-3", "x", "1.00")]
    answer = gw.settle(_center(emulator), "gb-1", items)
    assert answer.failure is None
    assert [answer.reply(i.request_id).outcome for i in items] == \
        [Outcome.SUCCESS, Outcome.DECLINED, Outcome.NOT_FOUND]
    assert answer.reply("g-1").response_code == "AS000"
    assert answer.reply("never-sent").outcome is Outcome.UNKNOWN
    # the same batch again: the center's stored answers, nothing settled twice
    again = gw.settle(_center(emulator), "gb-1", items)
    assert again.replies == answer.replies
    assert emulator.ledger()["centers"]["emulator-rub"]["settled"] == "10.00"


def test_gateway_batch_failures(emulator):
    a1 = _auths(emulator, 1)[0]
    gw = SoapProcessingGateway(Timeouts(connect=2, read=5, batch_read=10))
    gw.settle(_center(emulator), "gf-1", [_item("f-1", a1, "5.00")])
    # a request id reused with another amount: the center faults the whole batch
    fault = gw.settle(_center(emulator), "gf-2", [_item("f-1", a1, "6.00")])
    assert fault.failure.outcome is Outcome.DECLINED and fault.failure.delivered
    assert "request_id reused" in fault.failure.message
    assert fault.reply("f-1") is fault.failure
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    down = gw.settle(_center(emulator, f"http://127.0.0.1:{dead}/x?wsdl"), "gf-3",
                     [_item("f-9", a1, "1.00")])
    assert down.failure.outcome is Outcome.DECLINED and not down.failure.delivered


def test_broken_answers_are_refused():
    ok = (b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
          b'xmlns:t="urn:assist-ws:processing:1"><e:Body><t:SettleResponse><t:SettleResult>'
          b'<t:batch_id>b1</t:batch_id><t:items><t:SettlementItemResult><t:request_id>r1'
          b'</t:request_id><t:status>success</t:status><t:response_code>AS000'
          b'</t:response_code><t:message>settled</t:message></t:SettlementItemResult>'
          b'</t:items></t:SettleResult></t:SettleResponse></e:Body></e:Envelope>')
    assert settlement_wire.parse_answer(ok, "b1")["r1"].outcome is Outcome.SUCCESS
    for content, batch in ((ok, "other-batch"), (ok.replace(b"success", b"maybe"), "b1"),
                           (b"<html>502</html>", "b1"), (b"not xml", "b1"),
                           (b'<!DOCTYPE x [<!ENTITY a "b">]>' + ok, "b1")):
        with pytest.raises(BrokenAnswer):
            settlement_wire.parse_answer(content, batch)


# -- bulk import ---------------------------------------------------------------------------
def test_imported_authorizations_hold_and_settle(emulator):
    center = DEFAULT_CENTERS[0]
    imported = emulator.server.emulator.ledger.import_authorizations(
        center, ((f"imp-{i}", Decimal("2.50"), "411111******1111") for i in range(25)))
    assert imported == 25
    summary = emulator.ledger("?summary=1&center=emulator-rub")["centers"]["emulator-rub"]
    assert summary["held"] == "62.50"
    result = emulator.settle([(f"imp-s-{i}", f"imp-{i}", "2.50") for i in range(25)])
    assert {i.status for i in result["items"]["SettlementItemResult"]} == {"success"}
    with pytest.raises(Exception, match="amount"):
        emulator.server.emulator.ledger.import_authorizations(
            center, [("imp-bad", Decimal("1.001"), "x")])
