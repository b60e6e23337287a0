"""The ``Authorize`` operation of ``wsdl/processing.wsdl`` on the wire, written and read with
lxml directly (as ``settlement_wire`` does for ``Settle``).

Zeep builds and walks a tree of objects for every call, and spent more time on one
authorization than the payment page's whole request did besides.  This module writes the
document/literal request Zeep writes from the WSDL (``Authorize`` in the namespace
``urn:assist-ws:processing:1``: ``request_id``, ``card_number``, ``expire_month``,
``expire_year``, ``cardholder``, ``cvc``, ``amount``, ``currency``) and reads the
``AuthorizeResponse`` with one lxml parse that refuses DTDs and entities.  An answer that is
not an ``AuthorizeResult`` for this very request id is a broken answer (the outcome stays
unknown).  The request carries the card number and the CVC: it is never logged.
"""

from __future__ import annotations

from decimal import Decimal
from xml.sax.saxutils import escape

from lxml import etree

from ..domain.cards import CardData
from ..domain.money import Money
from ..domain.ports import Outcome, ProcessingReply
from .settlement_wire import BrokenAnswer, envelope_body

TNS = "urn:assist-ws:processing:1"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ACTION = '"Authorize"'

_STATUS = {"approved": Outcome.SUCCESS, "declined": Outcome.DECLINED}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          remove_blank_text=True)
_T = "{%s}" % TNS
_RESPONSE, _RESULT = f"{_T}AuthorizeResponse", f"{_T}AuthorizeResult"
_FIELDS = {f"{_T}{name}": name for name in ("request_id", "status", "response_code", "message",
                                            "approval_code", "reference", "amount", "currency")}
_MANDATORY = ("request_id", "status", "response_code", "message", "amount", "currency")


def _text(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def request_body(request_id: str, card: CardData, amount: Money) -> bytes:
    """The SOAP 1.1 envelope of ``Authorize``, UTF-8."""
    if not isinstance(amount.amount, Decimal):
        raise TypeError("amounts are Decimal")
    return (f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<soap-env:Envelope xmlns:soap-env="{SOAP_ENV}"><soap-env:Body>'
            f'<p:Authorize xmlns:p="{TNS}"><p:request_id>{_text(request_id)}</p:request_id>'
            f'<p:card_number>{_text(card.number)}</p:card_number>'
            f'<p:expire_month>{int(card.expire_month)}</p:expire_month>'
            f'<p:expire_year>{int(card.expire_year)}</p:expire_year>'
            f'<p:cardholder>{_text(card.cardholder)}</p:cardholder>'
            f'<p:cvc>{_text(card.cvc)}</p:cvc>'
            f'<p:amount>{format(amount.amount, "f")}</p:amount>'
            f'<p:currency>{_text(amount.currency)}</p:currency>'
            f'</p:Authorize></soap-env:Body></soap-env:Envelope>').encode("utf-8")


def parse_answer(content: bytes, request_id: str) -> ProcessingReply:
    """The center's reply from an ``AuthorizeResponse``; BrokenAnswer for anything else."""
    body = envelope_body(content, _PARSER)
    response = body[0] if body is not None and len(body) else None
    if response is None or response.tag != _RESPONSE:
        raise BrokenAnswer("no AuthorizeResponse")
    result = response.find(_RESULT)
    if result is None:
        raise BrokenAnswer("no AuthorizeResult")
    fields = {_FIELDS[child.tag]: child.text for child in result
              if child.tag in _FIELDS}
    missing = [name for name in _MANDATORY if name not in fields]
    if missing:
        raise BrokenAnswer(f"AuthorizeResult without {', '.join(missing)}")
    if fields["request_id"] != request_id:
        raise BrokenAnswer("the answer is for another request")
    return ProcessingReply(
        outcome=_STATUS.get(fields["status"], Outcome.UNKNOWN),
        response_code=fields["response_code"], message=fields["message"],
        approval_code=fields.get("approval_code"), reference=fields.get("reference"),
        request_id=request_id)
