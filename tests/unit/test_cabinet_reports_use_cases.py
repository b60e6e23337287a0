"""The cabinet's export and report use cases with fakes of their ports: the right each needs,
the user's own merchant only, the database's CSV when it can make it (else the rows), and the
report's period checked and its days laid out."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from assist_ws.domain.errors import PermissionDenied, ValidationError
from assist_ws.domain.model import Right
from assist_ws.domain.monitor import OrderFilter
from assist_ws.domain.reports import DayTotal
from assist_ws.services import cabinet_reports
from assist_ws.services.cabinet import CabinetUser

UTC = timezone.utc


def user(*rights: Right, merchant: int = 7) -> CabinetUser:
    return CabinetUser(merchant, "someone1", frozenset(r.value for r in rights), "stamp")


class Export:
    """The export port: what it was asked; CSV only with ``;``."""

    def __init__(self):
        self.asked = []

    def renders_csv(self, delimiter):
        return delimiter == ";"

    def csv_lines(self, flt, delimiter, *, payments_only=False):
        self.asked.append(("csv", flt, delimiter, payments_only))
        return iter([b"a;b\r\n"])

    def lines(self, flt, *, payments_only=False):
        self.asked.append(("lines", flt, payments_only))
        return iter([])


class Daily:
    def __init__(self, totals):
        self.totals, self.asked = totals, []

    def daily(self, merchant_id, since, until, zone):
        self.asked.append((merchant_id, since, until, zone))
        return self.totals


def test_export_needs_the_right_and_the_users_own_merchant():
    port = Export()
    with pytest.raises(PermissionDenied):
        cabinet_reports.export_csv(port, user(Right.MONITOR), OrderFilter(7), ";")
    with pytest.raises(PermissionDenied):
        cabinet_reports.export_lines(port, user(Right.MONITOR, Right.EXPORT), OrderFilter(8))
    assert port.asked == []
    exporter = user(Right.MONITOR, Right.EXPORT)
    assert list(cabinet_reports.export_csv(port, exporter, OrderFilter(7), ";",
                                           payments_only=True)) == [b"a;b\r\n"]
    assert cabinet_reports.export_csv(port, exporter, OrderFilter(7), ",") is None
    assert port.asked == [("csv", OrderFilter(7), ";", True)]
    assert list(cabinet_reports.export_lines(port, user(Right.ADMIN), OrderFilter(7))) == []


def test_daily_report_checks_its_period_and_lays_out_its_days():
    day = date(2026, 3, 2)
    port = Daily([DayTotal(day, 100, "RUB", 2, Decimal("30.00")),
                  DayTotal(day, 300, "RUB", 1, Decimal("5.00")),
                  DayTotal(date(2026, 3, 4), 100, "USD", 1, Decimal("9.90"))])
    since, until = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC)
    with pytest.raises(ValidationError):
        cabinet_reports.daily_report(port, user(Right.MONITOR), date(2026, 3, 4),
                                     date(2026, 3, 1), since, until, "UTC")
    with pytest.raises(ValidationError):
        cabinet_reports.daily_report(port, user(Right.MONITOR), date(2025, 1, 1),
                                     date(2026, 3, 1), since, until, "UTC")
    with pytest.raises(PermissionDenied):
        cabinet_reports.daily_report(port, user(Right.EXPORT), date(2026, 3, 1),
                                     date(2026, 3, 4), since, until, "UTC")
    assert port.asked == []
    report = cabinet_reports.daily_report(port, user(Right.MONITOR), date(2026, 3, 1),
                                          date(2026, 3, 4), since, until, "Europe/Moscow")
    assert port.asked == [(7, since, until, "Europe/Moscow")]
    assert report.days == tuple(date(2026, 3, d) for d in range(1, 5))
    assert report.currencies == ("RUB", "USD")
    assert report.cell(day, 300, "RUB").amount == Decimal("5.00")
    assert report.cell(day, 200, "RUB") is None
    assert report.sum(100, "RUB") == (2, Decimal("30.00"))
    assert report.sum(200, "USD") == (0, Decimal(0))


def test_the_days_registry_needs_the_right_export():
    with pytest.raises(PermissionDenied):
        cabinet_reports.registry(None, None, user(Right.MONITOR), None)
