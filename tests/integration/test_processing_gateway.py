"""The processing gateway's contract, the same for every operation whichever way it is
written and read (lxml: ``Authorize``, ``Settle``; Zeep: ``Reverse``, ``TransactionStatus``)
since all go through one transport: against a canned center that serves the committed WSDL,
each kind of answer and failure means the same outcome -- an answer to the request, a status
the contract does not name, an answer to another request, a SOAP fault (whatever the HTTP
status), an error status, something else than SOAP, a DTD, no answer in time, a dropped
connection, no connection at all."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assist_ws.domain.cards import CardData
from assist_ws.domain.model import ProcessingCenter
from assist_ws.domain.money import Money
from assist_ws.domain.ports import Outcome
from assist_ws.domain.settlement import SettlementItem
from assist_ws.processing import SoapProcessingGateway, Timeouts
from assist_ws.processing.transport import NoAnswer, NotSent, classify

WSDL = (Path(__file__).resolve().parents[2] / "wsdl" / "processing.wsdl").read_bytes()
RUB = Money(Decimal("1.00"), "RUB")
CARD = CardData("4111111111111111", 12, datetime.now(timezone.utc).year + 1, "IVAN IVANOV",
                "123")


def _envelope(inner: str) -> bytes:
    return ('<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
            f'xmlns:t="urn:assist-ws:processing:1"><e:Body>{inner}</e:Body></e:Envelope>'
            ).encode()


def _fields(**values: str) -> str:
    return "".join(f"<t:{name}>{value}</t:{name}>" for name, value in values.items())


# Each operation: how the gateway is called (the reply it gives for request "r-1"), the
# status that means success, and its answer with a given status and request id.
OPERATIONS = {
    "Authorize": (
        lambda gw, c: gw.authorize(c, "r-1", CARD, RUB), "approved",
        lambda status, rid: _envelope(
            "<t:AuthorizeResponse><t:AuthorizeResult>" + _fields(
                request_id=rid, status=status, response_code="AS000", message="ok",
                approval_code="A1B2C3", reference="42", amount="1.00", currency="RUB")
            + "</t:AuthorizeResult></t:AuthorizeResponse>")),
    "Settle": (
        lambda gw, c: gw.settle(c, "b-1", [SettlementItem("r-1", "a-1", RUB)]).reply("r-1"),
        "success",
        lambda status, rid: _envelope(
            "<t:SettleResponse><t:SettleResult><t:batch_id>b-1</t:batch_id><t:items>"
            "<t:SettlementItemResult>" + _fields(
                request_id=rid, status=status, response_code="AS000", message="ok")
            + "</t:SettlementItemResult></t:items></t:SettleResult></t:SettleResponse>")),
    "Reverse": (
        lambda gw, c: gw.reverse(c, "r-1", "a-1", RUB), "success",
        lambda status, rid: _envelope(
            "<t:ReverseResponse><t:ReverseResult>" + _fields(
                request_id=rid, status=status, response_code="AS000", message="ok",
                reference="42") + "</t:ReverseResult></t:ReverseResponse>")),
    "TransactionStatus": (
        lambda gw, c: gw.status(c, "r-1"), "approved",
        lambda status, rid: _envelope(
            "<t:TransactionStatusResponse><t:TransactionStatusResult>" + _fields(
                request_id=rid, status=status, kind="authorize", response_code="AS000",
                reference="42") + "</t:TransactionStatusResult></t:TransactionStatusResponse>")),
}

FAULT = _envelope("<e:Fault><faultcode>e:Server.SystemError</faultcode>"
                  "<faultstring>system error</faultstring></e:Fault>")


class _Center(BaseHTTPRequestHandler):
    """Serves ``wsdl``; answers every POST with ``answer`` after ``delay`` seconds (None:
    drops the connection without an answer)."""

    answer: tuple[int, bytes] | None = (200, b"")
    delay = 0.0
    wsdl = (200, WSDL)

    def do_GET(self):  # noqa: N802 - http.server's name
        self._send(*self.wsdl)

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(self.delay)
        if self.answer is None:
            self.close_connection = True
            return
        self._send(*self.answer)

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the gateway stopped waiting

    def log_message(self, *args):
        pass


def _ask(operation: str, answer, delay: float = 0.0, wsdl=(200, WSDL)):
    call = OPERATIONS[operation][0]
    handler = type("Handler", (_Center,), {"answer": answer, "delay": delay, "wsdl": wsdl})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        center = ProcessingCenter("canned", f"http://127.0.0.1:{server.server_port}/c?wsdl",
                                  "RUB")
        gateway = SoapProcessingGateway(Timeouts(connect=2, read=0.5, batch_read=0.5, wsdl=5))
        return call(gateway, center)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_an_answer_to_the_request_is_read(operation):
    _, ok, answer = OPERATIONS[operation]
    reply = _ask(operation, (200, answer(ok, "r-1")))
    assert (reply.outcome, reply.response_code, reply.request_id, reply.delivered) == (
        Outcome.SUCCESS, "AS000", "r-1", True)
    if operation != "Settle":
        assert reply.reference == "42"


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("case", ["unnamed status", "another request", "answer with 500",
                                  "html 200", "html 502", "empty 200", "DTD", "late",
                                  "dropped"])
def test_what_is_not_an_answer_to_the_request_leaves_the_outcome_unknown(operation, case):
    _, ok, answer = OPERATIONS[operation]
    good = answer(ok, "r-1")
    http, delay = {
        "unnamed status": ((200, answer("maybe", "r-1")), 0),
        "another request": ((200, answer(ok, "someone-else")), 0),
        "answer with 500": ((500, good), 0),
        "html 200": ((200, b"<html>gateway timeout</html>"), 0),
        "html 502": ((502, b"<html>bad gateway</html>"), 0),
        "empty 200": ((200, b""), 0),
        "DTD": ((200, b'<!DOCTYPE x [<!ENTITY a "b">]>' + good), 0),
        "late": ((200, good), 1.0),
        "dropped": (None, 0),
    }[case]
    reply = _ask(operation, http, delay)
    assert (reply.outcome, reply.delivered) == (Outcome.UNKNOWN, True)


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("http_status", [500, 200])
def test_a_fault_is_a_refusal_that_arrived(operation, http_status):
    reply = _ask(operation, (http_status, FAULT))
    # A failed status query says nothing about the transaction it asked about.
    outcome = Outcome.UNKNOWN if operation == "TransactionStatus" else Outcome.DECLINED
    assert (reply.outcome, reply.delivered) == (outcome, True)
    assert reply.message == "processing center error: system error"


@pytest.mark.parametrize("operation", OPERATIONS)
def test_no_connection_is_a_refusal_that_never_arrived(operation):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    center = ProcessingCenter("dead", f"http://127.0.0.1:{dead}/c?wsdl", "RUB")
    reply = OPERATIONS[operation][0](SoapProcessingGateway(Timeouts(connect=2, read=1)), center)
    outcome = Outcome.UNKNOWN if operation == "TransactionStatus" else Outcome.DECLINED
    assert (reply.outcome, reply.delivered) == (outcome, False)


@pytest.mark.parametrize("operation", ["Reverse", "TransactionStatus"])
def test_no_wsdl_is_a_refusal_that_never_arrived(operation):
    reply = _ask(operation, (200, OPERATIONS[operation][2]("success", "r-1")),
                 wsdl=(404, b"<html>not found</html>"))
    outcome = Outcome.UNKNOWN if operation == "TransactionStatus" else Outcome.DECLINED
    assert (reply.outcome, reply.delivered, reply.message) == (
        outcome, False, "processing center canned unavailable")


def test_the_classifier_goes_by_the_exceptions_type_only():
    from urllib3.exceptions import (ConnectTimeoutError, LocationParseError,
                                    NewConnectionError, ProtocolError, ProxyError,
                                    ReadTimeoutError, SSLError)
    not_sent = [NewConnectionError(None, "refused"), ConnectTimeoutError("x"),
                LocationParseError("::"), ProxyError("no proxy", NewConnectionError(None, "x"))]
    # Whatever the text says: only the type counts.
    no_answer = [ReadTimeoutError(None, "/", "Connection refused"),
                 ProtocolError("NewConnectionError: Name or service not known"),
                 SSLError("No route to host"), ProxyError("x", ProtocolError("y")),
                 ConnectionResetError("Connection refused")]
    assert [type(classify(e)) for e in not_sent] == [NotSent] * len(not_sent)
    assert [type(classify(e)) for e in no_answer] == [NoAnswer] * len(no_answer)
