"""The cabinet's export, ``/account/export``: the orders or operations of the monitor's
current filter (the same URL parameters) as a file, for a user with the right ``export``.

* Rows are results by date's, with its column names as the header: every operation of the
  filter's orders (``what=operations``), or only their payments, one row an order
  (``what=orders``); oldest operation first.
* CSV: UTF-8 with a byte order mark (so that Excel reads it as UTF-8), ``;`` between
  fields, or ``,`` or a tab (``delimiter=comma``, ``tab``); the text ``resultbydate``
  writes (``web.formats``), made by the database where it can (``db.results_csv``).
* XLSX: written with XlsxWriter in its constant-memory mode -- each row goes to a temporary
  file as soon as the next one starts, so a million rows take no more memory than one --
  then the workbook (a zip, complete only at its end) is sent from its temporary file in
  chunks.  Amounts are numbers, times are date-times (UTC, as in the CSV), every text is a
  plain string (never a formula or a link).  A sheet holds at most ``SHEET_ROWS`` rows; the
  next ones go on the next sheet.
* Both are streamed: nothing holds all rows at once.  Without the right: no link on the
  monitor, and a 403.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import datetime
from typing import Iterable, Iterator

import xlsxwriter
from flask import Response, g, request

from ..domain.model import Right
from ..domain.records import OperationLine
from ..services import cabinet_reports, replies
from . import formats
from .account import _container, _message, _needs, _now, bp, parse_filter, signed_in

log = logging.getLogger(__name__)

BOM = b"\xef\xbb\xbf"
DELIMITERS = {"semicolon": ";", "comma": ",", "tab": "\t"}
KINDS = ("operations", "orders")
FORMATS = ("csv", "xlsx")
#: Rows of a sheet, its header included (Excel's limit: 1,048,576).
SHEET_ROWS = 1_048_576
#: Bytes of the workbook sent at a time.
CHUNK = 256 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Positions of the amounts and the times in ``replies.result_line``'s rows.
_AMOUNTS = frozenset({4, 9})


@bp.context_processor
def _export_links():
    """``export_args``: the monitor's filter as hidden fields of the export form."""
    def export_args():
        return [(k, v) for k, values in request.args.lists() if k not in ("after", "lang")
                for v in values]
    return {"export_args": export_args}


@bp.get("/export")
@signed_in
def export():
    refused = _needs(Right.EXPORT)
    if refused:
        log.warning("cabinet export refused: user %r lacks the right", g.user.login)
        return refused
    flt, _values, bad = parse_filter(request.args, g.user.merchant_id, _now(), g.zone)
    kind = request.args.get("what", "operations")
    fmt = request.args.get("format", "csv")
    delimiter = DELIMITERS.get(request.args.get("delimiter", "semicolon"))
    if kind not in KINDS:
        bad.append("what")
    if fmt not in FORMATS:
        bad.append("format")
    if delimiter is None:
        bad.append("delimiter")
    if bad:
        return _message("bad_filter", 400, field=", ".join(bad))
    port = _container().order_export
    payments_only = kind == "orders"
    name = f"{kind}-{flt.since:%Y%m%d}-{_now():%Y%m%d%H%M%S}" if flt.since else kind
    log.info("cabinet export: merchant %s login %r, %s as %s", g.user.merchant_id,
             g.user.login, kind, fmt)
    if fmt == "xlsx":
        rows = cabinet_reports.export_lines(port, g.user, flt, payments_only=payments_only)
        return _download(xlsx(rows), XLSX_TYPE, name + ".xlsx")
    assert delimiter is not None
    made = cabinet_reports.export_csv(port, g.user, flt, delimiter,
                                      payments_only=payments_only)
    if made is None:
        made = csv_rows(cabinet_reports.export_lines(port, g.user, flt,
                                                     payments_only=payments_only), delimiter)
    return _download(csv_file(made, delimiter), formats.CONTENT_TYPES["1"], name + ".csv")


def _download(body: Iterable[bytes], content_type: str, filename: str) -> Response:
    response = Response(body, content_type=content_type)  # streamed
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def csv_rows(lines: Iterable[OperationLine], delimiter: str) -> Iterator[bytes]:
    """Rows written by results by date's general writer, without a header."""
    options = formats.CsvOptions(delimiter, header=False)
    return formats.stream_rows("1", replies.RESULT_LINE_FIELDS,
                               (replies.result_line(line) for line in lines), options)


def csv_file(lines: Iterable[bytes], delimiter: str) -> Iterator[bytes]:
    """The file: the byte order mark, the header, the lines."""
    yield BOM
    yield from formats.stream_csv(replies.RESULT_LINE_FIELDS, iter(lines),
                                  formats.CsvOptions(delimiter))


def xlsx(lines: Iterable[OperationLine]) -> Iterator[bytes]:
    """The rows as an XLSX workbook, in chunks (see the module doc)."""
    with tempfile.TemporaryFile() as out:
        book = xlsxwriter.Workbook(out, {
            "constant_memory": True, "strings_to_numbers": False,
            "strings_to_formulas": False, "strings_to_urls": False,
            "remove_timezone": True})
        header = book.add_format({"bold": True})
        moment = book.add_format({"num_format": "dd.mm.yyyy hh:mm:ss"})
        amounts = {digits: book.add_format({"num_format": "0." + "0" * digits if digits
                                            else "0"}) for digits in range(4)}
        sheet, row = None, SHEET_ROWS
        for line in lines:
            if row >= SHEET_ROWS:
                sheet = book.add_worksheet()
                sheet.write_row(0, 0, replies.RESULT_LINE_FIELDS, header)
                text, number, when = sheet.write_string, sheet.write_number, \
                    sheet.write_datetime
                row = 1
            for col, value in enumerate(replies.result_line(line)):
                if value is None:
                    continue
                kind = type(value)
                if col in _AMOUNTS:
                    point = value.find(".")
                    number(row, col, float(value),
                           amounts.get(len(value) - point - 1 if point >= 0 else 0))
                elif kind is str:
                    text(row, col, value)
                elif kind is datetime:
                    when(row, col, value, moment)
                else:  # test mode, operation type, rate
                    number(row, col, float(value))
            row += 1
        if sheet is None:
            book.add_worksheet().write_row(0, 0, replies.RESULT_LINE_FIELDS, header)
        book.close()
        out.seek(0)
        while chunk := out.read(CHUNK):
            yield chunk

