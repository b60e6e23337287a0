"""Posting SOAP requests to processing centers with urllib3, for the operations written on
the wire without Zeep (``authorize_wire``).

The same HTTP as Zeep's transport (``requests``, which sits on urllib3) without its per-call
costs (preparing, hooks, cookies, reading ``.netrc`` and the proxy environment on every
request: more CPU than the authorization's own XML): pooled keep-alive connections, the
connect and read timeouts built in ``bootstrap``, no retries (a retry is the caller's
decision), TLS verified against the CA bundle ``requests`` would use
(``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, else certifi's), and the proxy the environment
names for the center's host (``HTTPS_PROXY``, ``NO_PROXY`` …), looked up once per host.

A failure to connect raises ``NotSent`` (the request never left: safe to try again); any
failure after that raises ``NoAnswer`` (the center may have acted on it).
"""

from __future__ import annotations

import os
import threading
import urllib.request
from urllib.parse import urlsplit

import certifi
import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError

CONTENT_TYPE = "text/xml; charset=utf-8"


class NotSent(Exception):
    """No connection to the center was made: the request certainly did not arrive."""


class NoAnswer(Exception):
    """The request may have arrived, but no complete answer came back."""


def _ca_bundle() -> str:
    return (os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            or certifi.where())


class SoapPoster:
    """Thread-safe; one pool of connections per center host (and per proxy), keeping up to
    ``connections`` of them alive (one per thread that may be waiting for the center)."""

    def __init__(self, connect: float, read: float, connections: int = 10):
        self.timeout = urllib3.Timeout(connect=connect, read=read)
        self.connections = connections
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
                    tls = {"cert_reqs": "CERT_REQUIRED", "ca_certs": _ca_bundle(),
                           "maxsize": self.connections}
                    proxy = urllib.request.getproxies().get(key[0])
                    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
                        manager = urllib3.ProxyManager(proxy, **tls)
                    else:
                        manager = urllib3.PoolManager(**tls)
                    self._managers[key] = manager
        return manager

    def post(self, url: str, body: bytes, soap_action: str) -> tuple[int, bytes]:
        """POST ``body``; (HTTP status, the answer's bytes)."""
        try:
            response = self._manager(url).request(
                "POST", url, body=body, timeout=self.timeout, retries=False,
                redirect=False, headers={"Content-Type": CONTENT_TYPE,
                                         "SOAPAction": soap_action})
        except (NewConnectionError, ConnectTimeoutError) as exc:
            raise NotSent(type(exc).__name__) from None
        except (HTTPError, OSError) as exc:
            raise NoAnswer(type(exc).__name__) from None
        return response.status, response.data
