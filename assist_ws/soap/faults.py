"""The one place where refusals become SOAP faults.

``AssistApplication.call_wrapper`` turns a domain ``AssistError`` raised by a use case into an
``AssistFault``; ``AssistSoap11`` renders every fault Spyne answers (ours, its own parse and
validation errors, internal errors) as a SOAP 1.1 Fault whose ``detail`` holds a typed
``AssistFault`` element with ``firstcode``, ``secondcode`` and ``message`` -- and
``fault_envelope`` renders the same for requests refused before Spyne sees them (a DTD in
the body, a password in the URL).
"""

from __future__ import annotations

import logging

from lxml import etree
from spyne import Application, Fault
from spyne.protocol.soap import Soap11

from ..domain.errors import AssistError
from ..domain.text import xml_fit
from .wire import NS, AssistFault

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_log = logging.getLogger(__name__)
logging.getLogger("spyne").addHandler(logging.NullHandler())

#: firstcodes that are the server's fault rather than the request's.
_SERVER_CODES = {1, 2, 12, 16}


def fault_of(error: AssistError) -> AssistFault:
    return AssistFault(error.firstcode, error.secondcode, error.message,
                       "Server" if error.firstcode in _SERVER_CODES else "Client")


def _as_assist(fault) -> AssistFault:
    if isinstance(fault, AssistFault):
        return fault
    code = str(getattr(fault, "faultcode", "Server") or "Server")
    text = str(getattr(fault, "faultstring", "") or code)
    if code.startswith("Client"):
        # Spyne's own refusals: a body it cannot parse, a value not of its type.
        return AssistFault(4, 0, f"malformed request: {text}", "Client")
    return AssistFault(2, 1, "internal error", "Server")


def fault_element(fault, prefix_map: dict | None = None) -> etree._Element:
    """``<soap:Fault>`` with the typed detail (a message quoting a request never carries a
    character XML cannot hold)."""
    f = _as_assist(fault)
    message = xml_fit(f.message)
    el = etree.Element(f"{{{SOAP_ENV}}}Fault", nsmap=prefix_map or {"soap11env": SOAP_ENV})
    etree.SubElement(el, "faultcode").text = f"soap11env:{f.faultcode}"
    etree.SubElement(el, "faultstring").text = message
    detail = etree.SubElement(etree.SubElement(el, "detail"), f"{{{NS}}}AssistFault",
                              nsmap={"tns": NS})
    etree.SubElement(detail, f"{{{NS}}}firstcode").text = str(f.firstcode)
    etree.SubElement(detail, f"{{{NS}}}secondcode").text = str(f.secondcode)
    etree.SubElement(detail, f"{{{NS}}}message").text = message
    return el


def fault_envelope(firstcode: int, secondcode: int, message: str,
                   faultcode: str = "Client") -> bytes:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap11env": SOAP_ENV})
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    body.append(fault_element(AssistFault(firstcode, secondcode, message, faultcode)))
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


class AssistSoap11(Soap11):
    """SOAP 1.1 whose faults all carry Assist's codes in a typed detail."""

    def fault_to_parent(self, ctx, cls, inst, parent, ns, *args, **kwargs):
        parent.append(fault_element(inst))

    def schema_validation_error_to_parent(self, ctx, cls, inst, parent, ns, **_):
        parent.append(fault_element(inst))


class AssistApplication(Application):
    """A Spyne application whose use cases' refusals become typed faults."""

    def call_wrapper(self, ctx):
        try:
            return super().call_wrapper(ctx)
        except AssistError as exc:
            raise fault_of(exc) from None
        except Fault:
            raise
        except Exception:
            _log.exception("web service %s failed", getattr(ctx, "method_request_string", ""))
            raise AssistFault(2, 1, "internal error", "Server") from None
