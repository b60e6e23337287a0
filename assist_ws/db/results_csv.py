"""Results by date in CSV made by PostgreSQL itself: ``COPY (SELECT …) TO STDOUT`` in CSV
format, streamed through psycopg.

A million rows through Python cost about 20 microseconds each (fetching, the values' objects,
their text); PostgreSQL writes the same text and psycopg hands over each row as bytes, so
the worker does little more than change each line's end to CRLF and pass chunks on.  The
CSV is the one ``web.formats`` writes from ``OperationLine`` values, byte for byte (a test
compares them):

* the fields of ``OperationLine`` but the id, in order, as ``replies.result_line`` and
  ``web.formats`` write them: amounts rounded to their currency's digits (the domain never
  stores more), times ``DD.MM.YYYY HH:MM:SS``, the test mode ``1``/``0``, the response
  code ``AS300`` where an operation's outcome is still open, absent values empty;
* a text of the merchant's or the buyer's (order number, names, e-mail ...) or the
  processing center's (messages, codes) that starts like a spreadsheet formula gets a
  leading ``'``, as ``domain.text.csv_cell`` decides (the same characters, the same plain
  numbers left alone); our own values never start so;
* PostgreSQL's CSV quoting is ours: a field holding the delimiter, ``"``, CR or LF is
  quoted and its quotes doubled, nothing else is; its NULL marker is set to a string longer
  than any column can hold, so that no value is ever quoted for being empty;
* PostgreSQL ends a line with LF: each line (one CopyData message a row) is given CRLF.

The same fields serve the cabinet's export (``statement_lines``): the operations of the
orders a monitor filter selects, from a statement of the caller's over ``operations p`` and
``orders o``.

One statement, so one snapshot, while the reply streams (the general path reads pages, each
its own query).  Only on PostgreSQL, with the connection's client encoding UTF-8, and a
delimiter of one printable ASCII character (or a tab) other than ``"``; elsewhere the rows
go through Python.
"""

from __future__ import annotations

from typing import Iterator

from sqlalchemy import Select, literal_column
from sqlalchemy.engine import Connection

from ..domain.model import OperationState
from ..domain.money import EXPONENTS
from ..domain.records import Window
from ..domain.text import FORMULA_START, PLAIN_NUMBER
from .engine import driver_connection
from .types import UtcDateTime

CHUNK = 64 * 1024
_TIME = "'DD.MM.YYYY HH24:MI:SS'"
_OPEN = (OperationState.IN_PROCESS.value, OperationState.UNKNOWN.value)


def _digits(currency: str) -> str:
    """The currency's exponent, in SQL (the currency codes are our own constants)."""
    by_digits: dict[int, list[str]] = {}
    for code, digits in EXPONENTS.items():
        by_digits.setdefault(digits, []).append(code)
    whens = " ".join(f"WHEN {currency} IN ({', '.join(repr(c) for c in codes)}) THEN {d}"
                     for d, codes in sorted(by_digits.items()))
    return f"CASE {whens} END"


def _amount(amount: str, currency: str) -> str:
    return f"round({amount}, {_digits(currency)})::text"


_FORMULA_SQL = ", ".join(f"chr({ord(ch)})" for ch in FORMULA_START)


def _cell(text: str) -> str:
    """A text as a cell no spreadsheet runs: ``domain.text.csv_cell`` in SQL."""
    return (f"CASE WHEN left({text}, 1) IN ({_FORMULA_SQL}) AND {text} !~ '^{PLAIN_NUMBER}$' "
            f"THEN '''' || {text} ELSE {text} END")


def _text(column: str) -> str:
    """A text from outside (the merchant, the buyer, a center); absent is empty."""
    return _cell(f"coalesce({column}, '')")


_OPEN_SQL = ", ".join(f"'{state}'" for state in _OPEN)
#: The fields, in ``OperationLine``'s order (without the id), over ``operations p`` and
#: ``orders o``.
FIELDS = ", ".join([
    _cell("o.order_number"),
    "o.bill_number || '.' || p.number",
    "CASE WHEN o.test_mode THEN '1' ELSE '0' END",
    f"to_char(o.created_at, {_TIME})",
    _amount("o.amount", "o.currency"),
    "o.currency",
    "o.state",
    "p.type::text",
    "p.state",
    _amount("p.amount", "p.currency"),
    "p.currency",
    _text("p.rate::text"),
    _text("p.means_type"),
    _text("p.means_number"),
    _text("p.cardholder"),
    _text("p.approval_code"),
    f"CASE WHEN coalesce(p.response_code, '') <> '' THEN {_cell('p.response_code')} "
    f"WHEN p.state IN ({_OPEN_SQL}) THEN 'AS300' ELSE '' END",
    _text("p.message"),
    _text("p.processing_name"),
    f"to_char(p.created_at, {_TIME})",
    _text("p.client_ip"),
    _text("o.firstname"),
    _text("o.lastname"),
    _text("o.middlename"),
    _text("o.email"),
])
_SELECT = (f"SELECT {FIELDS} FROM operations p JOIN orders o ON o.id = p.order_id "
           f"WHERE o.merchant_id = %(m)s AND p.created_at >= %(s)s AND p.created_at < %(e)s "
           f"{{success}} ORDER BY p.created_at, p.id")
_SUCCESS = {None: "", True: "AND p.state = %(ok)s", False: "AND p.state <> %(ok)s"}
#: Longer than any text column of the query (at most 256 characters): never a value.
_NULL_LENGTH = 300


def available(connection: Connection, delimiter: str) -> bool:
    if connection.dialect.name != "postgresql":
        return False
    if len(delimiter) != 1 or not delimiter.isascii() or delimiter in '"\r\n' or \
            not (delimiter.isprintable() or delimiter == "\t"):
        return False
    driver = driver_connection(connection)
    return driver.info.encoding == "utf-8"


def lines(connection: Connection, merchant_id: int, window: Window, delimiter: str, *,
          success: bool | None = None) -> Iterator[bytes]:
    """The CSV lines (see the module doc), in chunks of about ``CHUNK`` bytes."""
    to_db = UtcDateTime().process_bind_param
    params = {"m": merchant_id, "s": to_db(window.start, None), "e": to_db(window.end, None),
              "ok": OperationState.SUCCESS.value}
    return copy_lines(connection, _SELECT.format(success=_SUCCESS[success]), params,
                      delimiter)


def select_lines(statement: Select) -> Select:
    """``statement`` -- a select from ``operations`` aliased ``p`` joined to ``orders``
    aliased ``o``, with its own conditions and order -- with the CSV's fields as its
    columns, for ``statement_lines``."""
    return statement.with_only_columns(literal_column(FIELDS))


def statement_lines(connection: Connection, statement: Select,
                    delimiter: str) -> Iterator[bytes]:
    """The CSV lines of the rows of ``select_lines(statement)``: the statement compiled for
    the connection's driver, its parameters bound as the columns' types bind them."""
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect,
                                 compile_kwargs={"render_postcompile": True})
    params = {}
    for name, value in compiled.construct_params().items():
        bind = compiled.binds.get(name)  # none for each value of an expanded IN
        processor = None if bind is None else \
            bind.type.dialect_impl(dialect).bind_processor(dialect)
        params[name] = processor(value) if processor is not None else value
    return copy_lines(connection, str(compiled), params, delimiter)


def copy_lines(connection: Connection, select_sql: str, params: dict,
               delimiter: str) -> Iterator[bytes]:
    """The CSV lines of a select of ``FIELDS`` (with ``%(name)s`` parameters), made by
    ``COPY``, in chunks of about ``CHUNK`` bytes."""
    from psycopg import sql

    if not connection.in_transaction():
        connection.begin()  # as ``execute`` would (in autocommit: bookkeeping only)
    null = ("x" if delimiter != "x" else "y") * _NULL_LENGTH
    statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, DELIMITER {}, NULL {})").format(
        sql.SQL(select_sql), sql.Literal(delimiter), sql.Literal(null))
    driver = driver_connection(connection)
    with driver.cursor() as cursor, cursor.copy(statement, params) as copy:
        buf = bytearray()
        for row in copy:
            buf += row
            buf[-1:] = b"\r\n"
            if len(buf) >= CHUNK:
                yield bytes(buf)
                buf.clear()
        if buf:
            yield bytes(buf)
