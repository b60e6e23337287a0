"""SOAP replies written directly, as Spyne would write them for the declared wire types.

Spyne builds an element tree of the whole reply and walks its type declarations for every
value; for the services' replies (flat fields in declared order, ``services.replies``) a
writer is several times faster.  ``soap_reply`` writes any reply from its field
dictionaries; ``soap_results`` streams results by date row by row, in chunks, while the rows
are read page by page, so a window of a million operations answers in bounded memory.  Tests
validate both against the WSDLs' schemas and read them with two SOAP stacks."""

from __future__ import annotations

from typing import Iterable, Iterator

from ..domain.records import OperationLine
from ..domain.text import xml_unfit
from ..services.replies import RESULT_LINE_FIELDS, SOAP_TEXT, chunked, result_line, text, xml_text
from .faults import SOAP_ENV
from .wire import NS

_HEAD = (f"<?xml version='1.0' encoding='UTF-8'?>\n<soap11env:Envelope "
         f"xmlns:soap11env=\"{SOAP_ENV}\" xmlns:tns=\"{NS}\"><soap11env:Body>")
_TAIL = "</soap11env:Body></soap11env:Envelope>"
_ELEMENTS = tuple((f"<tns:{name}>", f"</tns:{name}>") for name in RESULT_LINE_FIELDS)


def soap_text(value) -> str:
    """A reply value as SOAP text (``SOAP_TEXT``: the same forms Spyne writes), escaped."""
    return xml_text(value) if isinstance(value, str) else text(value, SOAP_TEXT)


def _element(name: str, value, parts: list[str]) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        parts.append(f"<tns:{name}>")
        for key, item in value.items():
            _element(key, item, parts)
        parts.append(f"</tns:{name}>")
    elif isinstance(value, list):
        for item in value:
            _element(name, item, parts)
    else:
        parts.append(f"<tns:{name}>{soap_text(value)}</tns:{name}>")


def soap_reply(response: str, content: dict) -> bytes:
    """The envelope of a reply: ``<tns:{response}>`` holding ``content`` (element name ->
    dict of fields, list of such dicts, or a value; ``None`` is left out)."""
    parts = [_HEAD, f"<tns:{response}>"]
    for key, item in content.items():
        _element(key, item, parts)
    parts.append(f"</tns:{response}>{_TAIL}")
    return "".join(parts).encode("utf-8")


def soap_results(lines: Iterable[OperationLine]) -> Iterator[bytes]:
    """Results by date, streamed in chunks (``chunked``)."""
    return chunked(_results(lines))


def _results(lines: Iterable[OperationLine]) -> Iterator[str]:
    yield _HEAD + "<tns:resultbydateResponse><tns:resultbydate>"
    conv = SOAP_TEXT
    for line in lines:
        texts = [None if v is None else v if type(v) is str else conv[type(v)](v)
                 for v in result_line(line)]
        joined = "".join([t for t in texts if t is not None])
        if "&" in joined or "<" in joined or ">" in joined or xml_unfit(joined):
            texts = [None if t is None else xml_text(t) for t in texts]
        # Absent values are left out (minOccurs=0), never sent empty.
        yield "<tns:operation>" + "".join(
            [o + t + c for (o, c), t in zip(_ELEMENTS, texts) if t is not None]) \
            + "</tns:operation>"
    yield "</tns:resultbydate></tns:resultbydateResponse>" + _TAIL
