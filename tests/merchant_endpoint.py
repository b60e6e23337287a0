"""A merchant's server for the notification tests: a small threaded HTTP server in the test
process that records every request and answers from a script."""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qsl

from lxml import etree

from .support import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    @property
    def xml(self) -> etree._Element:
        return etree.fromstring(self.body)

    @property
    def notification_id(self) -> str:
        return self.headers.get("x-assist-notification-id", "")


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"OK"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Responder = Callable[[Received], Answer]


def packet_reply(received: Received, firstcode: str = "0", secondcode: str = "0",
                 soap: bool | None = None) -> Answer:
    """The ``<pushpaymentresult>`` packet echoing what was received (in SOAP for SOAP)."""
    if soap is None:
        soap = received.headers.get("content-type", "").startswith("text/xml")
    if soap:
        order = received.xml.find(".//{http://www.paysecure.ru/ws/}PushPaymentResult/order")
        bill, date = order.findtext("billnumber"), order.findtext("packetdate")
    else:
        form = received.form
        bill, date = form["billnumber"], form["packetdate"]
    packet = (f'<pushpaymentresult firstcode="{firstcode}" secondcode="{secondcode}">'
              f'<order><billnumber>{bill}</billnumber><packetdate>{date}</packetdate></order>'
              f'</pushpaymentresult>')
    if soap:
        body = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
                '"http://schemas.xmlsoap.org/soap/envelope/" xmlns:ws="http://www.paysecure.ru'
                f'/ws/"><soapenv:Body><ws:PushPaymentResultResponse>{packet}'
                '</ws:PushPaymentResultResponse></soapenv:Body></soapenv:Envelope>')
        return Answer(200, body.encode(), {"Content-Type": "text/xml; charset=utf-8"})
    return Answer(200, ('<?xml version="1.0" encoding="UTF-8"?>' + packet).encode(),
                  {"Content-Type": "text/xml; charset=utf-8"})


class MerchantEndpoint:
    """Answers from ``script`` (Answers or responders, used up in order), then with
    ``default``.  ``hold`` (an Event) makes requests wait until it is set.  With ``tls`` (a
    server context) it speaks https, and ``server_names`` lists the SNI names it was
    sent."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1",
                 tls: ssl.SSLContext | None = None):
        self.host = host
        self.port = port or free_port()
        self.tls = tls
        self.server_names: list[str | None] = []
        self.received: list[Received] = []
        self.script: list[Answer | Responder] = []
        self.default: Answer | Responder = Answer()
        self.hold: threading.Event | None = None
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/assist/result", host: str | None = None) -> str:
        return f"{'https' if self.tls else 'http'}://{host or self.host}:{self.port}{path}"

    def start(self) -> "MerchantEndpoint":
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def handle(self):
                try:
                    super().handle()
                except ConnectionError:  # the sender gave up (a timeout, a killed worker)
                    pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                received = Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                    self.rfile.read(length))
                answer = endpoint._answer(received)
                if endpoint.hold is not None:
                    endpoint.hold.wait(30)
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            self.tls.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()
        return self

    def _answer(self, received: Received) -> Answer:
        with self._lock:
            self.received.append(received)
            step = self.script.pop(0) if self.script else self.default
        self.arrived.set()
        return step(received) if callable(step) else step

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ids(self) -> list[str]:
        return [r.notification_id for r in self.received]
