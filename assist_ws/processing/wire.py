"""What every exchange with a processing center shares: the SOAP 1.1 envelope of the answer,
the fault a center answers with, the one map from the contract's statuses to outcomes, and
the escaping of the requests written with lxml.

``answer`` reads an answer once with lxml, refusing DTDs and entities: a SOAP fault (whatever
the HTTP status) raises ``CenterFault``; anything but a ``200`` envelope with an element in
its body raises ``BrokenAnswer``.  Every answer goes through it: those Zeep reads
(``transport.ZeepTransport``) and those ``authorize_wire`` and ``settlement_wire`` read.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from lxml import etree

from ..domain.ports import Outcome

TNS = "urn:assist-ws:processing:1"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"

#: The contract's statuses (``TransactionState`` holds them all) and what each means.
STATUS = {"approved": Outcome.SUCCESS, "success": Outcome.SUCCESS,
          "declined": Outcome.DECLINED, "not_found": Outcome.NOT_FOUND,
          "in_progress": Outcome.IN_PROGRESS,
          "authentication_required": Outcome.AUTHENTICATE}

PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                         remove_blank_text=True)
#: For a settlement batch's answer, which may be large.
HUGE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                              huge_tree=True, remove_blank_text=True)
_ENVELOPE, _BODY, _FAULT = (f"{{{SOAP_ENV}}}{name}" for name in ("Envelope", "Body", "Fault"))


def outcome(status: str | None) -> Outcome:
    """The outcome a status means; UNKNOWN for a status the contract does not name."""
    return STATUS.get(status or "", Outcome.UNKNOWN)


class BrokenAnswer(ValueError):
    """The answer is not the one asked for: the request may have been acted on."""


class CenterFault(Exception):
    """The center answered with a SOAP fault: it refused the request and did nothing."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def text(value: str) -> str:
    """``value`` as element or attribute text."""
    return escape(value, {'"': "&quot;"})


def answer(content: bytes, http_status: int = 200,
           parser: etree.XMLParser = PARSER) -> etree._Element:
    """The element in the body of a center's answer (see the module doc)."""
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        raise BrokenAnswer(f"HTTP {http_status}, not XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise BrokenAnswer("a DTD in the answer")
    if root.tag != _ENVELOPE:
        raise BrokenAnswer(f"HTTP {http_status}, not a SOAP 1.1 envelope: {root.tag}")
    body = root.find(_BODY)
    if body is None or len(body) == 0:
        raise BrokenAnswer("an empty SOAP body")
    first = body[0]
    if first.tag == _FAULT:
        raise CenterFault((first.findtext("faultcode") or "").split(":")[-1],
                          first.findtext("faultstring") or "fault")
    if http_status != 200:
        raise BrokenAnswer(f"HTTP {http_status}")
    return first
