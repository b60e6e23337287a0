"""WSGI routing and the threaded HTTP server of the emulator.

:func:`make_wsgi_app` builds the WSGI callable: ``POST /<center>`` goes to the
Spyne SOAP application bound to that center, ``GET /<center>?wsdl`` returns
the center's WSDL, ``GET /ledger`` the ledger as JSON, ``/acs`` the 3-D Secure ACS page
(``acs.py``), anything else is 404.
Every operation is answered after the configured latency (none by default).
:func:`make_server` wraps it in a threaded wsgiref server (daemon threads, HTTP/1.1
keep-alive, quiet request logging) and :func:`serve` runs one forever.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import socketserver
import threading
import time
from collections import OrderedDict
from typing import IO, Any, cast
from urllib.parse import parse_qs
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer
from wsgiref.util import request_uri

from lxml import etree

from . import acs, authorize, batch
from .config import EmulatorConfig
from .ledger import Ledger
from .service import (ENV_KEY, MAX_REQUEST_BYTES, CenterBinding, wsdl_document,
                      wsgi_application)

__all__ = ["EmulatorApp", "EmulatorServer", "make_server", "make_wsgi_app", "serve"]

logger = logging.getLogger(__name__)

_JSON = "application/json; charset=utf-8"
_XML = "text/xml; charset=utf-8"
_TRUE = {"1", "true", "yes", "on"}
_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def _respond(start_response, status: str, body: bytes, content_type: str,
             extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    headers.extend(extra or [])
    start_response(status, headers)
    return [body]


def _json(start_response, status: str, obj, head: bool = False) -> list[bytes]:
    body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    out = _respond(start_response, status, body, _JSON)
    return [b""] if head else out


def _fault(start_response, code: str, message: str) -> list[bytes]:
    """A SOAP 1.1 fault answered by the router itself (HTTP 500, WS-I R1126)."""
    env = etree.Element(f"{{{_SOAP_ENV}}}Envelope", nsmap={"soap11env": _SOAP_ENV})
    fault = etree.SubElement(etree.SubElement(env, f"{{{_SOAP_ENV}}}Body"),
                             f"{{{_SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soap11env:{code}"
    etree.SubElement(fault, "faultstring").text = message
    body = etree.tostring(env, xml_declaration=True, encoding="UTF-8")
    return _respond(start_response, "500 Internal Server Error", body, _XML)


class EmulatorApp:
    """The WSGI callable of one emulator (see :func:`make_wsgi_app`).

    Owns the :class:`Ledger`; call :meth:`close` when done with it.
    """

    _WSDL_CACHE_SIZE = 32

    def __init__(self, config: EmulatorConfig, *, fast_settle: bool = True,
                 fast_authorize: bool = True):
        self.config = config
        #: Answer Settle batches without Spyne (``batch.py``); False sends them to Spyne too.
        self.fast_settle = fast_settle
        #: Answer Authorize without Spyne (``authorize.py``); False sends it to Spyne too.
        self.fast_authorize = fast_authorize
        self.ledger = Ledger(config.data_path)
        self.bindings = {c.name: CenterBinding(c, self.ledger, float(config.late_seconds))
                         for c in config.centers}
        self._soap = wsgi_application()
        self._wsdl_cache: OrderedDict[str, bytes] = OrderedDict()
        self._wsdl_lock = threading.Lock()

    def close(self) -> None:
        """Close the ledger."""
        self.ledger.close()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        method = (environ.get("REQUEST_METHOD") or "GET").upper()
        name = path.strip("/")
        if "/" in name or not name:
            return self._not_found(start_response, path)
        if name == "ledger":
            if method not in ("GET", "HEAD"):
                return _respond(start_response, "405 Method Not Allowed", b"", _JSON,
                                [("Allow", "GET, HEAD")])
            return self._ledger(environ, start_response, head=method == "HEAD")
        if name == "acs":  # the 3-D Secure ACS page, for the buyer's browser
            return acs.handle(self.ledger, environ, start_response)
        binding = self.bindings.get(name)
        if binding is None:
            return self._not_found(start_response, path)
        if method in ("GET", "HEAD"):
            query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            if any(k.lower() == "wsdl" for k in query):
                body = self._wsdl(environ)
                out = _respond(start_response, "200 OK", body, _XML)
                return [b""] if method == "HEAD" else out
            return _respond(start_response, "405 Method Not Allowed",
                            b"POST SOAP 1.1 requests here; GET ?wsdl for the WSDL\n",
                            "text/plain; charset=utf-8", [("Allow", "GET, HEAD, POST")])
        if method != "POST":
            return _respond(start_response, "405 Method Not Allowed", b"",
                            "text/plain; charset=utf-8", [("Allow", "GET, HEAD, POST")])
        return self._soap_call(environ, start_response, binding)

    def _soap_call(self, environ, start_response, binding: CenterBinding) -> list[bytes]:
        """Run Spyne on a fully read body; never let its exceptions escape."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return _fault(start_response, "Client.BadRequest", "invalid Content-Length")
        if length > MAX_REQUEST_BYTES:
            return _fault(start_response, "Client.RequestTooLong",
                          f"request larger than {MAX_REQUEST_BYTES} bytes")
        stream = environ["wsgi.input"]
        chunks, remaining = [], length
        while remaining > 0:
            chunk = stream.read(min(remaining, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        body = b"".join(chunks)
        if self.config.latency:
            time.sleep(self.config.latency)  # the bank thinking (this thread only)
        if not body.strip():
            return _fault(start_response, "Client.XMLSyntaxError", "empty request body")
        auth = authorize.is_authorize(body) if self.fast_authorize else None
        if auth is not None:
            return self._fast(start_response, "Authorize", lambda: authorize.authorize(
                binding.ledger, binding.center, binding.late_seconds, auth,
                acs.acs_url(environ)))
        settle = batch.is_settle(body) if self.fast_settle else None
        if settle is not None:
            return self._fast(start_response, "Settle", lambda: batch.settle(
                binding.ledger, binding.center, settle))
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO(body)
        env["CONTENT_LENGTH"] = str(len(body))
        env[ENV_KEY] = binding
        captured: list = []

        def capture(status, headers, exc_info=None):
            captured[:] = [status, headers]
            return lambda data: None   # Spyne does not use write()

        try:
            result = self._soap(env, capture)
            try:
                payload = b"".join(
                    part.encode("utf-8") if isinstance(part, str) else part
                    for part in result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:   # a Spyne bug must not take the connection down
            logger.exception("SOAP processing failed")
            return _fault(start_response, "Server", "internal error")
        if not captured:
            return _fault(start_response, "Server", "internal error")
        status, headers = captured
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(payload))))
        start_response(status, headers)
        return [payload]

    @staticmethod
    def _fast(start_response, operation: str, answer) -> list[bytes]:
        """An operation answered without Spyne, with the same guard as around Spyne."""
        try:
            payload = answer()
        except batch.BatchFault as fault:
            return _fault(start_response, fault.code, fault.message)
        except Exception:
            logger.exception("%s processing failed", operation)
            return _fault(start_response, "Server", "internal error")
        return _respond(start_response, "200 OK", payload, _XML)

    @staticmethod
    def _not_found(start_response, path: str) -> list[bytes]:
        return _json(start_response, "404 Not Found", {"error": f"no such resource: {path}"})

    def _wsdl(self, environ) -> bytes:
        location = request_uri(environ, include_query=False).rstrip("/")
        with self._wsdl_lock:
            cached = self._wsdl_cache.get(location)
            if cached is not None:
                self._wsdl_cache.move_to_end(location)
                return cached
        body = wsdl_document(location.rsplit("/", 1)[-1], location)
        with self._wsdl_lock:
            self._wsdl_cache[location] = body
            while len(self._wsdl_cache) > self._WSDL_CACHE_SIZE:
                self._wsdl_cache.popitem(last=False)
        return body

    def _ledger(self, environ, start_response, head: bool = False) -> list[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        centers = list(self.config.centers)
        wanted = query.get("center")
        if wanted:
            unknown = [n for n in wanted if n not in self.bindings]
            if unknown:
                return _json(start_response, "404 Not Found",
                             {"error": f"unknown center: {', '.join(unknown)}"}, head)
            centers = [c for c in centers if c.name in wanted]
        summary = any(v.strip().lower() in _TRUE for v in query.get("summary", []))
        doc = self.ledger.snapshot(centers, with_authorizations=not summary)
        return _json(start_response, "200 OK", doc, head)


def make_wsgi_app(config: EmulatorConfig) -> EmulatorApp:
    """The emulator's WSGI callable for ``config`` (opens the ledger)."""
    return EmulatorApp(config)


class _ServerHandler(ServerHandler):
    http_version = "1.1"
    #: Whether the response said its length (else only closing the connection ends it).
    sized = False
    headers: Any = None  # set by start_response (wsgiref's own attribute)
    request_handler: Any = None  # the connection's handler, for logging

    def close(self) -> None:
        self.sized = self.headers is not None and "Content-Length" in self.headers
        super().close()  # (forgets the headers)


class _Body(io.RawIOBase):
    """A request's body: at most ``length`` bytes of the connection, counted, so that what
    the application leaves unread can be skipped before the next request."""

    def __init__(self, stream, length: int):
        self._stream, self.left = stream, length

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > self.left:
            size = self.left
        data = self._stream.read(size) if size else b""
        self.left -= len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > self.left:
            size = self.left
        data = self._stream.readline(size) if size else b""
        self.left -= len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


class _QuietHandler(WSGIRequestHandler):
    """HTTP/1.1 with keep-alive: a gateway's pooled connection serves one request after
    another without a thread and a TCP connection of its own for each (most of an
    authorization's cost on the emulator's side).  Requests are logged at DEBUG instead of
    to stderr; a connection idle for ``timeout`` seconds is closed."""

    protocol_version = "HTTP/1.1"
    timeout = 30
    #: wsgiref writes the headers and the body in separate sends; with Nagle's algorithm on a
    #: kept-alive connection the body would wait for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    #: Unread request bodies up to this size are skipped to keep the connection.
    _DRAIN = 1 << 16
    server: "EmulatorServer"

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        logger.debug("%s - %s", self.address_string(), format % args)

    def handle(self) -> None:
        self.close_connection = True
        self.server.connections.add(self.request)
        try:
            self._one()
            while not self.close_connection and not self.server.closing:
                self._one()
        finally:
            self.server.connections.discard(self.request)

    def _one(self) -> None:
        self.close_connection = True
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except OSError:  # the idle timeout, or the peer went away
            return
        if not self.raw_requestline:
            return
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():  # an error was answered
            self.close_connection = True
            return
        keep = not self.close_connection
        self.close_connection = True
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or self.headers.get("Transfer-Encoding"):
            self.send_error(400, "a Content-Length body is expected")
            return
        body = _Body(self.rfile, length)
        handler = _ServerHandler(cast(IO[bytes], body), cast(IO[bytes], self.wfile),
                                 self.get_stderr(), self.get_environ(), multithread=False)
        handler.request_handler = self  # backpointer for logging
        app = self.server.get_app()
        if app is not None:
            handler.run(app)
        if keep and handler.sized and body.left <= self._DRAIN:
            while body.left and body.read(body.left):
                pass
            self.close_connection = bool(body.left)


class EmulatorServer(socketserver.ThreadingMixIn, WSGIServer):
    """Threaded wsgiref server (a thread per connection, kept alive); closing it closes the
    emulator's ledger and the connections kept open."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    emulator: EmulatorApp

    def server_bind(self) -> None:
        super().server_bind()
        self.connections: set = set()
        self.closing = False

    def server_close(self) -> None:
        self.closing = True
        super().server_close()
        for conn in list(self.connections):
            try:  # a kept-alive connection must not reach a closed ledger
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        app = getattr(self, "emulator", None)
        if app is not None:
            app.close()

    def handle_error(self, request, client_address) -> None:
        logger.exception("error while serving %s", client_address)


class _EmulatorServer6(EmulatorServer):
    address_family = socket.AF_INET6


def make_server(config: EmulatorConfig, host: str = "127.0.0.1",
                port: int = 8081) -> EmulatorServer:
    """A bound, not yet serving, threaded server (port 0 picks a free port).

    Use ``.serve_forever()``, ``.shutdown()``, ``.server_close()`` and
    ``.server_port``; ``.emulator`` is the :class:`EmulatorApp`.
    """
    app = make_wsgi_app(config)
    cls = _EmulatorServer6 if ":" in host else EmulatorServer
    try:
        server = cls((host, port), _QuietHandler)
    except BaseException:
        app.close()
        raise
    server.emulator = app
    server.set_app(app)
    return server


def serve(config: EmulatorConfig, host: str = "127.0.0.1", port: int = 8081) -> None:
    """Serve the emulator forever (until KeyboardInterrupt)."""
    server = make_server(config, host, port)
    logger.info("processing-center emulator on http://%s:%s/ (centers: %s)", host,
                server.server_port, ", ".join(c.name for c in config.centers))
    try:
        server.serve_forever()
    finally:
        server.server_close()
