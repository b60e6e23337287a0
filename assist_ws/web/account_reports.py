"""The cabinet's reports, ``/account/reports``: per day of the merchant's time zone, count
and amount of successful payments, confirms and cancels per currency over a chosen period
(right ``monitor``), as a table and, per currency, a bar chart drawn here as inline SVG --
no script, no external asset, a ``<title>`` on every bar for its figures; and each day's
operations registry as a CSV file (right ``export``): results by date for that day,
written as the export writes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from flask import g, request

from ..domain.errors import AssistError
from ..domain.model import Right
from ..domain.records import Window
from ..services import cabinet_reports
from . import account_texts as texts
from .texts import money
from .account import (_container, _day, _message, _midnight, _needs, _now, _render, bp,
                      signed_in)
from .account_files import CSV_TYPE, DELIMITERS, csv_file, csv_rows, download
from .account_export import note_export

log = logging.getLogger(__name__)

#: The report's default period: this many days up to today.
DEFAULT_DAYS = 30
#: The chart's bars, in ``cabinet_reports.REPORTED`` order, and their colours.
COLOURS = ("#1f5fd6", "#16794a", "#b42318")
#: The chart's geometry (SVG user units): plot height, margins, a day's width.
HEIGHT, LEFT, BOTTOM, TOP, DAY = 180, 64, 34, 12, 18


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Chart:
    currency: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    #: (x, text) of the days named under the axis, (y, text) of the amounts beside it.
    days: tuple[tuple[float, str], ...]
    levels: tuple[tuple[float, str], ...]


def chart(report: cabinet_reports.Report, currency: str, lang: str) -> Chart:
    """The bars of one currency: for each day, its payments', confirms' and cancels'
    amounts side by side, on one scale from 0 to the largest."""
    days = report.days
    top = max((t.amount for t in report.totals if t.currency == currency), default=Decimal(0))
    scale = float(HEIGHT) / float(top) if top > 0 else 0.0
    width = LEFT + len(days) * DAY + 8
    base = TOP + HEIGHT
    bars: list[Bar] = []
    step = DAY / (len(cabinet_reports.REPORTED) + 1)
    for i, day in enumerate(days):
        for j, op_type in enumerate(cabinet_reports.REPORTED):
            cell = report.cell(day, op_type, currency)
            if cell is None:
                continue
            h = max(float(cell.amount) * scale, 1.0)
            bars.append(Bar(LEFT + i * DAY + (j + 0.5) * step, base - h, step, h,
                            COLOURS[j], f"{day:%d.%m.%Y} {texts.operation_type(lang, op_type)}"
                            f": {cell.count}, {money(cell.amount, currency, lang)}"))
    every = max(1, len(days) // 10)
    labels = tuple((LEFT + i * DAY + DAY / 2, f"{day:%d.%m}")
                   for i, day in enumerate(days) if i % every == 0)
    levels = tuple((base - HEIGHT * k / 4, f"{top * k / 4:.2f}") for k in range(5)) \
        if top > 0 else ((float(base), "0"),)
    return Chart(currency, width, base + BOTTOM, tuple(bars), labels, levels)


def _period(args, zone) -> tuple[date, date, list[str]]:
    today = _now().astimezone(zone).date()
    bad: list[str] = []

    def read(name: str, default: date) -> date:
        try:
            return _day(args[name]) if args.get(name) else default
        except ValueError:
            bad.append(name)
            return default

    return (read("from", today - timedelta(days=DEFAULT_DAYS - 1)), read("to", today), bad)


@bp.get("/reports")
@signed_in
def reports():
    first, last, bad = _period(request.args, g.zone)
    values = {"from": f"{first:%Y-%m-%d}", "to": f"{last:%Y-%m-%d}"}
    report, error = None, None
    if bad:
        error = texts.t(g.lang, "bad_filter", field=", ".join(bad))
    else:
        try:
            report = cabinet_reports.daily_report(
                _container().daily_report, g.user, first, last, _midnight(first, g.zone),
                _midnight(last + timedelta(days=1), g.zone), str(g.zone))
        except AssistError:
            error = texts.t(g.lang, "report_period", days=cabinet_reports.MAX_DAYS)
    charts = [chart(report, cur, g.lang) for cur in report.currencies] if report else []
    return _render("reports.html", 400 if error else 200, report=report, values=values,
                   error=error, charts=charts, colours=COLOURS,
                   reported=cabinet_reports.REPORTED,
                   can_export=g.user.can(Right.EXPORT))


@bp.get("/reports/registry")
@signed_in
def registry():
    """The operations of one day (``day``, of the merchant's time zone) as a CSV file."""
    refused = _needs(Right.EXPORT)
    if refused:
        return refused
    delimiter = DELIMITERS.get(request.args.get("delimiter", "semicolon"))
    try:
        day = _day(request.args.get("day", ""))
    except ValueError:
        return _message("bad_filter", 400, field="day")
    if delimiter is None:
        return _message("bad_filter", 400, field="delimiter")
    window = Window(_midnight(day, g.zone), _midnight(day + timedelta(days=1), g.zone))
    stream = cabinet_reports.registry(_container().uow, _container().clock, g.user, window)
    lines = stream.csv(delimiter)
    if lines is None:
        lines = csv_rows(stream, delimiter)
    note_export(f"registry of {day:%Y-%m-%d}")
    log.info("cabinet registry of %s: merchant %s login %r", day, g.user.merchant_id,
             g.user.login)
    return download(csv_file(lines, delimiter), CSV_TYPE,
                     f"registry-{day:%Y%m%d}.csv")

