"""HTTP side of the emulator: /ledger JSON, persistence across restarts, the
served and committed WSDL, routing and robustness against bad requests."""

from __future__ import annotations

import socket
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from assist_ws.emulator import wsdl_document

REPO = Path(__file__).resolve().parents[2]
SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8"}


def _envelope(body: str) -> str:
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:p="urn:assist-ws:processing:1"><soapenv:Body>'
            f'{body}</soapenv:Body></soapenv:Envelope>')


# -------------------------------------------------------------------- ledger
def test_ledger_totals_and_filters(emulator):
    a1 = emulator.authorize(amount="10.00").request_id
    emulator.authorize(amount="0.50")
    emulator.authorize(center="emulator-usd", amount="3.25")
    emulator.settle([(emulator.rid("s"), a1, "6.00")])
    emulator.service().Refund(request_id=emulator.rid(), authorization_request_id=a1,
                              amount=Decimal("1.25"))
    doc = emulator.ledger()
    rub, usd = doc["centers"]["emulator-rub"], doc["centers"]["emulator-usd"]
    assert {k: v for k, v in rub.items() if k != "authorizations"} == {
        "currency": "RUB", "partial_reversal": True, "hold_days": 7,
        "held": "0.50", "settled": "6.00", "refunded": "1.25"}
    assert {k: v for k, v in usd.items() if k != "authorizations"} == {
        "currency": "USD", "partial_reversal": False, "hold_days": 5,
        "held": "3.25", "settled": "0.00", "refunded": "0.00"}
    assert [a["request_id"] for a in rub["authorizations"]][0] == a1
    assert len(rub["authorizations"]) == 2 and len(usd["authorizations"]) == 1

    one = emulator.ledger("?center=emulator-usd")
    assert list(one["centers"]) == ["emulator-usd"] and one["centers"]["emulator-usd"] == usd
    summary = emulator.ledger("?summary=1")
    assert "authorizations" not in summary["centers"]["emulator-rub"]
    assert summary["centers"]["emulator-rub"]["held"] == "0.50"
    assert summary["cards"] == doc["cards"]
    missing = requests.get(f"{emulator.base}/ledger?center=nope", timeout=5)
    assert missing.status_code == 404 and "nope" in missing.json()["error"]
    assert requests.post(f"{emulator.base}/ledger", timeout=5).status_code == 405


def test_ledger_survives_a_restart(emulator):
    aid = emulator.authorize(amount="10.00").request_id
    emulator.settle([(emulator.rid("s"), aid, "4.00")])
    emulator.service().PayWithPoints(request_id=emulator.rid(), card_number="4276000000000009",
                                     points=100)
    before = emulator.ledger()
    emulator.restart()          # a new server process state on the same file
    assert emulator.ledger() == before
    # idempotency and status survive too
    st = emulator.service().TransactionStatus(request_id=aid)
    assert (st.status, st.kind) == ("approved", "authorize")
    again = emulator.authorize(request_id=aid, amount="10.00")
    assert again.reference == st.reference
    assert emulator.ledger() == before


# ---------------------------------------------------------------------- wsdl
def test_served_wsdl_matches_wsdl_document(emulator):
    defaults = wsdl_document()
    default_location = b'location="http://127.0.0.1:8081/emulator-rub"'
    assert defaults.count(default_location) == 1
    for center in ("emulator-rub", "emulator-usd"):
        url = f"{emulator.base}/{center}"
        resp = requests.get(f"{url}?wsdl", timeout=5)
        assert resp.status_code == 200
        assert resp.headers["Content-Type"].startswith("text/xml")
        assert resp.content == wsdl_document(center, url)
        assert resp.content.replace(f'location="{url}"'.encode(), default_location) \
            == defaults


def test_committed_wsdl_is_current():
    committed = (REPO / "wsdl" / "processing.wsdl").read_bytes()
    assert committed == wsdl_document(), \
        "regenerate wsdl/processing.wsdl from assist_ws.emulator.wsdl_document()"


def test_wsdl_declares_mandatory_fields():
    from lxml import etree
    xs = "{http://www.w3.org/2001/XMLSchema}"
    root = etree.fromstring(wsdl_document())
    authorize = root.find(f".//{xs}complexType[@name='Authorize']")
    fields = {e.get("name"): e for e in authorize.iter(f"{xs}element")}
    assert list(fields) == ["request_id", "card_number", "expire_month", "expire_year",
                            "cardholder", "cvc", "amount", "currency", "skip_authentication"]
    skip = fields.pop("skip_authentication")  # optional: 3-D Secure unless asked to skip
    assert skip.get("minOccurs") == "0" and skip.get("type") == "xs:boolean"
    for el in fields.values():     # minOccurs defaults to 1, nillable to false
        assert el.get("minOccurs") is None and el.get("nillable") is None
    reverse = root.find(f".//{xs}complexType[@name='Reverse']")
    amount = [e for e in reverse.iter(f"{xs}element") if e.get("name") == "amount"][0]
    assert amount.get("minOccurs") == "0" and amount.get("type") == "xs:decimal"
    service = root.find(".//{http://schemas.xmlsoap.org/wsdl/}service")
    assert service.get("name") == "ProcessingService"
    assert root.get("name") == "ProcessingCenter"
    assert root.get("targetNamespace") == "urn:assist-ws:processing:1"


# ------------------------------------------------------------ bad requests
@pytest.mark.parametrize("payload, code", [
    (b"this is not xml", "Client.XMLSyntaxError"),
    (b"<unclosed", "Client.XMLSyntaxError"),
    (b"", "Client.XMLSyntaxError"),
    (_envelope("<p:NoSuchOperation/>").encode(), "Client.SchemaValidationError"),
    (b"<?xml version='1.0'?><not-soap/>", "Client.SoapError"),
    # request_id missing: schema validation rejects it
    (_envelope("<p:TransactionStatus/>").encode(), "Client.SchemaValidationError"),
    (_envelope("<p:Refund><p:request_id>x</p:request_id>"
               "<p:authorization_request_id>y</p:authorization_request_id>"
               "<p:amount>ten</p:amount></p:Refund>").encode(),
     "Client.SchemaValidationError"),
])
def test_bad_requests_get_a_soap_fault(emulator, payload, code):
    resp = requests.post(f"{emulator.base}/emulator-rub", data=payload,
                         headers=SOAP_HEADERS, timeout=5)
    assert resp.status_code == 500
    assert b"Fault>" in resp.content
    assert f":{code}</faultcode>".encode() in resp.content
    # and the server keeps working
    assert emulator.authorize().status == "approved"


def test_hand_written_request_without_zeep(emulator):
    body = _envelope("<p:TransactionStatus><p:request_id>abc</p:request_id>"
                     "</p:TransactionStatus>")
    resp = requests.post(f"{emulator.base}/emulator-usd", data=body.encode(),
                         headers=SOAP_HEADERS, timeout=5)
    assert resp.status_code == 200
    assert b"<tns:status>not_found</tns:status>" in resp.content


def test_routing(emulator):
    base = emulator.base
    assert requests.get(f"{base}/nope", timeout=5).status_code == 404
    assert requests.get(f"{base}/", timeout=5).status_code == 404
    assert requests.get(f"{base}/emulator-rub/extra?wsdl", timeout=5).status_code == 404
    assert requests.get(f"{base}/emulator-rub", timeout=5).status_code == 405
    assert requests.put(f"{base}/emulator-rub", data=b"x", timeout=5).status_code == 405
    assert requests.post(f"{base}/other", data=b"x", timeout=5).status_code == 404


def test_command_line_server_and_restart_across_processes(tmp_path):
    import os
    import re
    import subprocess
    import sys

    import zeep

    data = tmp_path / "var" / "emulator.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def start():
        proc = subprocess.Popen(
            [sys.executable, "-m", "assist_ws.emulator", "--port", "0", "--data", str(data),
             "--center", "bank-eur:EUR:nopartial:3", "--late-seconds", "1"],
            cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
        line = proc.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        return proc, f"http://127.0.0.1:{match.group(1)}"

    proc, base = start()
    try:
        svc = zeep.Client(f"{base}/bank-eur?wsdl").service
        r = svc.Authorize(request_id="cli-1", card_number="4111111111111111", expire_month=12,
                          expire_year=2099, cardholder="X", cvc="1", amount=Decimal("2.50"),
                          currency="EUR")
        assert r.status == "approved"
        partial = svc.Reverse(request_id="cli-2", authorization_request_id="cli-1",
                              amount=Decimal("1.00"))
        assert partial.message == "partial reversal not supported"
        assert requests.get(f"{base}/emulator-rub?wsdl", timeout=5).status_code == 404
        before = requests.get(f"{base}/ledger", timeout=5).json()
        assert before["centers"]["bank-eur"]["held"] == "2.50"
        assert before["centers"]["bank-eur"]["hold_days"] == 3
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stderr.close()
    proc, base = start()
    try:
        assert requests.get(f"{base}/ledger", timeout=5).json() == before
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stderr.close()


# ---------------------------------------------------------------- keep-alive
def _exchange(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.read(), response


def test_one_connection_serves_request_after_request(emulator):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    status, _, first = _exchange(conn, "GET", "/ledger?summary=1")
    sock = conn.sock
    assert status == 200 and first.version == 11 and not first.will_close
    # A POST whose body the application does not read (405) leaves the connection usable.
    status, _, _ = _exchange(conn, "POST", "/ledger", body=b"x" * 5000)
    assert status == 405
    body = _envelope('<p:TransactionStatus><p:request_id>ka-1</p:request_id>'
                     '</p:TransactionStatus>').encode()
    status, payload, _ = _exchange(conn, "POST", "/emulator-rub", body, SOAP_HEADERS)
    assert status == 200 and b"not_found" in payload
    assert conn.sock is sock  # the same connection throughout
    conn.close()


def test_kept_connections_send_without_waiting_for_acks(emulator):
    """wsgiref writes an answer's headers and body in two sends: with Nagle's algorithm on,
    the body of every answer after the first on a kept-alive connection waited for the
    client's delayed ACK (about 40 ms an authorization).  The emulator's side of a
    connection has TCP_NODELAY."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    assert _exchange(conn, "GET", "/ledger?summary=1")[0] == 200
    local = conn.sock.getsockname()
    served = [s for s in emulator.server.connections if s.getpeername() == local]
    assert len(served) == 1
    assert served[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    conn.close()


def test_a_chunked_request_is_refused_and_closes(emulator):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    conn.request("POST", "/emulator-rub", body=iter([b"<x/>"]),
                 headers={"Transfer-Encoding": "chunked", **SOAP_HEADERS})
    response = conn.getresponse()
    assert response.status == 400 and response.will_close
    conn.close()


def test_closing_the_server_closes_connections_kept_alive(emulator):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    assert _exchange(conn, "GET", "/ledger?summary=1")[0] == 200
    emulator.restart()  # a new server on a new port; the old one shut this connection
    assert conn.sock.recv(1) == b""
    conn.close()
    assert emulator.ledger("?summary=1")["centers"]
