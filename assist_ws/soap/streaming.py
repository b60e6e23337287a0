"""Results by date as a streamed SOAP reply: the envelope is written row by row, in chunks,
while the rows are read page by page, so a window of a million operations answers in bounded
memory.  The XML is exactly what the ``resultbydate`` WSDL declares (``ResultByDateResult``
with ``operation`` children) and what Spyne would write for it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Iterable, Iterator
from xml.sax.saxutils import escape

from ..domain.money import Money
from ..domain.records import OperationLine
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
    """A reply value as SOAP text (the same forms Spyne writes)."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, Money):
        return value.wire
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def soap_results(lines: Iterable[OperationLine]) -> Iterator[bytes]:
    yield _HEAD
    parts: list[str] = []
    size = 0
    fields = range(len(RESULT_LINE_FIELDS))
    for line in lines:
        row = result_line(line)
        parts.append("<tns:operation>")
        for i in fields:
            value = row[i]
            if value is not None:
                text = soap_text(value)
                parts.append(_OPEN[i] + text + _CLOSE[i])
                size += len(text) + 30
        parts.append("</tns:operation>")
        if size >= CHUNK:
            yield "".join(parts).encode("utf-8")
            parts, size = [], 0
    if parts:
        yield "".join(parts).encode("utf-8")
    yield _TAIL
