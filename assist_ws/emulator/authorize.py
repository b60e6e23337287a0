"""``Authorize`` answered without Spyne (as ``batch.py`` answers ``Settle``).

Every card payment sends one ``Authorize``; Spyne turned its request and answer into Python
objects and spent several times longer on that than the ledger on the authorization.  This
module answers it the way the Spyne service does -- the request validated against the
contract's XML schema (the one embedded in the published WSDL), the ledger deciding, the
answer with the same elements in the same order, a late card's answer held back as long --
with one lxml parse and a written answer.  Faults are the ones Spyne would answer.
"""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from xml.sax.saxutils import escape

from lxml import etree

from .batch import SOAP_ENV, BatchFault, _contract_schema, request_element
from .contract import TNS
from .ledger import Ledger, LedgerError

__all__ = ["authorize", "is_authorize"]

_T = "{%s}" % TNS
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          remove_blank_text=True)
_FIELDS = ("request_id", "card_number", "expire_month", "expire_year", "cardholder", "cvc",
           "amount", "currency", "skip_authentication")
_TAGS = {f"{_T}{name}": name for name in _FIELDS}


def is_authorize(body: bytes):
    """The ``Authorize`` element of a SOAP request, or None for anything else (which Spyne
    answers, faults included)."""
    if b"Authorize" not in body:
        return None
    return request_element(body, "Authorize", _PARSER)


def _text(value) -> str:
    return escape(str(value))


def authorize(ledger: Ledger, center, late_seconds: float, element, acs: str = "") -> bytes:
    """Run the ``Authorize`` request ``element`` against the ledger; the SOAP answer (UTF-8);
    ``acs`` is the URL of the emulator's ACS page.  Raises BatchFault for what Spyne would
    answer with a fault."""
    schema = _contract_schema()
    if not schema.validate(element):
        raise BatchFault("Client.SchemaValidationError", str(schema.error_log.last_error))
    values = {_TAGS[child.tag]: child.text for child in element if child.tag in _TAGS}
    try:
        month, year = int(values["expire_month"]), int(values["expire_year"])
        amount = Decimal(values["amount"].strip())
    except (KeyError, ValueError, AttributeError, InvalidOperation):
        raise BatchFault("Client.SchemaValidationError", "malformed Authorize") from None
    try:
        answer, late = ledger.authorize(
            center, values.get("request_id") or "", values.get("card_number") or "", month,
            year, values.get("cardholder") or "", values.get("cvc") or "", amount,
            values.get("currency") or "",
            (values.get("skip_authentication") or "").strip() in ("true", "1"))
    except LedgerError as exc:
        raise BatchFault(exc.code, exc.message) from None
    if late and late_seconds > 0:
        time.sleep(late_seconds)
    if answer.get("authentication_id"):
        answer = {**answer, "acs_url": acs}
    optional = "".join(f"<tns:{name}>{_text(answer[name])}</tns:{name}>"
                       for name in ("approval_code", "reference") if answer.get(name))
    secure = "".join(f"<tns:{name}>{_text(answer[name])}</tns:{name}>"
                     for name in ("acs_url", "authentication_id", "eci", "auth_result")
                     if answer.get(name))
    return (f"<?xml version='1.0' encoding='UTF-8'?>\n"
            f'<soap11env:Envelope xmlns:soap11env="{SOAP_ENV}" xmlns:tns="{TNS}">'
            f"<soap11env:Body><tns:AuthorizeResponse><tns:AuthorizeResult>"
            f"<tns:request_id>{_text(answer['request_id'])}</tns:request_id>"
            f"<tns:status>{_text(answer['status'])}</tns:status>"
            f"<tns:response_code>{_text(answer['response_code'])}</tns:response_code>"
            f"<tns:message>{_text(answer['message'])}</tns:message>{optional}"
            f"<tns:amount>{Decimal(answer['amount'])}</tns:amount>"
            f"<tns:currency>{_text(answer['currency'])}</tns:currency>{secure}"
            f"</tns:AuthorizeResult></tns:AuthorizeResponse></soap11env:Body>"
            f"</soap11env:Envelope>").encode("utf-8")
