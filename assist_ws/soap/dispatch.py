"""One WSGI entry for the merchant services' paths: which face answers a request.

For each Assist path (``/orderstate/orderstate.cfm`` …):

* ``GET …/<name>.wsdl`` (or ``…/<name>.cfm?wsdl``) — the service's WSDL, its address set to
  the request's host;
* a SOAP 1.1 envelope (an XML content type, a ``SOAPAction`` header, or a body starting with
  ``<``) — checked first (UTF-8 only, no DTD, no entities: refused with a fault before any
  parser sees it), then answered by the service's Spyne application;
* a form POST asking for ``Format=4`` (SOAP; the default of some services) — turned into the
  service's SOAP request and answered by Spyne, so the reply is the SOAP face's own;
* anything else (forms in ``Format`` 1/3/5, JSON bodies) goes on to the Flask application,
  whose ``web.merchant`` blueprint renders the POST formats.

A password in the query string is refused on every face.
"""

from __future__ import annotations

import io
import re
import threading
from typing import Callable, Iterable
from urllib.parse import parse_qsl

from lxml import etree
from spyne.server.wsgi import WsgiApplication

from ..services.merchant_api import PASSWORD_IN_URL, MerchantApi, password_in_query
from . import streaming
from .faults import DOCUMENT_KEY, SOAP_ENV, AssistSoap11, fault_envelope
from .services import (BY_PATH, REPLY_KEY, STREAM_KEY, make_application, request_fields,
                       wsdl_document)
from .wire import NS

#: The largest request body accepted (SOAP or form): these are small requests.
MAX_BODY = 256 * 1024
_XML_TYPES = ("text/xml", "application/soap+xml", "application/xml")
_DECL = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
#: How Spyne parses a request (no DTD, no entities, no network, comments and processing
#: instructions dropped); ``dispatch`` parses it so, once, and hands Spyne the tree.
_PARSER_OPTIONS = AssistSoap11().parser_kwargs
_parsers = threading.local()
_XML = "text/xml; charset=utf-8"
_FORMAT = re.compile(rb"(?:^|&)format=([^&]*)", re.I)


def xml_problem(body: bytes) -> str | None:
    """Why an XML body is refused before parsing, or None: it must be UTF-8 (or ASCII) and
    carry no document type declaration and no entity declaration."""
    if body.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00", b"\xef\xbb\xbf\x00")) or \
            b"\x00" in body[:512]:
        return "only UTF-8 XML is accepted"
    m = _DECL.match(body)
    if m and m.group(1).lower() not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
        return f"only UTF-8 XML is accepted, not {m.group(1).decode()}"
    upper = body.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        return "a DTD or an entity declaration is not allowed in a request"
    return None


def _respond(start_response, status: str, body: bytes, ctype: str) -> list[bytes]:
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def _fault(start_response, firstcode: int, secondcode: int, message: str) -> list[bytes]:
    return _respond(start_response, "500 Internal Server Error",
                    fault_envelope(firstcode, secondcode, message), _XML)


class MerchantServices:
    """WSGI middleware in front of the Flask app (see the module doc)."""

    def __init__(self, inner: Callable, api: MerchantApi, post: Callable | None = None):
        """``post(path, body, is_json, query_string, client)`` answers the other POSTs (a
        WSGI callable; ``client`` is the ``REMOTE_ADDR``); without it they go on to
        ``inner``."""
        self.inner, self.post = inner, post
        self.apps = {path: WsgiApplication(make_application(spec, api),
                                           max_content_length=MAX_BODY)
                     for path, spec in BY_PATH.items()}
        self.fields = {path: request_fields(app.app) for path, app in self.apps.items()}
        self.names = {path: frozenset(fields) for path, fields in self.fields.items()}

    def __call__(self, environ, start_response) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        base, dot, ext = path.rpartition(".")
        if not dot or base not in BY_PATH:
            return self.inner(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if ext == "wsdl":
            if method not in ("GET", "HEAD"):
                return _respond(start_response, "405 Method Not Allowed", b"GET the WSDL\n",
                                "text/plain; charset=utf-8")
            body = wsdl_document(base, self._location(environ, base))
            out = _respond(start_response, "200 OK", body, _XML)
            return [b""] if method == "HEAD" else out
        if ext == "cfm" and method in ("GET", "HEAD") and \
                (environ.get("QUERY_STRING") or "").lower() in ("wsdl", "wsdl="):
            body = wsdl_document(base, self._location(environ, base))  # the ?wsdl habit
            out = _respond(start_response, "200 OK", body, _XML)
            return [b""] if method == "HEAD" else out
        if ext != "cfm" or method != "POST":
            return self.inner(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return _respond(start_response, "413 Request Entity Too Large",
                            f"requests are at most {MAX_BODY} bytes\n".encode(),
                            "text/plain; charset=utf-8")
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        if self._is_soap(environ, body):
            if password_in_query(environ.get("QUERY_STRING", "")):
                return _fault(start_response, 19, 102, PASSWORD_IN_URL)
            return self._soap(base, environ, body, start_response)
        ctype = (environ.get("CONTENT_TYPE") or "").lower()
        is_form = ctype.startswith("application/x-www-form-urlencoded") or not ctype
        if is_form:
            fmt = _FORMAT.search(body)
            fmt = (fmt.group(1).decode("latin-1").strip() if fmt else "") or \
                BY_PATH[base].default_format
            if fmt == "4":
                if password_in_query(environ.get("QUERY_STRING", "")):
                    return _fault(start_response, 19, 102, PASSWORD_IN_URL)
                form = {k.lower(): v for k, v in parse_qsl(body.decode("utf-8", "replace"),
                                                           keep_blank_values=True)}
                envelope = self._envelope(base, form)
                env = dict(environ, CONTENT_TYPE=_XML, CONTENT_LENGTH=str(len(envelope)))
                return self._soap(base, env, envelope, start_response)
        if self.post is not None and (is_form or ctype.startswith("application/json")):
            reply = self.post(base, body, not is_form, environ.get("QUERY_STRING", ""),
                              environ.get("REMOTE_ADDR"))
            return reply(environ, start_response)
        return self.inner(environ, start_response)

    @staticmethod
    def _location(environ, base: str) -> str:
        # The scheme and host are the public URL's when one is configured, and a trusted
        # proxy's otherwise (``serving.edge``): never a forwarded header believed here.
        scheme = environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST") or (
            f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}")
        return f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}{base}.cfm"

    @staticmethod
    def _is_soap(environ, body: bytes) -> bool:
        ctype = (environ.get("CONTENT_TYPE") or "").lower()
        return (ctype.startswith(_XML_TYPES) or "HTTP_SOAPACTION" in environ
                or body.lstrip()[:1] == b"<")

    def _envelope(self, base: str, form: dict[str, str]) -> bytes:
        """The SOAP request a form POST stands for (field names are case-insensitive)."""
        env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soapenv": SOAP_ENV, "ws": NS})
        op = etree.SubElement(etree.SubElement(env, f"{{{SOAP_ENV}}}Body"),
                              f"{{{NS}}}{BY_PATH[base].operation}")
        for name in self.fields[base]:
            value = (form.get(name) or "").strip()
            if value:
                if name == "amount":
                    value = value.replace(",", ".")
                etree.SubElement(op, f"{{{NS}}}{name}").text = value
        return etree.tostring(env, xml_declaration=True, encoding="UTF-8")

    def _document(self, base: str, body: bytes):
        """The request envelope parsed (as Spyne would), its operation's children
        qualified: Assist's own examples send them unqualified
        (``<ws:orderstate><ordernumber>``), sometimes in mixed case, where our WSDL
        qualifies them; both are accepted.  None when it does not parse (Spyne parses it
        again and answers with its fault)."""
        parser = getattr(_parsers, "parser", None)
        if parser is None:
            parser = _parsers.parser = etree.XMLParser(**_PARSER_OPTIONS)
        try:
            root = etree.fromstring(body, parser)
        except etree.XMLSyntaxError:
            return None
        soap_body = root.find(f"{{{SOAP_ENV}}}Body")
        op = soap_body[0] if soap_body is not None and len(soap_body) else None
        if op is None or not isinstance(op.tag, str):
            return root
        names = self.names[base]
        for child in op:
            tag = child.tag
            if isinstance(tag, str) and not tag.startswith("{"):
                child.tag = f"{{{NS}}}{tag if tag in names else tag.lower()}"
        return root

    def _soap(self, base: str, environ, body: bytes, start_response) -> Iterable[bytes]:
        problem = xml_problem(body)
        if problem:
            return _fault(start_response, 4, 215, problem)
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO(body)
        env["CONTENT_LENGTH"] = str(len(body))
        env[DOCUMENT_KEY] = self._document(base, body)
        env[STREAM_KEY] = env[REPLY_KEY] = None
        captured: list = []

        def capture(status, headers, exc_info=None):
            captured[:] = [status, headers]
            return lambda data: None

        result = self.apps[base](env, capture)
        try:
            payload = b"".join(p.encode() if isinstance(p, str) else p for p in result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        stream, reply = env.get(STREAM_KEY), env.get(REPLY_KEY)
        status, headers = captured
        if stream is not None and status.startswith("200"):
            start_response("200 OK", [("Content-Type", _XML)])
            return streaming.soap_results(stream)
        if reply is not None and status.startswith("200"):
            return _respond(start_response, "200 OK", streaming.soap_reply(*reply), _XML)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(payload))))
        start_response(status, headers)
        return [payload]
