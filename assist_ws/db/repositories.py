"""Repositories: how the use cases find and add domain objects in one SQLAlchemy session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from ..domain.model import (OPEN_TRANSACTION_STATES, CurrencyRate, Merchant, MerchantUser,
                            Operation, Order, ProcessingCenter, Transaction, TransactionState)
from ..domain.ports import OpenTransactionView
from ..domain.states import OrderState
from .tables import operations, orders, transactions


def _has_open_transaction():
    """EXISTS a transaction of the order still waiting for an answer."""
    return exists().where(
        operations.c.order_id == orders.c.id,
        transactions.c.operation_id == operations.c.id,
        transactions.c.state.in_([s.value for s in OPEN_TRANSACTION_STATES]))


class _Repo:
    def __init__(self, session: Session):
        self.session = session

    def _lock(self, stmt, *, skip_locked: bool = False):
        return stmt.with_for_update(of=orders, skip_locked=skip_locked)


class MerchantRepository(_Repo):
    def get(self, merchant_id: int) -> Merchant | None:
        return self.session.get(Merchant, merchant_id)

    def add(self, merchant: Merchant) -> None:
        self.session.add(merchant)

    def list(self) -> list[Merchant]:
        return list(self.session.scalars(select(Merchant).order_by(Merchant.merchant_id)))


class UserRepository(_Repo):
    def get(self, merchant_id: int, login: str) -> MerchantUser | None:
        return self.session.scalar(select(MerchantUser).where(
            MerchantUser.merchant_id == merchant_id, MerchantUser.login == login))

    def add(self, user: MerchantUser) -> None:
        self.session.add(user)


class CenterRepository(_Repo):
    def get(self, name: str) -> ProcessingCenter | None:
        return self.session.scalar(select(ProcessingCenter).where(ProcessingCenter.name == name))

    def add(self, center: ProcessingCenter) -> None:
        self.session.add(center)

    def list(self) -> list[ProcessingCenter]:
        return list(self.session.scalars(select(ProcessingCenter).order_by(ProcessingCenter.name)))


class RateRepository(_Repo):
    def get(self, source: str, target: str) -> CurrencyRate | None:
        return self.session.get(CurrencyRate, (source, target))

    def add(self, rate: CurrencyRate) -> None:
        self.session.add(rate)


class OrderRepository(_Repo):
    def add(self, order: Order) -> None:
        self.session.add(order)

    def get(self, bill_number: str, *, merchant_id: int | None = None,
            lock: bool = False) -> Order | None:
        stmt = select(Order).where(orders.c.bill_number == bill_number)
        if merchant_id is not None:
            stmt = stmt.where(orders.c.merchant_id == merchant_id)
        if lock:
            stmt = self._lock(stmt).execution_options(populate_existing=True)
        return self.session.scalar(stmt)

    def by_order_number(self, merchant_id: int, order_number: str, *,
                        since: datetime | None = None, until: datetime | None = None,
                        lock: bool = False) -> list[Order]:
        stmt = select(Order).where(orders.c.merchant_id == merchant_id,
                                   orders.c.order_number == order_number)
        if since is not None:
            stmt = stmt.where(orders.c.created_at >= since)
        if until is not None:
            stmt = stmt.where(orders.c.created_at <= until)
        stmt = stmt.order_by(orders.c.created_at, orders.c.id)
        if lock:
            stmt = self._lock(stmt).execution_options(populate_existing=True)
        return list(self.session.scalars(stmt))

    def bill_number_taken(self, bill_number: str) -> bool:
        return bool(self.session.scalar(select(exists().where(orders.c.bill_number == bill_number))))

    def with_open_transactions(self, now: datetime, limit: int,
                               older_than: datetime) -> list[Order]:
        t = transactions
        waiting = (select(operations.c.order_id)
                   .join(t, t.c.operation_id == operations.c.id)
                   .where(or_(and_(t.c.state == TransactionState.SENT.value,
                                   t.c.sent_at < older_than),
                              t.c.state == TransactionState.UNKNOWN.value),
                          or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= now)))
        stmt = select(Order).where(orders.c.id.in_(waiting)).order_by(orders.c.id).limit(limit)
        return list(self.session.scalars(self._lock(stmt, skip_locked=True)))

    def holds_expired(self, now: datetime, limit: int) -> list[Order]:
        stmt = (select(Order)
                .where(orders.c.state == OrderState.DELAYED.value,
                       orders.c.hold_expires_at <= now, ~_has_open_transaction())
                .order_by(orders.c.id).limit(limit))
        return list(self.session.scalars(self._lock(stmt, skip_locked=True)))

    def abandoned(self, merchant_id: int, created_before: datetime, limit: int) -> list[Order]:
        stmt = (select(Order)
                .where(orders.c.state == OrderState.IN_PROCESS.value,
                       orders.c.merchant_id == merchant_id,
                       orders.c.created_at < created_before)
                .order_by(orders.c.id).limit(limit))
        return list(self.session.scalars(self._lock(stmt, skip_locked=True)))

    def open_transactions(self, min_attempts: int) -> list[OpenTransactionView]:
        t, op = transactions, operations
        stmt = (select(orders.c.bill_number, op.c.number, op.c.type, t.c.type, t.c.state,
                       t.c.center, t.c.amount, t.c.currency, t.c.attempts, t.c.sent_at,
                       t.c.next_attempt_at, t.c.message, t.c.request_id)
                .select_from(t.join(op, op.c.id == t.c.operation_id)
                             .join(orders, orders.c.id == op.c.order_id))
                .where(t.c.state.in_([TransactionState.SENT.value,
                                      TransactionState.UNKNOWN.value]),
                       t.c.attempts >= min_attempts)
                .order_by(t.c.sent_at, t.c.id))
        return [OpenTransactionView(*row) for row in self.session.execute(stmt)]

    def operation_count(self) -> int:  # pragma: no cover - diagnostics
        from sqlalchemy import func
        return self.session.scalar(select(func.count()).select_from(Operation)) or 0

    def transaction(self, request_id: str) -> Transaction | None:
        return self.session.scalar(select(Transaction).where(
            transactions.c.request_id == request_id))
