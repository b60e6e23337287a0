"""One WSGI entry for the merchant services' paths: which face answers a request.

For each Assist path (``/orderstate/orderstate.cfm`` …):

* ``GET …/<name>.wsdl`` (or ``…/<name>.cfm?wsdl``) — the service's WSDL, its address set to
  the request's host;
* a SOAP 1.1 envelope (an XML content type, a ``SOAPAction`` header, or a body starting with
  ``<``) — checked first (UTF-8 only, no DTD, no entities: refused with a fault before any
  parser sees it), parsed once and checked again (a SOAP 1.1 envelope whose Body holds this
  service's request element, numbers written as XML Schema writes them), then handed, as
  the parsed tree, to the service's Spyne application, which never sees a request it could
  not take: Spyne reads the values, calls the service and writes its faults; the rows the
  service returns are written here (``streaming``);
* a form POST asking for ``Format=4`` (SOAP; the default of some services) — turned into the
  service's SOAP request and answered by Spyne, so the reply is the SOAP face's own;
* anything else (forms in ``Format`` 1/3/5, JSON bodies) goes on to the Flask application,
  whose ``web.merchant`` blueprint renders the POST formats.

A password in the query string is refused on every face.
"""

from __future__ import annotations

import codecs
import io
import re
import threading
from typing import Callable, Iterable
from urllib.parse import parse_qsl

from lxml import etree
from spyne import Fault, MethodContext
from spyne.model.primitive import Decimal as SpyneDecimal
from spyne.model.primitive import Integer as SpyneInteger
from spyne.server import ServerBase

from ..domain.errors import AssistError, Second, malformed
from ..services.merchant_api import (PASSWORD_IN_URL, MerchantApi, parameter, password_in_query,
                                     refuse_unfit_text)
from . import streaming
from .faults import SOAP_ENV, AssistSoap11, fault_envelope
from .services import (BY_PATH, SOAP_HTTP, make_application, reply_names,
                       request_fields, wsdl_document)
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
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
#: Numbers as XML Schema writes them (``xs:int``, ``xs:decimal``): ASCII digits, a sign, a
#: point, blanks around; never an exponent, ``NaN``, ``1_000`` or another script's digits,
#: which Spyne's ``int()`` and ``Decimal()`` would take.
_BLANK = r"[ \t\r\n]*"
_INTEGER = re.compile(rf"{_BLANK}[+-]?[0-9]{{1,10}}{_BLANK}")
_DECIMAL = re.compile(rf"{_BLANK}[+-]?(?:[0-9]{{1,30}}(?:\.[0-9]{{0,30}})?|\.[0-9]{{1,30}})"
                      rf"{_BLANK}")


class Refused(AssistError):
    """A SOAP request refused before Spyne sees it (4: its form is wrong), with the
    ``faultcode`` of its fault."""

    firstcode = 4

    def __init__(self, message: str, secondcode: int = Second.SOAP_PACKET,
                 faultcode: str = "Client"):
        super().__init__(message, secondcode)
        self.faultcode = faultcode


def xml_problem(body: bytes) -> str | None:
    """Why an XML body is refused before parsing, or None: it must be UTF-8 (or ASCII; a
    UTF-8 byte order mark may lead) and carry no document type declaration and no entity
    declaration."""
    text = body[len(codecs.BOM_UTF8):] if body.startswith(codecs.BOM_UTF8) else body
    if text.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00")) or b"\x00" in text[:512]:
        return "only UTF-8 XML is accepted"
    m = _DECL.match(text)
    if m and m.group(1).lower() not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
        return f"only UTF-8 XML is accepted, not {m.group(1).decode()}"
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"only UTF-8 XML is accepted: the body is not UTF-8 (byte {exc.start})"
    upper = text.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        return "a DTD or an entity declaration is not allowed in a request"
    return None


def _number_pattern(spyne_type) -> re.Pattern | None:
    if issubclass(spyne_type, SpyneInteger):
        return _INTEGER
    if issubclass(spyne_type, SpyneDecimal):
        return _DECIMAL
    return None


def _respond(start_response, status: str, body: bytes, ctype: str) -> list[bytes]:
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def _fault(start_response, firstcode: int, secondcode: int, message: str,
           faultcode: str = "Client") -> list[bytes]:
    return _respond(start_response, "500 Internal Server Error",
                    fault_envelope(firstcode, secondcode, message, faultcode), _XML)


class _Server(ServerBase):
    """Spyne's request handling without a transport of its own (``MerchantServices`` reads
    and writes HTTP)."""

    transport = SOAP_HTTP


class MerchantServices:
    """WSGI middleware in front of the Flask app (see the module doc)."""

    def __init__(self, inner: Callable, api: MerchantApi, post: Callable | None = None):
        """``post(path, body, is_json, query_string, client)`` answers the other POSTs (a
        WSGI callable; ``client`` is the ``REMOTE_ADDR``); without it they go on to
        ``inner``."""
        self.inner, self.post = inner, post
        self.servers = {path: _Server(make_application(spec, api))
                        for path, spec in BY_PATH.items()}
        self.fields = {path: request_fields(s.app) for path, s in self.servers.items()}
        #: The reply's element and the element of its result, as the WSDL declares them.
        self.replies = {path: reply_names(s.app) for path, s in self.servers.items()}
        #: The request's numeric children and the pattern their text must match.
        self.numbers = {path: {name: pattern for name, kind in fields.items()
                               if (pattern := _number_pattern(kind)) is not None}
                        for path, fields in self.fields.items()}

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
        try:  # checked, and bounded (413 before a byte is read), by ``serving.edge``
            length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(min(length, MAX_BODY)) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        if self._is_soap(environ, body):
            if password_in_query(environ.get("QUERY_STRING", "")):
                return _fault(start_response, 19, 102, PASSWORD_IN_URL)
            return self._soap(base, environ, body, start_response)
        ctype = (environ.get("CONTENT_TYPE") or "").lower()
        is_form = ctype.startswith("application/x-www-form-urlencoded") or not ctype
        if is_form:
            found = _FORMAT.search(body)
            fmt = (found.group(1).decode("latin-1").strip() if found else "") or \
                BY_PATH[base].default_format
            if fmt == "4":
                if password_in_query(environ.get("QUERY_STRING", "")):
                    return _fault(start_response, 19, 102, PASSWORD_IN_URL)
                form = {k.lower(): v for k, v in parse_qsl(body.decode("utf-8", "replace"),
                                                           keep_blank_values=True)}
                try:
                    refuse_unfit_text(form)
                except AssistError as exc:
                    return _fault(start_response, exc.firstcode, exc.secondcode, exc.message)
                return self._soap(base, environ, self._envelope(base, form), start_response)
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
        """The request envelope parsed (as Spyne would) and checked, its operation's
        children qualified: Assist's own examples send them unqualified
        (``<ws:orderstate><ordernumber>``), sometimes in mixed case, where our WSDL
        qualifies them; both are accepted.  ``Refused`` when Spyne must not see it: not
        well-formed XML (4/0), not a SOAP 1.1 envelope, a Body without this service's
        request element (4/215), a number not written as XML Schema writes numbers
        (4 and the parameter's code).  The parser itself refuses characters XML cannot
        hold; an ``xsi:type`` cannot change the type a parameter is read as."""
        parser = getattr(_parsers, "parser", None)
        if parser is None:
            parser = _parsers.parser = etree.XMLParser(**_PARSER_OPTIONS)
        try:
            root = etree.fromstring(body, parser)
        except etree.XMLSyntaxError as exc:
            raise Refused(f"the request is not well-formed XML: {exc}", Second.NONE) from None
        name = etree.QName(root)
        if name.localname != "Envelope":
            raise Refused("the request is not a SOAP envelope")
        if name.namespace != SOAP_ENV:
            raise Refused(f"only SOAP 1.1 envelopes ({SOAP_ENV}) are answered, not "
                          f"{name.namespace or 'one without a namespace'}",
                          faultcode="VersionMismatch")
        soap_body = root.find(f"{{{SOAP_ENV}}}Body")
        op = soap_body[0] if soap_body is not None and len(soap_body) else None
        operation = BY_PATH[base].operation
        if op is None:
            raise Refused(f"the SOAP Body holds no request element ({operation} expected)")
        if op.tag != f"{{{NS}}}{operation}":
            sent = etree.QName(op)
            raise Refused(f"this address answers {operation} ({NS}), not {sent.localname} "
                          f"({sent.namespace or 'no namespace'})")
        fields, numbers = self.fields[base], self.numbers[base]
        for child in op:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            if tag.startswith(f"{{{NS}}}"):
                tag = tag[len(NS) + 2:]
            elif not tag.startswith("{"):
                tag = tag if tag in fields else tag.lower()
                child.tag = f"{{{NS}}}{tag}"
            child.attrib.pop(_XSI_TYPE, None)
            pattern, text = numbers.get(tag), child.text
            if pattern is not None and text and text.strip(" \t\r\n") and \
                    not pattern.fullmatch(text):
                label, code = parameter(tag)
                shown = text if len(text) <= 40 else text[:40] + "…"
                raise malformed(label, code, f"{shown!r} is not a number written in digits "
                                             f"0-9")
        return root

    def _soap(self, base: str, environ, body: bytes, start_response) -> Iterable[bytes]:
        problem = xml_problem(body)
        if problem:
            return _fault(start_response, 4, Second.SOAP_PACKET, problem)
        try:
            document = self._document(base, body)
        except AssistError as exc:
            return _fault(start_response, exc.firstcode, exc.secondcode, exc.message,
                          getattr(exc, "faultcode", "Client"))
        ctx = self._call(base, document, environ.get("REMOTE_ADDR"))
        if ctx.out_error is not None:  # Spyne writes the fault
            self.servers[base].get_out_string(ctx)
            return _respond(start_response, "500 Internal Server Error",
                            b"".join(ctx.out_string), _XML)
        reply, spec = ctx.out_object[0], BY_PATH[base]
        if spec.rows is None:
            start_response("200 OK", [("Content-Type", _XML)])
            return streaming.soap_results(reply)
        response, result = self.replies[base]
        content = {result: reply if result == spec.row else {spec.row: reply}}
        return _respond(start_response, "200 OK", streaming.soap_reply(response, content), _XML)

    def _call(self, base: str, document, client: str | None) -> MethodContext:
        """Spyne's handling of the checked envelope: its values read and checked, the
        service's method called (the client's address as the context's ``udc``).  The
        context has the method's return value, or the fault to answer."""
        server = self.servers[base]
        ctx = MethodContext(server, MethodContext.SERVER)
        ctx.udc, ctx.in_document = client, (document, {})
        protocol = server.app.in_protocol
        try:
            protocol.decompose_incoming_envelope(ctx, protocol.REQUEST)
            ctx = protocol.generate_method_contexts(ctx)[0]
        except Fault as exc:
            ctx.in_error = ctx.out_error = exc
            return ctx
        server.get_in_object(ctx)
        if ctx.in_error is None:
            server.get_out_object(ctx)
        return ctx
