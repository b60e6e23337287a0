"""What the merchant cabinet exports and reports, and the ports that read it.

* ``OrderExport``: the operations of the orders an ``OrderFilter`` selects, as the rows of
  results by date (``OperationLine``), or as the same CSV made by the database itself;
  ``payments_only`` keeps one row an order, its payment.
* ``DailyReport``: per day of the merchant's time zone, the count and sum of its
  successful payments, confirms and cancels per currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Iterator, Protocol

from .monitor import OrderFilter
from .records import OperationLine


class OrderExport(Protocol):
    def renders_csv(self, delimiter: str) -> bool:
        """True when ``csv_lines`` can write the CSV with this delimiter."""
        ...

    def csv_lines(self, flt: OrderFilter, delimiter: str, *,
                  payments_only: bool = False) -> Iterator[bytes]:
        """The rows of ``lines`` as results by date writes them in CSV (no header), UTF-8,
        lines ending CRLF, made by the database."""
        ...

    def lines(self, flt: OrderFilter, *, payments_only: bool = False
              ) -> Iterator[OperationLine]:
        """The operations of the filter's orders, oldest first (operation time, then id),
        read as they are consumed: one query, one snapshot."""
        ...


@dataclass(frozen=True)
class DayTotal:
    """Successful operations of one type (100 payments, 200 confirms, 300 cancels) in one
    currency on one day of the merchant's time zone."""

    day: date
    type: int
    currency: str
    count: int
    amount: Decimal


class DailyReport(Protocol):
    def daily(self, merchant_id: int, since: datetime, until: datetime, zone: str
              ) -> list[DayTotal]:
        """The merchant's successful payments, confirms and cancels made from ``since`` up
        to ``until`` (UTC), summed per day of ``zone`` (an IANA name), type and currency,
        ordered by them."""
        ...
