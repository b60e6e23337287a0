"""The cabinet's files, written as they are sent: results by date's rows in CSV (UTF-8 with a
byte order mark, so that Excel reads it as UTF-8) and in XLSX.

* CSV: the text ``resultbydate`` writes (``web.formats``): lines the database made
  (``db.results_csv``) or the rows written here by the same writer, after the header.
* XLSX: written with XlsxWriter in its constant-memory mode -- each row goes to a temporary
  file as soon as the next one starts, so a million rows take no more memory than one --
  then the workbook (a zip, complete only at its end) is sent from its temporary file in
  chunks.  Amounts are numbers, times are date-times (UTC, as in the CSV), every text is a
  plain string (never a formula or a link).  A sheet holds at most ``SHEET_ROWS`` rows; the
  next ones go on the next sheet.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from typing import Iterable, Iterator

import xlsxwriter
from flask import Response

from ..domain.records import OperationLine
from ..services import replies
from . import formats

BOM = b"\xef\xbb\xbf"
DELIMITERS = {"semicolon": ";", "comma": ",", "tab": "\t"}
#: Rows of a sheet, its header included (Excel's limit: 1,048,576).
SHEET_ROWS = 1_048_576
#: Bytes of the workbook sent at a time.
CHUNK = 256 * 1024
CSV_TYPE = formats.CONTENT_TYPES["1"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Positions of the amounts in ``replies.result_line``'s rows.
_AMOUNTS = frozenset({4, 9})


def download(body: Iterable[bytes], content_type: str, filename: str) -> Response:
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
                if value is None or value == "":  # an empty cell is no cell
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

