"""Repositories: how the use cases find and add domain objects in one SQLAlchemy session."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any, Callable, Iterator
from typing import cast as cast_type

from sqlalchemy import (Integer, String, Table, and_, bindparam, case, cast, delete, exists,
                        literal_column, null, or_, select, true, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from ..domain.model import (OPEN_TRANSACTION_STATES, CurrencyRate, Merchant, MerchantUser,
                            Operation, OperationState, Order, ProcessingCenter, Transaction,
                            TransactionState)
from ..domain.ports import OpenTransactionView
from ..domain.states import OrderState
from ..domain.records import (ANY_LOGIN, ANY_MERCHANT, FailureState, LoginKey, LoginRecord,
                              OperationLine, OperationRecord, OrderRecord, Window)
from . import results_csv
from .direct import DirectQuery
from .tables import (currency_rates, login_failures, merchant_users, merchants, operations,
                     orders, processing_centers, transactions)
from .types import UtcDateTime, stored


def _has_open_transaction():
    """EXISTS a transaction of the order still waiting for an answer."""
    return exists().where(
        operations.c.order_id == orders.c.id,
        transactions.c.operation_id == operations.c.id,
        transactions.c.state.in_([s.value for s in OPEN_TRANSACTION_STATES]))


# -- the lookups of the buyer's pages, shared with their unit of work (``core_uow``) ----------
#: The merchant and order number of the order ``:bill``.
_THIS = (select(orders.c.merchant_id, orders.c.order_number)
         .where(orders.c.bill_number == bindparam("bill")).subquery("this"))
#: The orders each lookup finds, by name: (FROM, WHERE) over the bound parameters ``bill``,
#: ``merchant`` and ``number``; read in the order ``OLDEST_FIRST``.
ORDERS_BY = {
    "bill": (orders, orders.c.bill_number == bindparam("bill")),
    "bill_of": (orders, and_(orders.c.bill_number == bindparam("bill"),
                             orders.c.merchant_id == bindparam("merchant"))),
    "attempts": (orders.join(_THIS, and_(orders.c.merchant_id == _THIS.c.merchant_id,
                                         orders.c.order_number == _THIS.c.order_number)),
                 true()),
    "number": (orders, and_(orders.c.merchant_id == bindparam("merchant"),
                            orders.c.order_number == bindparam("number"))),
}
OLDEST_FIRST = (orders.c.created_at, orders.c.id)
BILL_TAKEN = select(exists().where(orders.c.bill_number == bindparam("bill")))
MERCHANT_IS = merchants.c.merchant_id == bindparam("merchant")
CENTER_NAMED = processing_centers.c.name == bindparam("name")
RATE_OF = and_(currency_rates.c.source == bindparam("source"),
               currency_rates.c.target == bindparam("target"))


def orders_params(bill_number: str | None = None, merchant_id: int | None = None,
                  order_number: str | None = None) -> tuple[str, dict]:
    """The lookup of ``ORDERS_BY`` and its parameters: by billnumber (of a merchant, if
    given), or by the merchant's order number."""
    if bill_number is None:
        return "number", {"merchant": merchant_id, "number": order_number}
    if merchant_id is None:
        return "bill", {"bill": bill_number}
    return "bill_of", {"bill": bill_number, "merchant": merchant_id}


@functools.cache
def _orm_orders(name: str, lock: bool):
    """The ORM's statement of the lookup ``name`` (made once the mappers are started)."""
    from_, where = ORDERS_BY[name]
    stmt = select(Order).select_from(from_).where(where).order_by(*OLDEST_FIRST)
    return stmt.with_for_update(of=orders) if lock else stmt


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
        return list(self.session.scalars(select(Merchant).order_by(merchants.c.merchant_id)))


class UserRepository(_Repo):
    def get(self, merchant_id: int, login: str) -> MerchantUser | None:
        return self.session.scalar(select(MerchantUser).where(
            merchant_users.c.merchant_id == merchant_id, merchant_users.c.login == login))

    def add(self, user: MerchantUser) -> None:
        self.session.add(user)

    def of_merchant(self, merchant_id: int, *, lock: bool = False) -> list[MerchantUser]:
        """The merchant's users by login; ``lock``: locked until the commit (PostgreSQL;
        SQLite writes one at a time anyway)."""
        stmt = select(MerchantUser).where(merchant_users.c.merchant_id == merchant_id) \
            .order_by(merchant_users.c.login)
        return list(self.session.scalars(stmt.with_for_update() if lock else stmt))

    def remove(self, user: MerchantUser) -> None:
        self.session.delete(user)

    def login_record(self, merchant_id: int, login: str) -> LoginRecord | None:
        rows = _LOGIN.rows(self.session.connection(), {"m": merchant_id, "l": login})
        if not rows:
            return None
        row = rows[0]
        return LoginRecord(merchant_id, login, row[0], tuple(row[1] or ()), bool(row[2]),
                           bool(row[3]), row[4])


#: Both dialects' INSERT offer ``on_conflict_do_update`` and ``excluded``.
_INSERT: dict[str, Callable[[Table], Any]] = {"postgresql": postgresql.insert,
                                              "sqlite": sqlite.insert}


class LoginFailureRepository(_Repo):
    """Failed logins (``tables.login_failures``).  A failure is counted by one upsert
    (``INSERT … ON CONFLICT DO UPDATE … RETURNING``) on both databases: concurrent failures
    of several processes are all counted, none read and written back over another's."""

    def state(self, key: LoginKey) -> FailureState:
        rows = _FAILURES.rows(self.session.connection(), _key_params(key))
        own = next((r for r in rows if r[0] != ANY_LOGIN), None)
        every = next((r for r in rows if r[0] == ANY_LOGIN), None)
        return FailureState(own[1] if own else 0, own[2] if own else None,
                            every[2] if every else None)

    def count(self, key: LoginKey, now: datetime, since: datetime) -> int:
        t = login_failures
        stmt = _INSERT[self.session.get_bind().dialect.name](t).values(
            client=key.client, merchant_id=key.merchant_id, login=key.login, failures=1,
            first_failure_at=now, last_failure_at=now, refused_until=None)
        again = t.c.first_failure_at < since
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.client, t.c.merchant_id, t.c.login],
            set_={"failures": case((again, 1), else_=t.c.failures + 1),
                  "first_failure_at": case((again, stmt.excluded.first_failure_at),
                                           else_=t.c.first_failure_at),
                  "last_failure_at": stmt.excluded.last_failure_at,
                  "refused_until": case((again, null()), else_=t.c.refused_until)})
        return self.session.execute(stmt.returning(t.c.failures)).scalar_one()

    def refuse(self, key: LoginKey, until: datetime) -> None:
        self.session.execute(update(login_failures).where(*_key_is(key))
                             .values(refused_until=until))

    def clear(self, key: LoginKey) -> None:
        self.session.execute(delete(login_failures).where(*_key_is(key)))

    def purge(self, before: datetime, now: datetime, limit: int) -> int:
        t = login_failures
        old = (t.c.last_failure_at < before,
               or_(t.c.refused_until.is_(None), t.c.refused_until <= now))
        # Rows another transaction is counting are skipped (PostgreSQL); the conditions are
        # checked again on the rows deleted, which may have changed meanwhile.
        victims = (select(t.c.id).where(*old).order_by(t.c.last_failure_at).limit(limit)
                   .with_for_update(skip_locked=True))
        done = self.session.execute(delete(t).where(t.c.id.in_(victims), *old))
        return cast_type(CursorResult, done).rowcount


def _key_is(key: LoginKey):
    t = login_failures
    return (t.c.client == key.client, t.c.merchant_id == key.merchant_id,
            t.c.login == key.login)


def _key_params(key: LoginKey) -> dict:
    return {"c": key.client, "m": key.merchant_id, "l": key.login}


class CenterRepository(_Repo):
    def get(self, name: str) -> ProcessingCenter | None:
        return self.session.scalar(select(ProcessingCenter).where(CENTER_NAMED),
                                   {"name": name})

    def add(self, center: ProcessingCenter) -> None:
        self.session.add(center)

    def list(self) -> list[ProcessingCenter]:
        return list(self.session.scalars(select(ProcessingCenter).order_by(
            processing_centers.c.name)))


class RateRepository(_Repo):
    def get(self, source: str, target: str) -> CurrencyRate | None:
        return self.session.get(CurrencyRate, (source, target))

    def add(self, rate: CurrencyRate) -> None:
        self.session.add(rate)


class OrderRepository(_Repo):
    def add(self, order: Order) -> None:
        self.session.add(order)

    def _find(self, name: str, params: dict, lock: bool) -> list[Order]:
        stmt = _orm_orders(name, lock)
        if lock:  # the row as it is now, over what this session read before
            stmt = stmt.execution_options(populate_existing=True)
        return list(self.session.scalars(stmt, params))

    def get(self, bill_number: str, *, merchant_id: int | None = None,
            lock: bool = False) -> Order | None:
        found = self._find(*orders_params(bill_number, merchant_id), lock)
        return found[0] if found else None

    def by_order_number(self, merchant_id: int, order_number: str, *,
                        lock: bool = False) -> list[Order]:
        return self._find(*orders_params(None, merchant_id, order_number), lock)

    def attempts(self, bill_number: str, *, lock: bool = False) -> list[Order]:
        return self._find("attempts", {"bill": bill_number}, lock)

    def bill_number_taken(self, bill_number: str) -> bool:
        return bool(self.session.scalar(BILL_TAKEN, {"bill": bill_number}))

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

    def loaded(self) -> list[Order]:
        """The orders this session has loaded or added."""
        return [o for o in list(self.session.identity_map.values()) + list(self.session.new)
                if isinstance(o, Order)]

    def open_transactions(self, min_attempts: int) -> list[OpenTransactionView]:
        t, op = transactions, operations
        stmt = (select(orders.c.bill_number, op.c.number, stored(op.c.type), stored(t.c.type),
                       stored(t.c.state),
                       t.c.center, t.c.amount, t.c.currency, t.c.attempts, t.c.sent_at,
                       t.c.next_attempt_at, t.c.message, t.c.request_id)
                .select_from(t.join(op, op.c.id == t.c.operation_id)
                             .join(orders, orders.c.id == op.c.order_id))
                .where(t.c.state.in_([TransactionState.SENT.value,
                                      TransactionState.UNKNOWN.value]),
                       t.c.attempts >= min_attempts)
                .order_by(t.c.sent_at, t.c.id))
        rows: list[Any] = list(self.session.execute(stmt))
        return [OpenTransactionView(*row) for row in rows]

    def operation_count(self) -> int:  # pragma: no cover - diagnostics
        from sqlalchemy import func
        return self.session.scalar(select(func.count()).select_from(Operation)) or 0

    def transaction(self, request_id: str) -> Transaction | None:
        return self.session.scalar(select(Transaction).where(
            transactions.c.request_id == request_id))

    # -- read models for the merchant's queries (Core selects: no identity map) ----------
    def login_and_records(self, key: LoginKey, order_number: str, window: Window
                          ) -> tuple[LoginRecord | None, FailureState, list[OrderRecord]]:
        """``UserRepository.login_record``, ``LoginFailureRepository.state`` and
        ``records_by_order_number`` (without operations) in one query: the hot path of an
        ERP polling for order states.  The same query, and one row at least, whether the
        login exists or not."""
        rows = _LOGIN_AND_ORDERS.rows(self.session.connection(), {
            **_key_params(key), "n": order_number, "s": window.start, "e": window.end})
        r = rows[0]
        record = None if r[0] is None else LoginRecord(
            key.merchant_id, key.login, r[0], tuple(json.loads(r[1] or "null") or ()),
            bool(r[2]), bool(r[3]), r[4])
        state = FailureState(r[5] or 0, r[6], r[7])
        return record, state, [OrderRecord(*row[8:]) for row in rows if row[8] is not None]

    def records_by_order_number(self, merchant_id: int, order_number: str, window: Window, *,
                                with_operations: bool = False) -> list[OrderRecord]:
        rows = _BY_NUMBER.rows(self.session.connection(), {
            "m": merchant_id, "n": order_number, "s": window.start, "e": window.end})
        ops: dict[int, list] = {}
        if with_operations and rows:
            ids = [r[0] for r in rows]
            for row in self.session.connection().execute(
                    select(operations.c.order_id, *_OPERATION_COLUMNS)
                    .where(operations.c.order_id.in_(ids))
                    .order_by(operations.c.order_id, operations.c.number)):
                ops.setdefault(row[0], []).append(row[1:])
        out = []
        for row in rows:
            bill = row[1]
            out.append(OrderRecord(*row[1:])._replace(operations=tuple(
                _operation_record(bill, op) for op in ops.get(row[0], ()))))
        return out

    def operation_lines(self, merchant_id: int, window: Window,
                        after: tuple[datetime, int] | None, limit: int, *,
                        success: bool | None = None) -> list[OperationLine]:
        params = {"m": merchant_id, "s": window.start, "e": window.end, "limit": limit,
                  "ok": OperationState.SUCCESS.value}
        if after is not None:
            params["after_t"], params["after_id"] = after
        return _lines_query(after is not None, success).rows(
            self.session.connection(), params, make=OperationLine._make)

    def renders_csv(self, delimiter: str) -> bool:
        return results_csv.available(self.session.connection(), delimiter)

    def operation_lines_csv(self, merchant_id: int, window: Window, delimiter: str, *,
                            success: bool | None = None) -> Iterator[bytes]:
        return results_csv.lines(self.session.connection(), merchant_id, window, delimiter,
                                 success=success)


# Columns of the read models, in the order of their dataclasses' fields.
_ORDER_COLUMNS = (orders.c.bill_number, orders.c.merchant_id, orders.c.order_number,
                  orders.c.amount, orders.c.currency, stored(orders.c.state), orders.c.test_mode,
                  orders.c.comment, orders.c.lastname, orders.c.firstname, orders.c.middlename,
                  orders.c.email, orders.c.created_at, orders.c.updated_at)
_OPERATION_COLUMNS = (operations.c.number, stored(operations.c.type), stored(operations.c.state),
                      operations.c.amount, operations.c.currency, operations.c.rate,
                      operations.c.means, operations.c.means_type, operations.c.means_number,
                      operations.c.cardholder, operations.c.card_expiry,
                      operations.c.response_code, operations.c.approval_code,
                      operations.c.message, operations.c.processing_name,
                      operations.c.client_ip, operations.c.created_at,
                      operations.c.finished_at, operations.c.auth_result)
#: The columns of ``OperationLine``, in order.
LINE_COLUMNS = (
    orders.c.order_number,
    (orders.c.bill_number + literal_column("'.'") + cast(operations.c.number, String))
    .label("bill_number"),
    orders.c.test_mode, orders.c.created_at.label("order_created_at"),
    orders.c.amount.label("order_amount"), orders.c.currency.label("order_currency"),
    stored(orders.c.state).label("order_state"), stored(operations.c.type),
    stored(operations.c.state),
    operations.c.amount, operations.c.currency, operations.c.rate, operations.c.means_type,
    operations.c.means_number, operations.c.cardholder, operations.c.approval_code,
    operations.c.response_code, operations.c.message, operations.c.processing_name,
    operations.c.created_at, operations.c.client_ip, orders.c.firstname, orders.c.lastname,
    orders.c.middlename, orders.c.email, operations.c.id)
_lines_queries: dict[tuple[bool, bool | None], DirectQuery] = {}


def _lines_query(after: bool, success: bool | None) -> DirectQuery:
    """The page query of results by date: the merchant's operations in a window, in the
    stable order, after a key (``after_t``, ``after_id``) or from the start, all of them or
    only the successful (``success``) or unsuccessful ones."""
    found = _lines_queries.get((after, success))
    if found is not None:
        return found
    created, t = operations.c.created_at, bindparam("after_t", type_=UtcDateTime())
    stmt = (select(*LINE_COLUMNS)
            .join_from(operations, orders, operations.c.order_id == orders.c.id)
            .where(orders.c.merchant_id == bindparam("m"),
                   created >= bindparam("s", type_=UtcDateTime()),
                   created < bindparam("e", type_=UtcDateTime())))
    if after:
        # (created_at, id) > after, spelled so that an index on created_at alone can start
        # the scan at the page boundary (a row-value comparison cannot).
        stmt = stmt.where(created >= t, or_(created > t, operations.c.id > bindparam(
            "after_id", type_=Integer())))
    if success is True:
        stmt = stmt.where(operations.c.state == bindparam("ok"))
    elif success is False:
        stmt = stmt.where(operations.c.state != bindparam("ok"))
    stmt = stmt.order_by(created, operations.c.id).limit(bindparam("limit", type_=Integer()))
    query = _lines_queries[(after, success)] = DirectQuery(stmt)
    return query


# The statements of the hot paths run directly on the driver (``direct``).
_BY_NUMBER = DirectQuery(
    select(orders.c.id, *_ORDER_COLUMNS)
    .where(orders.c.merchant_id == bindparam("m"), orders.c.order_number == bindparam("n"),
           orders.c.created_at >= bindparam("s", type_=UtcDateTime()),
           orders.c.created_at < bindparam("e", type_=UtcDateTime()))
    .order_by(orders.c.created_at, orders.c.id))
_OWN, _EVERY = login_failures.alias("own"), login_failures.alias("every")
#: One row whatever else is found: the login's (and the client's failures) join it.
_ONE = select(literal_column("1").label("one")).subquery("one")
#: The user's columns repeat on each order's row: ``rights`` comes as its JSON text, decoded
#: once (``login_and_records``), not once per row by the driver.
_LOGIN_AND_ORDERS = DirectQuery(
    select(merchant_users.c.password_hash, cast(merchant_users.c.rights, String),
           merchant_users.c.active, merchants.c.active, merchants.c.secret_word,
           _OWN.c.failures, _OWN.c.refused_until, _EVERY.c.refused_until, *_ORDER_COLUMNS)
    .select_from(_ONE)
    .outerjoin(merchant_users, and_(merchant_users.c.merchant_id == bindparam("m"),
                                    merchant_users.c.login == bindparam("l")))
    .outerjoin(merchants, merchants.c.merchant_id == merchant_users.c.merchant_id)
    .outerjoin(_OWN, and_(_OWN.c.client == bindparam("c"), _OWN.c.merchant_id == bindparam("m"),
                          _OWN.c.login == bindparam("l")))
    .outerjoin(_EVERY, and_(_EVERY.c.client == bindparam("c"),
                            _EVERY.c.merchant_id == ANY_MERCHANT,
                            _EVERY.c.login == ANY_LOGIN))
    .outerjoin(orders, and_(orders.c.merchant_id == merchant_users.c.merchant_id,
                            orders.c.order_number == bindparam("n"),
                            orders.c.created_at >= bindparam("s", type_=UtcDateTime()),
                            orders.c.created_at < bindparam("e", type_=UtcDateTime())))
    .order_by(orders.c.created_at, orders.c.id))
_LOGIN = DirectQuery(
    select(merchant_users.c.password_hash, merchant_users.c.rights, merchant_users.c.active,
           merchants.c.active, merchants.c.secret_word)
    .join_from(merchant_users, merchants, merchant_users.c.merchant_id == merchants.c.merchant_id)
    .where(merchant_users.c.merchant_id == bindparam("m"),
           merchant_users.c.login == bindparam("l")))
#: The key's row and the client's (the login of a real key is never empty).
_FAILURES = DirectQuery(
    select(login_failures.c.login, login_failures.c.failures, login_failures.c.refused_until)
    .where(login_failures.c.client == bindparam("c"),
           or_(and_(login_failures.c.merchant_id == bindparam("m"),
                    login_failures.c.login == bindparam("l")),
               and_(login_failures.c.merchant_id == ANY_MERCHANT,
                    login_failures.c.login == ANY_LOGIN))))


def _operation_record(bill: str, row) -> OperationRecord:
    return OperationRecord(f"{bill}.{row[0]}", *row)
