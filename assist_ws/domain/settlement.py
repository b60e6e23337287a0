"""Settlement as values: what a payment owes, settlement batches and their items,
and the daily cut-off schedule of a processing center.

Pure Python.  The use cases in ``services/settle.py`` decide with these; the database adapter
finds and stores them in bulk, so that a million operations never become a million objects
at once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from functools import cached_property

from .errors import Second, ValidationError
from .money import Money
from .text import is_digits


class BatchState(str, enum.Enum):
    """``sent``: recorded, with its items, before it went to the center; answers not yet
    recorded (a worker owns it until its lease ends; then any worker sends it again with the
    same ids).  ``done``: every item has its financial transaction, with the center's answer
    (or ``unknown``, left to the resolver)."""

    SENT = "sent"
    DONE = "done"


def parse_cutoff(text: str) -> time:
    """``"21:00"`` -> 21:00 UTC; a clear error for anything else."""
    parts = (text or "").strip().split(":")
    if len(parts) != 2 or not all(is_digits(p) and len(p) <= 2 for p in parts) or not (
            0 <= int(parts[0]) < 24 and 0 <= int(parts[1]) < 60):
        raise ValidationError(f"cut-off {text!r} is not a time like 21:00", Second.DATE)
    return time(int(parts[0]), int(parts[1]), tzinfo=timezone.utc)


def latest_cutoff(now: datetime, cutoff: str) -> datetime:
    """The last cut-off moment at or before ``now`` (UTC): today's if it has passed, else
    yesterday's."""
    at = parse_cutoff(cutoff)
    now = now.astimezone(timezone.utc)
    today = datetime.combine(now.date(), at)
    return today if today <= now else today - timedelta(days=1)


def next_cutoff(now: datetime, cutoff: str) -> datetime:
    """The first cut-off moment after ``now`` (UTC)."""
    return latest_cutoff(now, cutoff) + timedelta(days=1)


@dataclass(frozen=True)
class DuePayment:
    """A card payment due for settlement, as the database found (and locked) it.

    ``authorized`` is the pay operation's amount, ``confirmed`` the confirmed amount of a
    two-stage payment (None for one-stage), ``canceled`` the sum of cancels that succeeded
    and ``reversed`` what reversals already released of the hold.
    """

    order_id: int
    bill_number: str
    operation_id: int
    authorization_request_id: str
    currency: str
    authorized: Decimal
    confirmed: Decimal | None = None
    canceled: Decimal = Decimal(0)
    reversed: Decimal = Decimal(0)

    @cached_property
    def owed(self) -> Money:
        """What the center is asked to settle: the confirmed (or, one-stage, the paid)
        amount less what was canceled before settlement."""
        base = self.authorized if self.confirmed is None else self.confirmed
        return Money(base - self.canceled, self.currency)

    @property
    def released(self) -> Money:
        """The rest of the hold the settlement releases: the unconfirmed part of a partly
        confirmed payment and anything else held beyond what is owed."""
        return Money(self.released_amount, self.currency)

    @property
    def released_amount(self) -> Decimal:
        base = self.authorized if self.confirmed is None else self.confirmed
        return max(self.authorized - self.reversed - (base - self.canceled), Decimal(0))


@dataclass(frozen=True)
class SettlementItem:
    """One financial transaction of a batch: its request id, the authorization it settles
    and the amount (and, inside the gateway, the pay operation it belongs to)."""

    request_id: str
    authorization_request_id: str
    amount: Money
    operation_id: int | None = None


@dataclass
class SettlementBatch:
    """A batch of financial transactions sent to one center in one request.  ``entries``
    are its items, written down before the batch goes out; each becomes a financial
    transaction of its pay operation when the answer is recorded."""

    batch_id: str
    center: str
    currency: str
    created_at: datetime
    lease_until: datetime
    cutoff_at: datetime | None = None
    state: str = BatchState.SENT.value
    items: int = 0
    amount: Decimal = Decimal(0)
    settled: int = 0
    declined: int = 0
    unknown: int = 0
    attempts: int = 1
    message: str | None = None
    finished_at: datetime | None = None
    entries: list[SettlementItem] = field(default_factory=list)


@dataclass(frozen=True)
class ItemResult:
    """The center's answer for one item, as it is recorded."""

    request_id: str
    state: str                 # TransactionState value: success, declined, unknown
    response_code: str | None = None
    message: str | None = None
    next_attempt_at: datetime | None = None


@dataclass
class SettlementSummary:
    """What a settlement run did: batches, operations, and amounts per currency."""

    batches: int = 0
    operations: int = 0
    settled: int = 0
    declined: int = 0
    unknown: int = 0
    #: batches whose answer did not come (they are sent again later with the same ids)
    retried: int = 0
    amounts: dict[str, Decimal] = field(default_factory=dict)
    released: dict[str, Decimal] = field(default_factory=dict)

    def add(self, other: "SettlementSummary") -> None:
        self.batches += other.batches
        self.operations += other.operations
        self.settled += other.settled
        self.declined += other.declined
        self.unknown += other.unknown
        self.retried += other.retried
        for mine, theirs in ((self.amounts, other.amounts), (self.released, other.released)):
            for cur, value in theirs.items():
                mine[cur] = mine.get(cur, Decimal(0)) + value

    def count(self, amounts: dict[str, Decimal], money: Money) -> None:
        amounts[money.currency] = amounts.get(money.currency, Decimal(0)) + money.amount
