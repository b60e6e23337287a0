"""The ``Settle`` operation of ``wsdl/processing.wsdl`` on the wire, written and read with
lxml directly.

A settlement batch carries thousands of items; Zeep builds and parses an object per element
and spends more time on a batch than the database and the center together.  This module
writes the same document/literal request Zeep would (namespace ``urn:assist-ws:processing:1``,
``Settle/batch_id, items/SettlementItem*``) and reads the ``SettleResponse`` with one lxml
parse, refusing DTDs and entities.  Everything else still goes through Zeep.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Sequence
from xml.sax.saxutils import escape

from lxml import etree

from ..domain.ports import Outcome, ProcessingReply
from ..domain.settlement import SettlementItem

TNS = "urn:assist-ws:processing:1"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ACTION = '"Settle"'
CONTENT_TYPE = "text/xml; charset=utf-8"

_STATUS = {"success": Outcome.SUCCESS, "declined": Outcome.DECLINED,
           "not_found": Outcome.NOT_FOUND}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=True, remove_blank_text=True)
_T = "{%s}" % TNS
_RID, _STATUS_TAG, _CODE, _MESSAGE = (f"{_T}{name}" for name in
                                      ("request_id", "status", "response_code", "message"))


class BrokenAnswer(ValueError):
    """The center's answer is not a SettleResponse for this batch."""


class CenterFault(Exception):
    """The center answered the whole batch with a SOAP fault."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _amount(value: Decimal) -> str:
    if not isinstance(value, Decimal):
        raise TypeError("settlement amounts are Decimal")
    return format(value, "f")


def request_body(batch_id: str, items: Sequence[SettlementItem]) -> bytes:
    """The SOAP 1.1 envelope of ``Settle(batch_id, items)``, UTF-8."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>'
             f'<soap-env:Envelope xmlns:soap-env="{SOAP_ENV}"><soap-env:Body>'
             f'<p:Settle xmlns:p="{TNS}"><p:batch_id>{escape(batch_id)}</p:batch_id><p:items>']
    for item in items:
        parts.append(
            f"<p:SettlementItem><p:request_id>{escape(item.request_id)}</p:request_id>"
            f"<p:authorization_request_id>{escape(item.authorization_request_id)}"
            f"</p:authorization_request_id><p:amount>{_amount(item.amount.amount)}</p:amount>"
            f"</p:SettlementItem>")
    parts.append("</p:items></p:Settle></soap-env:Body></soap-env:Envelope>")
    return "".join(parts).encode("utf-8")


def envelope_body(content: bytes, parser: etree.XMLParser = _PARSER):
    """The ``Body`` element (None when absent) of a center's SOAP 1.1 answer; BrokenAnswer
    when the answer is not XML, carries a DTD or is not an envelope."""
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        raise BrokenAnswer(f"not XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise BrokenAnswer("a DTD in the answer")
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise BrokenAnswer(f"not a SOAP 1.1 envelope: {root.tag}")
    return root.find(f"{{{SOAP_ENV}}}Body")


def _body(content: bytes):
    body = envelope_body(content)
    if body is None or len(body) == 0:
        raise BrokenAnswer("an empty SOAP body")
    return body[0]


def parse_fault(content: bytes) -> CenterFault | None:
    """The fault in a SOAP answer, or None when it is none."""
    try:
        first = _body(content)
    except BrokenAnswer:
        return None
    if first.tag != f"{{{SOAP_ENV}}}Fault":
        return None
    code = (first.findtext("faultcode") or "").split(":")[-1]
    return CenterFault(code, first.findtext("faultstring") or "fault")


def parse_answer(content: bytes, batch_id: str) -> dict[str, ProcessingReply]:
    """Replies by request id from a ``SettleResponse``; BrokenAnswer for anything else."""
    first = _body(content)
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
        rid, status = fields.get(_RID), fields.get(_STATUS_TAG)
        if not rid or status not in _STATUS:
            raise BrokenAnswer(f"an item without request id or with status {status!r}")
        replies[rid] = ProcessingReply(
            outcome=_STATUS[status], response_code=fields.get(_CODE),
            message=fields.get(_MESSAGE), request_id=rid, kind="settle")
    return replies
