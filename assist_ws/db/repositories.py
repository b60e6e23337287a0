"""Repositories: how the use cases find and add domain objects in one SQLAlchemy session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from ..domain.model import (CurrencyRate, Merchant, MerchantUser, Operation, OperationState,
                            OperationType, Order, ProcessingCenter, Transaction, TransactionState,
                            TransactionType)
from ..domain.states import OrderState
from .tables import operations, orders, transactions


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

    def attempts(self, bill_number: str, *, lock: bool = False) -> list[Order]:
        this = select(orders.c.merchant_id, orders.c.order_number).where(
            orders.c.bill_number == bill_number).subquery()
        stmt = (select(Order)
                .join(this, and_(orders.c.merchant_id == this.c.merchant_id,
                                 orders.c.order_number == this.c.order_number))
                .order_by(orders.c.created_at, orders.c.id))
        if lock:
            stmt = self._lock(stmt).execution_options(populate_existing=True)
        return list(self.session.scalars(stmt))

    def bill_number_taken(self, bill_number: str) -> bool:
        return bool(self.session.scalar(select(exists().where(orders.c.bill_number == bill_number))))

    def due_for_settlement(self, center: str, limit: int) -> list[Order]:
        """Orders at ``center`` whose card payment succeeded and is owed (one-stage approved,
        or confirmed), with no financial transaction yet."""
        has_financial = exists().where(
            transactions.c.operation_id == operations.c.id,
            transactions.c.type == TransactionType.FINANCIAL.value)
        pay_due = exists().where(
            operations.c.order_id == orders.c.id,
            operations.c.type == OperationType.PAY.value,
            operations.c.means == "card",
            operations.c.state == OperationState.SUCCESS.value,
            ~has_financial)
        stmt = (select(Order)
                .where(orders.c.center == center,
                       orders.c.state.in_([OrderState.APPROVED.value,
                                           OrderState.PARTIAL_DELAYED.value,
                                           OrderState.PARTIAL_CANCELED.value]),
                       pay_due)
                .order_by(orders.c.id).limit(limit))
        return list(self.session.scalars(self._lock(stmt, skip_locked=True)))

    def with_open_transactions(self, now: datetime, limit: int,
                               older_than: datetime) -> list[Order]:
        open_tx = exists().where(
            transactions.c.operation_id == operations.c.id,
            operations.c.order_id == orders.c.id,
            or_(and_(transactions.c.state == TransactionState.SENT.value,
                     transactions.c.sent_at < older_than),
                transactions.c.state == TransactionState.UNKNOWN.value),
            or_(transactions.c.next_attempt_at.is_(None), transactions.c.next_attempt_at <= now))
        stmt = select(Order).where(open_tx).order_by(orders.c.id).limit(limit)
        return list(self.session.scalars(self._lock(stmt, skip_locked=True)))

    def loaded(self) -> list[Order]:
        """The orders this session has loaded or added."""
        return [o for o in list(self.session.identity_map.values()) + list(self.session.new)
                if isinstance(o, Order)]

    def operation_count(self) -> int:  # pragma: no cover - diagnostics
        from sqlalchemy import func
        return self.session.scalar(select(func.count()).select_from(Operation)) or 0

    def transaction(self, request_id: str) -> Transaction | None:
        return self.session.scalar(select(Transaction).where(
            transactions.c.request_id == request_id))
