"""The ``Authorize`` operation of ``wsdl/processing.wsdl`` written and read with lxml, without
Zeep: Zeep builds and walks a tree of objects per call, which cost more than the rest of the
payment page's request.

``request_body`` writes the document/literal request Zeep writes from the WSDL;
``parse_answer`` reads the ``AuthorizeResponse`` (``wire.answer``: faults, DTDs, HTTP
statuses); an answer that is not an ``AuthorizeResult`` for this very request id is a
``BrokenAnswer``.  The request carries the card number and the CVC: it is never logged.
"""

from __future__ import annotations

from decimal import Decimal

from ..domain.cards import CardData
from ..domain.money import Money
from ..domain.ports import ProcessingReply
from .wire import SOAP_ENV, TNS, BrokenAnswer, answer, outcome, text

SOAP_ACTION = '"Authorize"'

_T = "{%s}" % TNS
_RESPONSE, _RESULT = f"{_T}AuthorizeResponse", f"{_T}AuthorizeResult"
_FIELDS = {f"{_T}{name}": name for name in ("request_id", "status", "response_code", "message",
                                            "approval_code", "reference", "amount", "currency",
                                            "acs_url", "authentication_id", "eci",
                                            "auth_result")}
_MANDATORY = ("request_id", "status", "response_code", "message", "amount", "currency")


def request_body(request_id: str, card: CardData, amount: Money,
                 skip_authentication: bool = False) -> bytes:
    """The SOAP 1.1 envelope of ``Authorize``, UTF-8 (``skip_authentication``: without 3-D
    Secure)."""
    if not isinstance(amount.amount, Decimal):
        raise TypeError("amounts are Decimal")
    return (f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<soap-env:Envelope xmlns:soap-env="{SOAP_ENV}"><soap-env:Body>'
            f'<p:Authorize xmlns:p="{TNS}"><p:request_id>{text(request_id)}</p:request_id>'
            f'<p:card_number>{text(card.number)}</p:card_number>'
            f'<p:expire_month>{int(card.expire_month)}</p:expire_month>'
            f'<p:expire_year>{int(card.expire_year)}</p:expire_year>'
            f'<p:cardholder>{text(card.cardholder)}</p:cardholder>'
            f'<p:cvc>{text(card.cvc)}</p:cvc>'
            f'<p:amount>{format(amount.amount, "f")}</p:amount>'
            f'<p:currency>{text(amount.currency)}</p:currency>'
            + ('<p:skip_authentication>true</p:skip_authentication>' if skip_authentication
               else '') +
            f'</p:Authorize></soap-env:Body></soap-env:Envelope>').encode("utf-8")


def parse_answer(content: bytes, request_id: str, http_status: int = 200) -> ProcessingReply:
    """The center's reply from an ``AuthorizeResponse`` (see the module doc)."""
    response = answer(content, http_status)
    if response.tag != _RESPONSE:
        raise BrokenAnswer("no AuthorizeResponse")
    result = response.find(_RESULT)
    if result is None:
        raise BrokenAnswer("no AuthorizeResult")
    fields = {_FIELDS[child.tag]: child.text for child in result if child.tag in _FIELDS}
    missing = [name for name in _MANDATORY if name not in fields]
    if missing:
        raise BrokenAnswer(f"AuthorizeResult without {', '.join(missing)}")
    if fields["request_id"] != request_id:
        raise BrokenAnswer("the answer is for another request")
    return ProcessingReply(
        outcome=outcome(fields["status"]), response_code=fields["response_code"],
        message=fields["message"], approval_code=fields.get("approval_code"),
        reference=fields.get("reference"), request_id=request_id,
        acs_url=fields.get("acs_url"), authentication_id=fields.get("authentication_id"),
        eci=fields.get("eci"), auth_result=fields.get("auth_result"))
