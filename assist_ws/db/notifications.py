"""The outbox of result notifications and their delivery journal, in one SQLAlchemy session."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Sequence

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from ..domain.notifications import DeliveryAttempt, Notification, NotificationState
from .tables import notification_attempts, notifications

_PENDING = NotificationState.PENDING.value
#: The highest sequence number of the notifications of the order ``:order`` (0: none); the
#: buyer's pages' unit of work (``core_uow``) runs it too.
LAST_SEQUENCE = (select(func.coalesce(func.max(notifications.c.sequence), 0))
                 .where(notifications.c.order_id == bindparam("order")))


class NotificationRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, notification: Notification) -> None:
        self.session.add(notification)

    def add_attempt(self, attempt: DeliveryAttempt) -> None:
        self.session.add(attempt)

    def get(self, notification_id: str, *, merchant_id: int | None = None,
            lock: bool = False) -> Notification | None:
        stmt = select(Notification).where(notifications.c.notification_id == notification_id)
        if merchant_id is not None:
            stmt = stmt.where(notifications.c.merchant_id == merchant_id)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return self.session.scalar(stmt)

    def last_sequence(self, order_id: int) -> int:
        return self.session.scalar(LAST_SEQUENCE, {"order": order_id}) or 0

    def claimable(self, now: datetime, limit: int) -> list[Notification]:
        stmt = (select(Notification)
                .where(notifications.c.state == _PENDING,
                       notifications.c.next_attempt_at <= now,
                       or_(notifications.c.claimed_until.is_(None),
                           notifications.c.claimed_until <= now))
                .order_by(notifications.c.next_attempt_at, notifications.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True))
        return list(self.session.scalars(stmt))

    def pending_sequences(self, order_ids: Sequence[int]) -> dict[int, list[int]]:
        found: dict[int, list[int]] = defaultdict(list)
        ids = list(dict.fromkeys(order_ids))
        for start in range(0, len(ids), 500):
            rows = self.session.execute(
                select(notifications.c.order_id, notifications.c.sequence)
                .where(notifications.c.state == _PENDING,
                       notifications.c.order_id.in_(ids[start:start + 500]))
                .order_by(notifications.c.order_id, notifications.c.sequence))
            for order_id, sequence in rows:
                found[order_id].append(sequence)
        return dict(found)

    def find(self, merchant_id: int | None = None, *, bill_number: str | None = None,
             order_number: str | None = None, since: datetime | None = None,
             until: datetime | None = None, states: Sequence[str] | None = None,
             limit: int = 1000, lock: bool = False) -> list[Notification]:
        stmt = select(Notification)
        if merchant_id is not None:
            stmt = stmt.where(notifications.c.merchant_id == merchant_id)
        if bill_number is not None:
            stmt = stmt.where(notifications.c.bill_number == bill_number)
        if order_number is not None:
            stmt = stmt.where(notifications.c.order_number == order_number)
        if since is not None:
            stmt = stmt.where(notifications.c.created_at >= since)
        if until is not None:
            stmt = stmt.where(notifications.c.created_at <= until)
        if states:
            stmt = stmt.where(notifications.c.state.in_(list(states)))
        stmt = stmt.order_by(notifications.c.created_at, notifications.c.id).limit(limit)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return list(self.session.scalars(stmt))

    def attempts(self, notification: Notification) -> list[DeliveryAttempt]:
        return list(self.session.scalars(
            select(DeliveryAttempt)
            .where(notification_attempts.c.notification_id == notification.id)
            .order_by(notification_attempts.c.number, notification_attempts.c.id)))

    def last_attempts(self, found: Sequence[Notification]) -> dict[int, DeliveryAttempt]:
        ids = [n.id for n in found if n.attempts]
        latest: dict[int, DeliveryAttempt] = {}
        for start in range(0, len(ids), 500):
            newest = (select(func.max(notification_attempts.c.id))
                      .where(notification_attempts.c.notification_id.in_(ids[start:start + 500]))
                      .group_by(notification_attempts.c.notification_id))
            for attempt in self.session.scalars(
                    select(DeliveryAttempt).where(notification_attempts.c.id.in_(newest))):
                latest[attempt.notification_id] = attempt
        return latest
