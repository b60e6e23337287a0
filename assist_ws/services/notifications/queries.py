"""What the operator and the merchant see of notifications, and replay: listings, one
notification with its delivery journal, and queuing chosen notifications again.

A replay request is checked once, by ``replay_request``, whoever makes it; ``replay`` sends
the chosen notifications again as they were, with the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from ...domain.errors import NotFound, Second, ValidationError, malformed
from ...domain.notifications import UNDELIVERED, DeliveryAttempt, Notification
from ...domain.ports import BackOfficeUnitOfWork, Clock
from ..common import split_bill_number

#: At most this many notifications are replayed by one request.
REPLAY_LIMIT = 10000


@dataclass(frozen=True)
class AttemptView:
    """One try of a delivery, as the journal keeps it."""

    number: int
    started_at: datetime
    url: str
    verdict: str
    http_status: int | None
    duration_ms: int
    reply_excerpt: str | None
    error: str | None

    @classmethod
    def of(cls, a: DeliveryAttempt) -> AttemptView:
        return cls(a.number, a.started_at, a.url, a.verdict, a.http_status, a.duration_ms,
                   a.reply_excerpt, a.error)


@dataclass(frozen=True)
class NotificationView:
    """A notification as listed: what it tells, and how its delivery stands."""

    notification_id: str
    merchant_id: int
    bill_number: str
    order_number: str
    sequence: int
    kind: str
    success: bool
    operation_number: int | None
    operation_type: int
    order_state: str
    state: str
    attempts: int
    replays: int
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    #: The state of the result's operation as the notification tells it (None: a result
    #: without an operation, e.g. the buyer's timeout).
    operation_state: str | None = None
    #: The latest try (listings of undelivered notifications only).
    last_attempt: AttemptView | None = None

    @classmethod
    def of(cls, n: Notification, last: DeliveryAttempt | None = None) -> NotificationView:
        ops = (n.content or {}).get("operations") or [{}]
        return cls(n.notification_id, n.merchant_id, n.bill_number, n.order_number,
                   n.sequence, n.kind, n.success, n.operation_number, n.operation_type,
                   n.order_state, n.state, n.attempts, n.replays, n.created_at,
                   n.next_attempt_at, n.delivered_at, n.last_error, ops[0].get("state"),
                   AttemptView.of(last) if last is not None else None)


@dataclass(frozen=True)
class ReplayRequest:
    """What to replay, checked: one order (by its billnumber), one order number (all its
    payment attempts), or the notifications created from ``since`` to ``until``."""

    bill_number: str | None = None
    order_number: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class ReplayResult:
    notifications: tuple[NotificationView, ...] = field(default=())

    @property
    def count(self) -> int:
        return len(self.notifications)


def given(value: Any) -> str | None:
    """A request's value as text without surrounding blanks; None when absent or blank."""
    if value is None:
        return None
    return str(value).strip() or None


def replay_request(bill_number: Any = None, order_number: Any = None,
                   since: datetime | None = None, until: datetime | None = None, *,
                   window: Callable[[], tuple[datetime, datetime]] | None = None
                   ) -> ReplayRequest:
    """Check a replay request: exactly one of a billnumber (an extended one names its
    order), an order number and a window; nothing chosen is 3/0, more than one 5/0.  The
    window is ``since`` and ``until`` (both, in order), or ``window``, which gives them and
    is called only once the window is known to be the one choice."""
    bill, number = given(bill_number), given(order_number)
    windowed = window is not None or since is not None or until is not None
    chosen = (bill is not None) + (number is not None) + windowed
    if chosen == 0:
        raise ValidationError("say what to replay: a billnumber, an order number, or a "
                              "window of creation dates", Second.NONE, firstcode=3)
    if chosen > 1:
        raise ValidationError("a billnumber, an order number and a window of dates are three "
                              "ways to choose what to replay: give only one", Second.NONE)
    if bill is not None:
        bill = split_bill_number(bill)[0]
    if number is not None and len(number) > 128:
        raise malformed("Ordernumber", Second.ORDERNUMBER, "at most 128 characters")
    if window is not None:
        since, until = window()
    if windowed and (since is None or until is None):
        raise ValidationError("a date range needs both ends", Second.DATE, firstcode=3)
    if since is not None and until is not None and since > until:
        raise ValidationError("the date range ends before it starts", Second.DATE)
    return ReplayRequest(bill, number, since, until)


def replay(uow: BackOfficeUnitOfWork, clock: Clock, merchant_id: int, request: ReplayRequest, *,
           limit: int = REPLAY_LIMIT) -> ReplayResult:
    """Queue again, as they were and with the same ids, the merchant's notifications the
    request chooses; more than ``limit`` is 17/4 and replays nothing.  Those delivered,
    rejected or expired become pending; pending ones become due now."""
    now = clock.now()
    with uow:
        if uow.merchants.get(merchant_id) is None:
            raise NotFound(f"merchant {merchant_id} not found", Second.MERCHANT_ID)
        found = uow.notifications.find(merchant_id, bill_number=request.bill_number,
                                       order_number=request.order_number,
                                       since=request.since, until=request.until,
                                       limit=limit + 1, lock=True)
        if len(found) > limit:
            raise ValidationError(f"more than {limit} notifications match; choose a shorter "
                                  f"date range", Second.INTERVAL, firstcode=17)
        for n in found:
            n.replay(now)
        uow.commit()
        return ReplayResult(tuple(NotificationView.of(n) for n in found))


def undelivered(uow: BackOfficeUnitOfWork, merchant_id: int | None = None, *,
                since: datetime | None = None, until: datetime | None = None,
                limit: int = 1000) -> list[NotificationView]:
    """Notifications not delivered (yet) — pending, rejected by the merchant, or expired —
    created from ``since`` to ``until``, oldest first, each with its latest try."""
    with uow.reader() as r:
        found = r.notifications.find(merchant_id, since=since, until=until,
                                     states=[s.value for s in UNDELIVERED], limit=limit)
        last = r.notifications.last_attempts(found)
        return [NotificationView.of(n, last.get(n.id)) for n in found]


def notifications_of(uow: BackOfficeUnitOfWork, merchant_id: int | None = None, *,
                     bill_number: str | None = None, order_number: str | None = None,
                     limit: int = 1000) -> list[NotificationView]:
    """The notifications of one billnumber or order number, delivered or not."""
    bill = split_bill_number(bill_number)[0] if bill_number is not None else None
    with uow.reader() as r:
        return [NotificationView.of(n) for n in r.notifications.find(
            merchant_id, bill_number=bill, order_number=order_number, limit=limit)]


def details(uow: BackOfficeUnitOfWork, notification_id: str, merchant_id: int | None = None
            ) -> tuple[NotificationView, list[AttemptView], dict[str, Any]]:
    """One notification, its delivery journal and its content."""
    with uow.reader() as r:
        n = r.notifications.get(notification_id.strip(), merchant_id=merchant_id)
        if n is None:
            raise NotFound(f"notification {notification_id} not found", Second.NONE)
        journal = [AttemptView.of(a) for a in r.notifications.attempts(n)]
        return NotificationView.of(n), journal, n.content
