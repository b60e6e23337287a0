"""The cabinet's export, ``/account/export``: the orders or operations of the monitor's
current filter (the same URL parameters) as a file, for a user with the right ``export``.

* Rows are results by date's, with its column names as the header: every operation of the
  filter's orders (``what=operations``), or only their payments, one row an order
  (``what=orders``); oldest operation first.
* ``format``: ``csv`` -- ``;`` between fields, or ``,`` or a tab (``delimiter=comma``,
  ``tab``) -- or ``xlsx``; written by ``account_files``, streamed: nothing holds all rows.
* Without the right: no form on the monitor, and a 403.
"""

from __future__ import annotations

import logging

from flask import g, request

from ..domain.model import Right
from ..domain.audit import AuditKind
from ..services import audit, cabinet_reports
from .account import _container, _message, _needs, _now, bp, parse_filter, signed_in
from .account_files import (CSV_TYPE, DELIMITERS, XLSX_TYPE, csv_file, csv_rows, download,
                            xlsx)

log = logging.getLogger(__name__)

KINDS = ("operations", "orders")
FORMATS = ("csv", "xlsx")


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
    note_export(f"{kind} as {fmt}, {request.query_string.decode('latin-1')}")
    if fmt == "xlsx":
        rows = cabinet_reports.export_lines(port, g.user, flt, payments_only=payments_only)
        return download(xlsx(rows), XLSX_TYPE, name + ".xlsx")
    assert delimiter is not None
    made = cabinet_reports.export_csv(port, g.user, flt, delimiter,
                                      payments_only=payments_only)
    if made is None:
        made = csv_rows(cabinet_reports.export_lines(port, g.user, flt,
                                                     payments_only=payments_only), delimiter)
    return download(csv_file(made, delimiter), CSV_TYPE, name + ".csv")


def note_export(what: str) -> None:
    """The export in the audit log (who, when, from where, what was asked), before its
    first byte is sent."""
    c = _container()
    audit.record_alone(c.uow, c.clock, g.user.merchant_id, g.user.login, request.remote_addr,
                       AuditKind.EXPORT, what[:500])
