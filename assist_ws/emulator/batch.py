"""``Settle`` batches answered without Spyne's per-element objects.

A settlement batch carries thousands of items; Spyne turns each element of the request and
of the answer into Python objects and spends several times longer on that than the ledger
on the batch itself.  This module answers ``Settle`` requests the way the Spyne service would
-- the request is validated against the contract's XML schema (the one embedded in the
published WSDL), the ledger does the work, the answer has the same elements -- with one lxml
parse and a streamed answer.  Every other operation still goes through Spyne.
"""

from __future__ import annotations

import copy
import threading
from decimal import Decimal, InvalidOperation
from xml.sax.saxutils import escape

from lxml import etree

from .config import Center
from .contract import TNS
from .ledger import Ledger, LedgerError

__all__ = ["BatchFault", "is_settle", "settle"]

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_XS = "http://www.w3.org/2001/XMLSchema"
_T = "{%s}" % TNS
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=True, remove_blank_text=True)

_schema_lock = threading.Lock()
_schema: etree.XMLSchema | None = None


class BatchFault(Exception):
    """Answered as a SOAP fault (``faultcode`` e.g. ``Client.SchemaValidationError``)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _contract_schema() -> etree.XMLSchema:
    """The XML schema of the contract, taken from the WSDL the emulator publishes."""
    global _schema
    with _schema_lock:
        if _schema is None:
            from .service import wsdl_document
            root = etree.fromstring(wsdl_document())
            found = root.find(f".//{{{_XS}}}schema")
            # A document of its own, declaring every prefix the WSDL declares: attribute
            # values such as type="tns:RequestId" need them.
            embedded = etree.Element(found.tag, attrib=dict(found.attrib), nsmap=root.nsmap)
            embedded.extend(copy.deepcopy(child) for child in found)
            _schema = etree.XMLSchema(etree.ElementTree(embedded))
        return _schema


def request_element(body: bytes, operation: str, parser: etree.XMLParser = _PARSER):
    """The ``operation`` element, alone in the body of the SOAP request ``body``, or None for
    anything else (which Spyne answers, faults included)."""
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        return None
    if root.getroottree().docinfo.doctype or root.tag != f"{{{SOAP_ENV}}}Envelope":
        return None
    soap_body = root.find(f"{{{SOAP_ENV}}}Body")
    if soap_body is None or len(soap_body) != 1 or soap_body[0].tag != f"{_T}{operation}":
        return None
    return soap_body[0]


def is_settle(body: bytes):
    """The ``Settle`` element of a SOAP request, or None for anything else."""
    if b"SettlementItem" not in body and b"Settle" not in body:
        return None
    return request_element(body, "Settle")


def settle(ledger: Ledger, center: Center, element) -> bytes:
    """Run the ``Settle`` request ``element`` against the ledger; the SOAP answer (UTF-8).
    Raises BatchFault for what Spyne would answer with a fault."""
    schema = _contract_schema()
    if not schema.validate(element):
        raise BatchFault("Client.SchemaValidationError", str(schema.error_log.last_error))
    batch_id = element.findtext(f"{_T}batch_id")
    triples = []
    items = element.find(f"{_T}items")
    for index, item in enumerate(items if items is not None else (), start=1):
        if len(item) != 3:  # the schema allows an empty (nil) item, the ledger does not
            raise BatchFault("Client.InvalidItem", f"item {index} is empty")
        # The schema fixed the order: request_id, authorization_request_id, amount.
        rid, aid, amount = (child.text for child in item)
        try:
            triples.append((rid, aid, Decimal(amount.strip())))
        except (InvalidOperation, AttributeError):
            raise BatchFault("Client.SchemaValidationError",
                             f"item {index}: amount is not a decimal") from None
    try:
        answers = ledger.settle(center, batch_id, triples)
    except LedgerError as exc:
        raise BatchFault(exc.code, exc.message) from None
    parts = [f"<?xml version='1.0' encoding='UTF-8'?>\n"
             f'<soap11env:Envelope xmlns:soap11env="{SOAP_ENV}" xmlns:tns="{TNS}">'
             f"<soap11env:Body><tns:SettleResponse><tns:SettleResult>"
             f"<tns:batch_id>{escape(batch_id)}</tns:batch_id><tns:items>"]
    for a in answers:
        parts.append(
            f"<tns:SettlementItemResult><tns:request_id>{escape(a['request_id'])}"
            f"</tns:request_id><tns:status>{a['status']}</tns:status><tns:response_code>"
            f"{escape(a['response_code'])}</tns:response_code><tns:message>"
            f"{escape(a['message'])}</tns:message></tns:SettlementItemResult>")
    parts.append("</tns:items></tns:SettleResult></tns:SettleResponse></soap11env:Body>"
                 "</soap11env:Envelope>")
    return "".join(parts).encode("utf-8")
