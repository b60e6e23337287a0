"""The one HTTP transport to processing centers: every call -- a center's WSDL, the
operations Zeep writes and reads (through ``ZeepTransport``), and those written and read by
``authorize_wire`` and ``settlement_wire`` -- goes through a ``CenterTransport``.

urllib3, one pool of kept-alive connections per center host, the connect timeout built in
``bootstrap`` and the read timeout the caller names, no retries (a retry is the caller's
decision), no redirects, TLS verified against the CA bundle ``REQUESTS_CA_BUNDLE`` or
``CURL_CA_BUNDLE`` names (else certifi's), and the proxy the environment names for the
center's host (``HTTPS_PROXY``, ``NO_PROXY`` ...), looked up once per host.

Whether a failed request may have reached the center is told by the exception's type only
(``classify``): ``NotSent`` when no connection was made (safe to try again), ``NoAnswer``
for any failure after that (the center may have acted on it).
"""

from __future__ import annotations

import http.client
import logging
import os
import threading
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, LocationValueError, ProxyError
from zeep.exceptions import TransportError
from zeep.transports import Transport

from .wire import answer

CONTENT_TYPE = "text/xml; charset=utf-8"


class NotSent(Exception):
    """No connection to the center was made: the request certainly did not arrive."""


class NoAnswer(Exception):
    """The request may have arrived, but no complete answer came back."""


def classify(exc: BaseException) -> NotSent | NoAnswer:
    """``NotSent`` when ``exc`` (from urllib3) says no connection was made -- refused, name
    not resolved, no route, connect timeout, an unusable URL, no connection to the proxy --
    else ``NoAnswer``."""
    cause = exc.original_error if isinstance(exc, ProxyError) else exc
    if isinstance(cause, (ConnectTimeoutError, LocationValueError)):
        return NotSent(type(cause).__name__)
    return NoAnswer(type(exc).__name__)


class CenterTransport:
    """Thread-safe; one pool per center host (through the proxy, if any), keeping up to
    ``connections`` connections alive (one per thread that may be waiting for the center)."""

    def __init__(self, connect: float, connections: int = 10):
        self.connect, self.connections = connect, connections
        self._lock = threading.Lock()
        self._managers: dict[tuple[str, str], urllib3.PoolManager] = {}

    def _manager(self, url: str) -> urllib3.PoolManager:
        parts = urlsplit(url)
        key = (parts.scheme.lower(), parts.netloc.lower())
        manager = self._managers.get(key)
        if manager is None:
            with self._lock:
                manager = self._managers.get(key)
                if manager is None:
                    tls: dict[str, Any] = {
                        "cert_reqs": "CERT_REQUIRED", "maxsize": self.connections,
                        "ca_certs": (os.environ.get("REQUESTS_CA_BUNDLE")
                                     or os.environ.get("CURL_CA_BUNDLE") or certifi.where())}
                    proxy = urllib.request.getproxies().get(key[0])
                    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
                        manager = urllib3.ProxyManager(proxy, **tls)
                    else:
                        manager = urllib3.PoolManager(**tls)
                    self._managers[key] = manager
        return manager

    def request(self, method: str, url: str, read: float, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """(HTTP status, the answer's bytes); ``NotSent`` or ``NoAnswer`` on failure."""
        try:
            response = self._manager(url).request(
                method, url, body=body, headers=headers, retries=False, redirect=False,
                timeout=urllib3.Timeout(connect=self.connect, read=read))
        except (HTTPError, OSError, http.client.HTTPException) as exc:
            raise classify(exc) from None
        return response.status, response.data

    def post(self, url: str, body: bytes, soap_action: str, read: float) -> tuple[int, bytes]:
        """POST a SOAP request; (HTTP status, the answer's bytes)."""
        return self.request("POST", url, read, body,
                            {"Content-Type": CONTENT_TYPE, "SOAPAction": soap_action})


class _Answer:
    """The part of a ``requests.Response`` Zeep reads."""

    def __init__(self, content: bytes):
        self.status_code, self.content, self.encoding = 200, content, "utf-8"
        self.headers = {"Content-Type": CONTENT_TYPE}


class ZeepTransport(Transport):
    """Zeep's transport over a ``CenterTransport`` (Zeep's own ``requests`` session is never
    made): the WSDL is read with the ``wsdl`` timeout, operations with ``read``.  An answer
    reaches Zeep only once ``wire.answer`` took it: a fault raises ``CenterFault`` and
    anything but a SOAP answer ``BrokenAnswer``, as for every other operation.  Envelopes
    are not logged (an operation may carry a card number)."""

    def __init__(self, http: CenterTransport, read: float, wsdl: float):
        # Transport.__init__ would make a requests session; only what Zeep reads is set.
        self.http, self.cache, self.load_timeout, self.operation_timeout = http, None, wsdl, read
        self.logger, self._close_session = logging.getLogger(__name__), False

    def post(self, address: str, message: bytes, headers: dict[str, str]) -> _Answer:
        status, content = self.http.post(address, message, headers.get("SOAPAction", '""'),
                                         self.operation_timeout)
        answer(content, status)
        return _Answer(content)

    def _load_remote_data(self, url: str) -> bytes:
        status, content = self.http.request("GET", url, self.load_timeout)
        if status != 200:
            raise TransportError(f"HTTP {status} for the WSDL", status_code=status)
        return content
