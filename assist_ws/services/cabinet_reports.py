"""The merchant cabinet's export and reports, for a signed-in user (``cabinet.CabinetUser``).

* Export (right ``export``): the operations of the orders the monitor's filter selects --
  or only their payments, one row an order -- as results by date's rows: CSV made by the
  database where it can (``OrderExport.csv_lines``), else the rows themselves to be written.
* The daily report (right ``monitor``): per day of the merchant's time zone, count and sum
  of successful payments, confirms and cancels per currency over a period of at most
  ``MAX_DAYS`` days.
* The day's registry (right ``export``): the operations made on one day of the merchant's
  time zone, exactly as results by date gives them for that window
  (``merchant_api.ResultStream``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Iterator

from ..domain.errors import PermissionDenied, Second, ValidationError
from ..domain.model import OperationType, Right
from ..domain.monitor import OrderFilter
from ..domain.ports import Clock, BackOfficeUnitOfWork
from ..domain.records import OperationLine, Window
from ..domain.reports import DailyReport, DayTotal, OrderExport
from .auth import Principal
from .cabinet import CabinetUser
from .merchant_api import ResultStream

#: The longest period of the daily report, in days.
MAX_DAYS = 366
#: The operation types of the daily report, in the order shown.
REPORTED = (OperationType.PAY, OperationType.CONFIRM, OperationType.CANCEL)


def _require(user: CabinetUser, right: Right) -> None:
    if not user.can(right):
        raise PermissionDenied(f"user {user.login} does not have the right '{right.value}'",
                               Second.WEB_SERVICE)


def _own(user: CabinetUser, flt: OrderFilter) -> None:
    _require(user, Right.EXPORT)
    if flt.merchant_id != user.merchant_id:
        raise PermissionDenied("another merchant's orders", Second.WEB_SERVICE)


# -- export --------------------------------------------------------------------------------
def export_csv(port: OrderExport, user: CabinetUser, flt: OrderFilter, delimiter: str, *,
               payments_only: bool = False) -> Iterator[bytes] | None:
    """The filter's rows in CSV without a header, made by the database; None when it
    cannot make them with this delimiter (then write ``export_lines``)."""
    _own(user, flt)
    if not port.renders_csv(delimiter):
        return None
    return port.csv_lines(flt, delimiter, payments_only=payments_only)


def export_lines(port: OrderExport, user: CabinetUser, flt: OrderFilter, *,
                 payments_only: bool = False) -> Iterator[OperationLine]:
    """The filter's rows, oldest operation first, read as they are consumed."""
    _own(user, flt)
    return port.lines(flt, payments_only=payments_only)


# -- the daily report ----------------------------------------------------------------------
@dataclass(frozen=True)
class Report:
    """The daily report of ``first`` to ``last`` (days of the merchant's time zone, both
    included): ``totals`` as the port sums them, ``days`` every day of the period."""

    first: date
    last: date
    totals: tuple[DayTotal, ...]

    @property
    def days(self) -> tuple[date, ...]:
        return tuple(self.first + timedelta(days=i)
                     for i in range((self.last - self.first).days + 1))

    @property
    def currencies(self) -> tuple[str, ...]:
        return tuple(sorted({t.currency for t in self.totals}))

    def cell(self, day: date, op_type: int, currency: str) -> DayTotal | None:
        return self._index.get((day, int(op_type), currency))

    def sum(self, op_type: int, currency: str) -> tuple[int, Decimal]:
        """Count and amount of one type in one currency over the whole period."""
        found = [t for t in self.totals if t.type == int(op_type) and t.currency == currency]
        return sum(t.count for t in found), sum((t.amount for t in found), Decimal(0))

    @cached_property
    def _index(self) -> dict[tuple[date, int, str], DayTotal]:
        return {(t.day, t.type, t.currency): t for t in self.totals}


def daily_report(port: DailyReport, user: CabinetUser, first: date, last: date,
                 since: datetime, until: datetime, zone: str) -> Report:
    """The report of days ``first`` to ``last`` of ``zone``, whose moments are ``since``
    (the first day's midnight, UTC) to ``until`` (the day after the last one's)."""
    _require(user, Right.MONITOR)
    if last < first:
        raise ValidationError("the period ends before it starts", Second.NONE)
    if (last - first).days >= MAX_DAYS:
        raise ValidationError(f"the period is longer than {MAX_DAYS} days", Second.NONE)
    return Report(first, last, tuple(port.daily(user.merchant_id, since, until, zone)))


def registry(uow: BackOfficeUnitOfWork, clock: Clock, user: CabinetUser, window: Window
             ) -> ResultStream:
    """The operations of one day (``window``: its moments, UTC) as results by date gives
    them: rows, or the database's CSV (``ResultStream.csv``)."""
    _require(user, Right.EXPORT)
    principal = Principal(user.merchant_id, user.login, user.rights, None)
    return ResultStream(uow, principal, window, None, clock.now())
