"""The merchant cabinet's export and daily report (``domain.reports``) as SQLAlchemy Core
queries on the engine.

* The export's rows are results by date's: ``OperationLine`` from the same columns
  (``repositories.LINE_COLUMNS``), or on PostgreSQL the CSV ``results_csv`` makes with
  ``COPY``, here of the operations of the orders the monitor's filter selects
  (``monitor.where``).  One statement each, streamed (a server-side cursor, or ``COPY``):
  a million rows are never held at once.
* The daily report sums successful operations per day of the merchant's time zone: on
  PostgreSQL the database groups them (``AT TIME ZONE``); SQLite knows no time zones, so
  there the operations are read and grouped here.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import Date, cast, func, literal, select
from sqlalchemy.engine import Engine

from ..domain.model import OperationState, OperationType
from ..domain.monitor import OrderFilter
from ..domain.records import OperationLine
from ..domain.reports import DayTotal
from . import results_csv
from .monitor import where
from .repositories import LINE_COLUMNS
from .tables import operations, orders

#: Rows fetched from the server-side cursor at a time.
FETCH = 2000
#: The operation types of the daily report.
REPORTED = (int(OperationType.PAY), int(OperationType.CONFIRM), int(OperationType.CANCEL))


class SqlOrderExport:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"

    def renders_csv(self, delimiter: str) -> bool:
        with self.engine.connect() as conn:
            return results_csv.available(conn, delimiter)

    def csv_lines(self, flt: OrderFilter, delimiter: str, *,
                  payments_only: bool = False) -> Iterator[bytes]:
        o, p = orders.alias("o"), operations.alias("p")
        stmt = (select(p.c.id).select_from(p.join(o, o.c.id == p.c.order_id))
                .where(*where(flt, False, o)).order_by(p.c.created_at, p.c.id))
        if payments_only:
            stmt = stmt.where(p.c.type == int(OperationType.PAY))
        with self.engine.connect() as conn:
            yield from results_csv.statement_lines(conn, results_csv.select_lines(stmt),
                                                   delimiter)

    def lines(self, flt: OrderFilter, *, payments_only: bool = False
              ) -> Iterator[OperationLine]:
        stmt = (select(*LINE_COLUMNS)
                .join_from(operations, orders, operations.c.order_id == orders.c.id)
                .where(*where(flt, self.sqlite))
                .order_by(operations.c.created_at, operations.c.id))
        if payments_only:
            stmt = stmt.where(operations.c.type == int(OperationType.PAY))
        make = OperationLine._make
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=FETCH).execute(stmt)
            for row in result:
                yield make(row)


class SqlDailyReport:
    def __init__(self, engine: Engine):
        self.engine = engine

    def daily(self, merchant_id: int, since: datetime, until: datetime, zone: str
              ) -> list[DayTotal]:
        p = operations.c
        conds = (orders.c.merchant_id == merchant_id, p.created_at >= since,
                 p.created_at < until, p.state == OperationState.SUCCESS.value,
                 p.type.in_(REPORTED))
        joined = operations.join(orders, orders.c.id == p.order_id)
        with self.engine.connect() as conn:
            if self.engine.dialect.name != "postgresql":
                return _grouped(conn.execute(
                    select(p.created_at, p.type, p.currency, p.amount)
                    .select_from(joined).where(*conds)), ZoneInfo(zone))
            # Stored as naive UTC: read as UTC, then as the zone's wall time.
            day = cast(func.timezone(literal(zone), func.timezone("UTC", p.created_at)),
                       Date)
            found = conn.execute(
                select(day.label("day"), p.type, p.currency, func.count(), func.sum(p.amount))
                .select_from(joined).where(*conds)
                .group_by(day, p.type, p.currency).order_by(day, p.type, p.currency)).all()
        return [DayTotal(d, int(t), cur, int(n), Decimal(s)) for d, t, cur, n, s in found]


def _grouped(rows, zone: ZoneInfo) -> list[DayTotal]:
    sums: dict[tuple[date, int, str], list] = defaultdict(lambda: [0, Decimal(0)])
    for created_at, op_type, currency, amount in rows:
        entry = sums[(created_at.astimezone(zone).date(), int(op_type), currency)]
        entry[0] += 1
        entry[1] += Decimal(amount)
    return [DayTotal(d, t, cur, n, s) for (d, t, cur), (n, s) in sorted(sums.items())]
