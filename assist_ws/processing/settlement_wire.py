"""The ``Settle`` operation of ``wsdl/processing.wsdl`` written and read with lxml, without
Zeep: a batch carries thousands of items, and Zeep's object per element cost more than the
database and the center together.

``request_body`` writes the document/literal request Zeep would (``Settle/batch_id,
items/SettlementItem*``); ``parse_answer`` reads the ``SettleResponse`` (``wire.answer``:
faults, DTDs, HTTP statuses) into one reply per item.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Sequence

from ..domain.ports import ProcessingReply
from ..domain.settlement import SettlementItem
from .wire import HUGE_PARSER, SOAP_ENV, STATUS, TNS, BrokenAnswer, answer, text

SOAP_ACTION = '"Settle"'

_T = "{%s}" % TNS
_RID, _STATUS, _CODE, _MESSAGE = (f"{_T}{name}" for name in
                                  ("request_id", "status", "response_code", "message"))


def _amount(value: Decimal) -> str:
    if not isinstance(value, Decimal):
        raise TypeError("settlement amounts are Decimal")
    return format(value, "f")


def request_body(batch_id: str, items: Sequence[SettlementItem]) -> bytes:
    """The SOAP 1.1 envelope of ``Settle(batch_id, items)``, UTF-8."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>'
             f'<soap-env:Envelope xmlns:soap-env="{SOAP_ENV}"><soap-env:Body>'
             f'<p:Settle xmlns:p="{TNS}"><p:batch_id>{text(batch_id)}</p:batch_id><p:items>']
    for item in items:
        parts.append(
            f"<p:SettlementItem><p:request_id>{text(item.request_id)}</p:request_id>"
            f"<p:authorization_request_id>{text(item.authorization_request_id)}"
            f"</p:authorization_request_id><p:amount>{_amount(item.amount.amount)}</p:amount>"
            f"</p:SettlementItem>")
    parts.append("</p:items></p:Settle></soap-env:Body></soap-env:Envelope>")
    return "".join(parts).encode("utf-8")


def parse_answer(content: bytes, batch_id: str,
                 http_status: int = 200) -> dict[str, ProcessingReply]:
    """Replies by request id from a ``SettleResponse``; an item without a request id or with
    a status the contract does not name makes the answer a ``BrokenAnswer``."""
    first = answer(content, http_status, HUGE_PARSER)
    if first.tag != f"{_T}SettleResponse":
        raise BrokenAnswer(f"unexpected answer element {first.tag}")
    result = first.find(f"{_T}SettleResult")
    if result is None:
        raise BrokenAnswer("no SettleResult")
    if result.findtext(f"{_T}batch_id") != batch_id:
        raise BrokenAnswer("the answer is for another batch")
    replies: dict[str, ProcessingReply] = {}
    items = result.find(f"{_T}items")
    for row in (items if items is not None else ()):
        fields = {child.tag: child.text for child in row}
        rid, status = fields.get(_RID), fields.get(_STATUS)
        if not rid or status not in STATUS:
            raise BrokenAnswer(f"an item without request id or with status {status!r}")
        replies[rid] = ProcessingReply(
            outcome=STATUS[status], response_code=fields.get(_CODE),
            message=fields.get(_MESSAGE), request_id=rid, kind="settle")
    return replies
