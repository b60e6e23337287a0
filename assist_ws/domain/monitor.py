"""The orders monitor of the merchant cabinet: what a merchant may filter its orders by, one
row of the list, the totals of a filter, and the port that reads them (``OrderMonitor``).

Pages are walked by a key -- (``created_at``, ``id``) sorted by date, (``amount``, ``id``) by
amount -- rather than by an offset, so that a deep page costs what the first one does;
``Cursor`` is the last row's key, written into the page's links.
An order number without ``%`` is matched exactly and ignores the period (an order is
looked up by its number whenever it was made); with ``%`` (any run of characters) it is a
mask searched within the period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class OrderFilter:
    merchant_id: int
    since: datetime | None = None
    until: datetime | None = None
    order_number: str | None = None
    bill_number: str | None = None
    states: tuple[str, ...] = ()
    amount_from: Decimal | None = None
    amount_to: Decimal | None = None
    currency: str | None = None
    #: Part of the customer's last or first name or e-mail (any case).
    customer: str | None = None
    #: The last 4 digits of the card of the order's payment.
    card_last4: str | None = None
    #: True: test orders only; False: real ones only.
    test_mode: bool | None = None

    @property
    def is_mask(self) -> bool:
        return self.order_number is not None and "%" in self.order_number


@dataclass(frozen=True)
class Cursor:
    """The key of the last row of a page: the next page starts after it (``amount`` is
    there when the pages are sorted by amount)."""

    created_at: datetime
    id: int
    amount: Decimal | None = None


@dataclass(frozen=True)
class MonitorRow:
    id: int
    created_at: datetime
    bill_number: str
    order_number: str
    amount: Decimal
    currency: str
    state: str
    test_mode: bool
    customer: str
    email: str | None
    means: str | None = None
    card: str | None = None


@dataclass(frozen=True)
class Total:
    currency: str
    state: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class MonitorPage:
    rows: tuple[MonitorRow, ...]
    next: Cursor | None = None
    totals: tuple[Total, ...] = field(default=())


class OrderMonitor(Protocol):
    def page(self, flt: OrderFilter, after: Cursor | None, limit: int, *, by: str = "date",
             descending: bool = True) -> tuple[list[MonitorRow], Cursor | None]:
        """Up to ``limit`` orders of the filter after ``after``, sorted ``by`` ``date`` or
        ``amount``, and the cursor of the next page (None: this is the last)."""
        ...

    def totals(self, flt: OrderFilter) -> list[Total]:
        """Count and sum of the filter's orders per currency and state."""
        ...
