"""What every request passes through before the application (WSGI middleware, outermost).

* **Who is asking.**  ``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` are
  believed only from the proxies of ``ASSIST_TRUSTED_PROXIES``: from them they become the
  request's client address (``REMOTE_ADDR``: the nearest address not itself a trusted proxy),
  scheme and host; from anyone else they are removed, so that nothing further in can trust
  them by mistake.  With ``ASSIST_PUBLIC_URL`` set, every request's scheme and host are the
  public URL's, whatever the request said: the URLs the server hands out (payment pages,
  WSDL addresses) are built from the request, and so always point where they should.  A
  ``Host`` that is not a host name or an IP literal (with an optional port) is refused.
* **How much.**  Every path has a body limit (``body_limit``): a request announcing more is
  answered 413 before any of its body is read (the worker, ``serving.worker``, does the same
  before a thread is taken); a chunked body is read up to the limit and refused beyond it.
* **Card data in a URL.**  A card parameter's name, or a card number under any name, in the
  query string or the path is refused (400) -- the payment pages answer it with a page of
  their own (``web.pay``), by the same rule (``domain.cards.card_data_in``).  The access log
  never shows such a URL (``serving.logs``).
* **A last answer.**  An exception that escapes the application is logged and answered by
  ``failure`` (a WSGI application; the composition root's answers a SOAP request with a SOAP
  fault, JSON with JSON), by default with a short plain text 500: never an HTML page.
"""

from __future__ import annotations

import functools
import io
import ipaddress
import json
import logging
import re
import sys
from typing import Callable, Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

from ..domain.cards import card_data_in, card_numbers_in
from ..domain.urls import valid_host_header

log = logging.getLogger(__name__)

#: Bodies of the payment pages' forms and ``payrequest.cfm``: the longest authorization
#: request (a 4,000-character comment in Cyrillic, percent-encoded) is about 30 KiB.
PAGES_BODY = 64 * 1024
#: Bodies of the merchant web services (SOAP envelopes and forms of a few fields).
SERVICES_BODY = 256 * 1024
#: Bodies of everything else (health, WSDLs, the demo shop): small forms at most.
OTHER_BODY = 16 * 1024
#: The largest body any path takes.
MAX_BODY = max(PAGES_BODY, SERVICES_BODY, OTHER_BODY)

_FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
              "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_X_REAL_IP",
              "HTTP_FORWARDED")


def body_limit(path: str) -> int:
    """The largest request body ``path`` takes, in bytes."""
    if path.startswith("/pay/"):
        return PAGES_BODY
    if path.endswith(".cfm"):
        return SERVICES_BODY
    return OTHER_BODY


def parse_networks(text: str) -> tuple:
    """``ASSIST_TRUSTED_PROXIES``: addresses or networks, separated by commas or spaces."""
    networks = []
    for item in re.split(r"[,\s]+", text or ""):
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
    return tuple(networks)


@functools.lru_cache(maxsize=1024)
def valid_host(host: str) -> bool:
    """A host name or an IP literal, with an optional port: what a ``Host`` may hold
    (``domain.urls``; remembered, since the same few come again and again)."""
    return valid_host_header(host)


class Edge:
    """The middleware (see the module doc)."""

    def __init__(self, app: Callable, *, trusted_proxies: str = "", public_url: str = "",
                 failure: Callable | None = None):
        self.app, self.failure = app, failure or internal_error
        self.proxies = parse_networks(trusted_proxies)
        self.public: tuple[str, str, str] | None = None
        if public_url:
            parts = urlsplit(public_url.strip())
            if parts.scheme not in ("http", "https") or not valid_host(parts.netloc):
                raise ValueError(f"ASSIST_PUBLIC_URL {public_url!r} is not an http(s) URL of "
                                 f"a host")
            self.public = (parts.scheme, parts.netloc, parts.path.rstrip("/"))

    def __call__(self, environ, start_response) -> Iterable[bytes]:
        started = []

        def starting(status, headers, exc_info=None):
            started.append(status)
            return start_response(status, headers, exc_info)

        try:
            self._forwarded(environ)
            refusal = self._refusal(environ)
            if refusal is not None:
                return _refuse(environ, start_response, *refusal)
            too_big = self._body(environ)
            if too_big is not None:
                return _refuse(environ, start_response, *too_big)
            return self.app(environ, starting)
        except Exception:  # noqa: BLE001 - the last answer: logged, and a short one
            log.exception("request %s %s failed", environ.get("REQUEST_METHOD"),
                          environ.get("PATH_INFO"))
            error = sys.exc_info()

            def restart(status, headers, exc_info=None):
                # Headers the application set (and did not send) are replaced.
                return start_response(status, headers, error if started else None)

            return self.failure(environ, restart)

    # -- who is asking ------------------------------------------------------------------
    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip().strip("[]"))
        except ValueError:
            return False
        return any(ip in network for network in self.proxies)

    def _forwarded(self, environ) -> None:
        if self.proxies and self._trusted(environ.get("REMOTE_ADDR", "")):
            chain = [a.strip() for a in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")
                     if a.strip()]
            for address in reversed(chain):  # the nearest first
                try:
                    ipaddress.ip_address(address.strip("[]"))
                except ValueError:
                    break  # a forged or broken entry: believe nothing farther
                environ["REMOTE_ADDR"] = address.strip("[]")
                if not self._trusted(address):
                    break
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
            host = environ.get("HTTP_X_FORWARDED_HOST", "").split(",")[0].strip()
            if host and valid_host(host):
                environ["HTTP_HOST"] = host
        for name in _FORWARDED:
            environ.pop(name, None)
        if self.public is not None:
            scheme, host, prefix = self.public
            environ["wsgi.url_scheme"], environ["HTTP_HOST"] = scheme, host
            environ["SERVER_NAME"] = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            environ["SERVER_PORT"] = host.rsplit(":", 1)[1] if re.search(r":\d+$", host) \
                else ("443" if scheme == "https" else "80")
            if prefix:
                environ["SCRIPT_NAME"] = prefix

    # -- refusals -----------------------------------------------------------------------
    @staticmethod
    def _refusal(environ) -> tuple[str, str] | None:
        host = environ.get("HTTP_HOST")
        if host is not None and not valid_host(host.strip()):
            return "400 Bad Request", "the Host header is not a host name\n"
        path = environ.get("PATH_INFO") or "/"
        query = environ.get("QUERY_STRING") or ""
        if card_numbers_in(unquote(path)) or (
                query and not path.startswith("/pay/")
                and card_data_in(parse_qsl(query, keep_blank_values=True))):
            log.warning("refused a request with card data in its URL (%s)", path)
            return ("400 Bad Request",
                    "card data must not be sent in a URL: the request was refused\n")
        return None

    @staticmethod
    def _body(environ) -> tuple[str, str] | None:
        path = environ.get("PATH_INFO") or "/"
        limit = body_limit(path)
        length = environ.get("CONTENT_LENGTH") or ""
        if length.strip():
            try:
                size = int(length)
            except ValueError:
                return "400 Bad Request", "Content-Length is not a number\n"
            if size > limit:
                return _too_large(path, size, limit)
            return None
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            try:
                body = environ["wsgi.input"].read(limit + 1)
            except OSError:
                return "408 Request Timeout", "the request's body did not arrive in time\n"
            if len(body) > limit:
                return _too_large(path, None, limit)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return None


def _too_large(path: str, size: int | None, limit: int) -> tuple[str, str]:
    log.warning("refused a request body of %s bytes for %s (at most %d)",
                size if size is not None else "more than", path, limit)
    return "413 Request Entity Too Large", f"requests to this address are at most {limit} " \
                                           f"bytes\n"


def refusal(status: str, message: str, content_type: str = "") -> tuple[str, bytes]:
    """(content type, body) of a refusal made before the application: JSON for a JSON
    request (Assist's ``firstcode``/``secondcode``: 17, limits, for a body too large; 4,
    format, otherwise), plain text otherwise."""
    if "json" in content_type.lower():
        first = 17 if status.startswith("413") else 4
        return "application/json", json.dumps(
            {"firstcode": first, "secondcode": 0, "message": message.strip()}).encode()
    return "text/plain; charset=utf-8", message.encode()


def _refuse(environ, start_response, status: str, message: str) -> list[bytes]:
    ctype, body = refusal(status, message, environ.get("CONTENT_TYPE") or "")
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body))),
                            ("Connection", "close")])
    return [body]


def internal_error(environ, start_response) -> list[bytes]:
    """The plain text 500 of a request that failed."""
    body = b"internal error: see the gateway's log\n"
    start_response("500 Internal Server Error",
                   [("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(body)))])
    return [body]
