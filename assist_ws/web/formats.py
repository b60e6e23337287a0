"""Assist's POST reply formats: ``Format`` 1 CSV, 3 XML, 5 JSON (4, SOAP, is answered by the
SOAP face itself; see ``soap.dispatch``).

Every reply starts from the field dictionaries of ``services.replies``; here the values
become Assist's text (``services.replies.POST_TEXT``): amounts with the currency's digits
(``4.00``), times ``DD.MM.YYYY HH:MM:SS`` UTC (``packetdate`` of order state and order
result ``DD.MM.YYYY HH:MM``), absent values empty.  Errors keep HTTP 200 and carry
``firstcode``/``secondcode`` and a ``message``.  JSON has shapes of its own
(``web.assist_json``); results by date are written here for all three, as they stream.

* XML: ``<result firstcode="0" secondcode="0" count="N">`` around the rows (``<order>``;
  charge and cancel wrap theirs in ``<orders>``; results by date has ``<operation>`` rows
  and, being streamed, no ``count``).
* JSON (results by date): ``{"resultbydate": {"operations": [...]}}``, every field a string.
* CSV: a header line of field names (unless ``Header=0``) and one line per row, fields
  joined by ``Delimiter`` (default ``;``), quoted where needed, lines ending CRLF; a cell a
  spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) gets a leading
  ``'`` (``domain.text.csv_cell``).  Order
  result and wscancel flatten each operation into a row with its order's fields (the
  operation's extended billnumber is the column ``operationbillnumber``).  An error is the
  header ``firstcode;secondcode;message`` and one line.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Iterator
from xml.sax.saxutils import quoteattr

from ..domain.text import FORMULA_START, csv_cell, xml_fit, xml_unfit
from ..services.replies import CHUNK, POST_TEXT, chunked, text, xml_text

XML_DECL = "<?xml version='1.0' encoding='utf-8' standalone='yes'?>\n"
CONTENT_TYPES = {"1": "text/csv; charset=utf-8", "3": "text/xml; charset=utf-8",
                 "5": "application/json; charset=utf-8"}


def _text(value: Any, name: str, short: bool) -> str:
    """A value's text (``POST_TEXT``); with ``short``, ``packetdate`` to the minute."""
    if short and name == "packetdate" and value is not None:
        return text(value)[:16]
    return text(value)


def flat(fields: dict[str, Any], short: bool) -> dict[str, Any]:
    """Nested dicts are kept, lists of dicts kept, scalars to text."""
    out: dict[str, Any] = {}
    for k, v in fields.items():
        if isinstance(v, dict):
            out[k] = flat(v, short)
        elif isinstance(v, list):
            out[k] = [flat(x, short) for x in v]
        else:
            out[k] = _text(v, k, short)
    return out


# -- XML ---------------------------------------------------------------------------------------
def _xml_fields(fields: dict[str, Any], parts: list[str], short: bool) -> None:
    """The fields of one row, nested dicts and lists of dicts as elements, values as their
    text escaped; straight from ``services.replies``' values, without ``flat``."""
    for k, v in fields.items():
        if isinstance(v, str):
            parts.append(f"<{k}>{xml_text(v)}</{k}>")
        elif isinstance(v, dict):
            parts.append(f"<{k}>")
            _xml_fields(v, parts, short)
            parts.append(f"</{k}>")
        elif isinstance(v, list):
            for item in v:
                parts.append(f"<{k}>")
                _xml_fields(item, parts, short)
                parts.append(f"</{k}>")
        else:
            parts.append(f"<{k}>{xml_text(_text(v, k, short))}</{k}>")


def xml_reply(rows: list[dict], row_name: str, wrapper: str | None = None, *,
              short_packetdate: bool = False) -> bytes:
    """``rows`` as ``services.replies`` builds them (or already ``flat``)."""
    parts = [XML_DECL, f'<result firstcode="0" secondcode="0" count="{len(rows)}">']
    if wrapper:
        parts.append(f"<{wrapper}>")
    for row in rows:
        parts.append(f"<{row_name}>")
        _xml_fields(row, parts, short_packetdate)
        parts.append(f"</{row_name}>")
    if wrapper:
        parts.append(f"</{wrapper}>")
    parts.append("</result>")
    return "".join(parts).encode("utf-8")


def xml_error(firstcode: int, secondcode: int, message: str) -> bytes:
    return (f'{XML_DECL}<result firstcode="{firstcode}" secondcode="{secondcode}" count="0" '
            f'message={quoteattr(xml_fit(message))}></result>').encode("utf-8")


# -- CSV ---------------------------------------------------------------------------------------
class CsvOptions:
    def __init__(self, delimiter: str = ";", header: bool = True):
        self.delimiter, self.header = delimiter, header
        self._special = (delimiter, '"', "\r", "\n")
        #: Finds, in a line joined with the delimiter, a cell that may start like a formula.
        self.formula = re.compile("(?:^|%s)[%s]" % (re.escape(delimiter), re.escape(
            "".join(FORMULA_START))))

    def field(self, value: str) -> str:
        """A cell: ``'`` before what a spreadsheet would run (``csv_cell``), quoted where
        it holds the delimiter, a quote or a line break."""
        value = csv_cell(value)
        if any(ch in value for ch in self._special):
            return '"' + value.replace('"', '""') + '"'
        return value

    def line(self, values: Iterable[str]) -> str:
        return self.delimiter.join(self.field(v) for v in values) + "\r\n"


def csv_rows(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Nested rows flattened: a row's own fields and those of its nested dicts (customer),
    then one line per element of its list (operations; the operation's billnumber becomes
    ``operationbillnumber``).  The header is every column met, in order."""
    flat_lines: list[dict[str, str]] = []
    for row in rows:
        own: dict[str, str] = {}
        items: list[dict] = []
        for k, v in row.items():
            if isinstance(v, dict):
                own.update(v)
            elif isinstance(v, list):
                items = [{("operation" + kk if kk == "billnumber" else kk): vv
                          for kk, vv in item.items()} for item in v]
            else:
                own[k] = v
        flat_lines += [dict(own, **item) for item in items] or [own]
    names = list(dict.fromkeys(k for line in flat_lines for k in line))
    return names, [[line.get(n, "") for n in names] for line in flat_lines]


def csv_reply(rows: list[dict], options: CsvOptions,
              columns: tuple[str, ...] | None = None) -> bytes:
    """``columns``: the header when there are no rows."""
    names, lines = csv_rows(rows)
    names = names or list(columns or ())
    out = [options.line(names)] if options.header and names else []
    out += [options.line(values) for values in lines]
    return "".join(out).encode("utf-8")


def csv_error(firstcode: int, secondcode: int, message: str, options: CsvOptions) -> bytes:
    return (options.line(["firstcode", "secondcode", "message"])
            + options.line([str(firstcode), str(secondcode), message])).encode("utf-8")


# -- streamed results by date ------------------------------------------------------------------
def stream_csv(names: tuple[str, ...], lines: Iterator[bytes],
               options: CsvOptions) -> Iterator[bytes]:
    """A streamed CSV reply of lines already written (see ``stream_rows``): the header
    first, when asked for."""
    if options.header:
        yield options.line(names).encode("utf-8")
    yield from lines


def stream_rows(fmt: str, names: tuple[str, ...], rows: Iterator[tuple],
                options: CsvOptions, chunk: int = CHUNK) -> Iterator[bytes]:
    """Rows (tuples of reply values in ``names`` order) as a streamed reply."""
    return chunked(_pieces(fmt, names, rows, options), chunk)


def _pieces(fmt: str, names: tuple[str, ...], rows: Iterator[tuple],
            options: CsvOptions) -> Iterator[str]:
    conv = POST_TEXT  # one dict lookup per value
    if fmt == "1":
        if options.header:
            yield options.line(names)
        delim, width = options.delimiter, len(names) - 1
        for row in rows:
            line = delim.join([v if type(v) is str else conv[type(v)](v) for v in row])
            if '"' in line or "\r" in line or "\n" in line or line.count(delim) != width \
                    or options.formula.search(line):
                line = options.line(text(v) for v in row)[:-2]  # a value needs care
            yield line + "\r\n"
    elif fmt == "3":
        yield XML_DECL + '<result firstcode="0" secondcode="0">'
        template = "<operation>" + "".join(f"<{n}>%s</{n}>" for n in names) + "</operation>"
        for row in rows:
            texts = [v if type(v) is str else conv[type(v)](v) for v in row]
            joined = "".join(texts)
            if "&" in joined or "<" in joined or ">" in joined or xml_unfit(joined):
                texts = [xml_text(t) for t in texts]  # only text can hold them
            yield template % tuple(texts)
        yield "</result>"
    else:
        yield '{"resultbydate":{"operations":['
        dumps, sep = json.dumps, ""
        for row in rows:
            yield sep + dumps(dict(zip(names, [conv[type(v)](v) for v in row])),
                              ensure_ascii=False, separators=(",", ":"))
            sep = ","
        yield "]}}"
