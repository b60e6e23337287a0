"""SOAP replies written directly, as Spyne would write them for the declared wire types.

Spyne builds an element tree of the whole reply and walks its type declarations for every
value; for the services' replies (flat fields in declared order, ``services.replies``) a
writer is several times faster.  ``soap_reply`` writes any reply from its field
dictionaries; ``soap_results`` streams results by date row by row, in chunks, while the rows
are read page by page, so a window of a million operations answers in bounded memory.  Tests
validate both against the WSDLs' schemas and read them with two SOAP stacks."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator
from xml.sax.saxutils import escape

from ..domain.money import Money
from ..domain.records import OperationLine
from ..domain.text import xml_fit, xml_unfit
from ..services.replies import RESULT_LINE_FIELDS, result_line
from .faults import SOAP_ENV
from .wire import NS

CHUNK = 64 * 1024
_HEAD = (f"<?xml version='1.0' encoding='UTF-8'?>\n<soap11env:Envelope xmlns:soap11env="
         f"\"{SOAP_ENV}\" xmlns:tns=\"{NS}\"><soap11env:Body><tns:resultbydateResponse>"
         f"<tns:resultbydate>").encode()
_TAIL = b"</tns:resultbydate></tns:resultbydateResponse></soap11env:Body></soap11env:Envelope>"
_OPEN = tuple(f"<tns:{name}>" for name in RESULT_LINE_FIELDS)
_CLOSE = tuple(f"</tns:{name}>" for name in RESULT_LINE_FIELDS)


def soap_text(value) -> str:
    """A reply value as SOAP text (the same forms Spyne writes); a character XML cannot hold
    (in a row written before such values were refused) becomes U+FFFD."""
    if isinstance(value, str):
        return escape(xml_fit(value))
    if isinstance(value, Money):
        return value.wire
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


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
    parts = [_HEAD_ENVELOPE, f"<tns:{response}>"]
    for key, item in content.items():
        _element(key, item, parts)
    parts.append(f"</tns:{response}>{_TAIL_ENVELOPE}")
    return "".join(parts).encode("utf-8")


_HEAD_ENVELOPE = (f"<?xml version='1.0' encoding='UTF-8'?>\n<soap11env:Envelope "
                  f"xmlns:soap11env=\"{SOAP_ENV}\" xmlns:tns=\"{NS}\"><soap11env:Body>")
_TAIL_ENVELOPE = "</soap11env:Body></soap11env:Envelope>"


def _soap_time(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


#: SOAP text of a results-by-date value by its type (``soap_text`` without the escaping).
_RESULT_TEXT: dict[type, Callable[[Any], str]] = {
    str: str, int: str, datetime: _soap_time, Decimal: lambda v: format(v, "f")}


def soap_results(lines: Iterable[OperationLine]) -> Iterator[bytes]:
    yield _HEAD
    parts: list[str] = []
    size = 0
    conv, elements = _RESULT_TEXT, tuple(zip(_OPEN, _CLOSE))
    for line in lines:
        texts = [None if v is None else v if type(v) is str else conv[type(v)](v)
                 for v in result_line(line)]
        joined = "".join([t for t in texts if t is not None])
        if "&" in joined or "<" in joined or ">" in joined or xml_unfit(joined):
            texts = [None if t is None else soap_text(t) for t in texts]
        # Absent values are left out (minOccurs=0), never sent empty.
        row = "".join([o + t + c for (o, c), t in zip(elements, texts) if t is not None])
        parts.append("<tns:operation>" + row + "</tns:operation>")
        size += len(row) + 31
        if size >= CHUNK:
            yield "".join(parts).encode("utf-8")
            parts, size = [], 0
    if parts:
        yield "".join(parts).encode("utf-8")
    yield _TAIL
