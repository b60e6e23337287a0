"""The settlement repository: due payments claimed, batches written down, and answers
recorded as financial transactions, in bulk, with SQL rather than ORM objects.

A claim locks and marks order rows in one statement (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so any number of workers share the work; SQLite serializes writers anyway).  The
orders still due are those of the partial index ``ix_orders_settlement_due``; a claimer walks
them in id order from where its last claim ended.  A batch's items are kept with the batch
(``settlement_batches.entries``) until its answer comes, and then become financial
transactions in one statement.  Each statement touches at most one batch of rows, so a million
due operations never make one huge transaction or one huge list in memory.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Iterator, Sequence

from sqlalchemy import (Integer, String, and_, any_, bindparam, func, insert, select, text,
                        update)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..domain.model import (OPEN_TRANSACTION_STATES, POINTS_TRANSACTION_TYPES, MeansType,
                            OperationState, OperationType, TransactionState, TransactionType)
from ..domain.money import Money
from ..domain.settlement import (BatchState, DuePayment, ItemResult, SettlementBatch,
                                 SettlementItem)
from .tables import SETTLEABLE_STATES, operations, orders, settlement_batches, transactions
from .types import UtcDateTime, stored

#: Parameters per ``IN (...)`` list (SQLite's old limit was 999).
_CHUNK = 500
#: Financial transactions of a batch on PostgreSQL: one statement per kind of answer, the
#: per-row values as arrays unnested into rows (a thousand rows of parameters would cost
#: more to send and parse than to insert); an entry recorded by an earlier send of the batch
#: stays as it is.
_INSERT_PG = text(
    "INSERT INTO transactions (operation_id, request_id, amount, authorization_request_id, "
    "type, state, center, currency, batch_id, response_code, message, attempts, "
    "next_attempt_at, created_at, sent_at, finished_at) "
    "SELECT u.op, u.rid, CAST(u.amount AS numeric), u.aid, 'financial', :state, :center, "
    ":currency, :batch, :code, :message, :attempts, :next_at, :created, :created, :finished "
    "FROM unnest(:ops, :rids, :amounts, :aids) AS u(op, rid, amount, aid) "
    "ON CONFLICT (request_id) DO NOTHING"
).bindparams(bindparam("ops", type_=ARRAY(Integer)), bindparam("rids", type_=ARRAY(String)),
             bindparam("amounts", type_=ARRAY(String)), bindparam("aids", type_=ARRAY(String)),
             bindparam("next_at", type_=UtcDateTime()), bindparam("created", type_=UtcDateTime()),
             bindparam("finished", type_=UtcDateTime()))
#: The partial index predicate, spelled with literals so PostgreSQL can match the index even
#: with a generic (prepared) plan.
_DUE_STATES = text("orders.state IN ({})".format(", ".join(f"'{s}'" for s in SETTLEABLE_STATES)))
_OPEN = [s.value for s in OPEN_TRANSACTION_STATES]
#: Points transactions move no money: one waiting for its answer does not hold settlement up.
_POINTS_TYPES = [t.value for t in POINTS_TRANSACTION_TYPES]
_FINAL = (TransactionState.SUCCESS.value, TransactionState.DECLINED.value)


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class SettlementRepository:
    def __init__(self, session: Session):
        self.session = session
        self.pg = session.get_bind().dialect.name == "postgresql"

    def _member(self, column, values: Sequence, type_) -> Iterator:
        """``column IN values`` as where-clauses: one array parameter on PostgreSQL (a
        thousand placeholders cost more to parse than the query to run), IN lists of at most
        ``_CHUNK`` elsewhere."""
        if self.pg:
            yield column == any_(bindparam(None, list(values), type_=ARRAY(type_)))
            return
        for chunk in _chunks(values):
            yield column.in_(chunk)

    # -- due payments ---------------------------------------------------------------------
    def _due(self, center: str, due_before: datetime):
        # Both subqueries are looked up per candidate row through the indexes on
        # operations.order_id and transactions.operation_id; written as anti-joins they make
        # PostgreSQL scan every operation, or every open transaction, for each claim.
        approved = (select(func.max(operations.c.finished_at))
                    .where(operations.c.order_id == orders.c.id,
                           operations.c.type.in_([OperationType.PAY.value,
                                                  OperationType.CONFIRM.value]),
                           operations.c.state == OperationState.SUCCESS.value)
                    .scalar_subquery())
        waiting = (select(func.count())
                   .select_from(operations.join(transactions,
                                                transactions.c.operation_id == operations.c.id))
                   .where(operations.c.order_id == orders.c.id,
                          transactions.c.state.in_(_OPEN),
                          transactions.c.type.notin_(_POINTS_TYPES))
                   .scalar_subquery())
        return and_(orders.c.center == center, orders.c.settlement_batch_id.is_(None),
                    _DUE_STATES, approved <= due_before, waiting == 0)

    def count_due(self, center: str, due_before: datetime) -> int:
        stmt = select(func.count()).select_from(orders).where(self._due(center, due_before))
        return int(self.session.scalar(stmt) or 0)

    def claim_due(self, center: str, due_before: datetime, limit: int, batch_id: str,
                  after: int = 0) -> list[DuePayment]:
        # Locking and marking in one statement writes each order row once.  ``after`` (the
        # last order this claimer took) keeps a long run from walking the orders it has
        # settled again and again.
        wanted = (select(orders.c.id).where(self._due(center, due_before), orders.c.id > after)
                  .order_by(orders.c.id).limit(limit)
                  .with_for_update(of=orders, skip_locked=True))
        claim = (update(orders).where(orders.c.id.in_(wanted.scalar_subquery()))
                 .values(settlement_batch_id=batch_id).returning(orders.c.id))
        ids = sorted(self.session.scalars(claim))
        if not ids:
            return []
        # Read the operations in a new statement: under READ COMMITTED it sees whatever was
        # committed while the claim waited, e.g. a cancel that has just been sent.
        rows = defaultdict(list)
        op, tx = operations, transactions
        for member in self._member(orders.c.id, ids, Integer):
            q = (select(orders.c.id, orders.c.bill_number, op.c.id, stored(op.c.type),
                        stored(op.c.state), op.c.means, op.c.amount, op.c.currency,
                        stored(tx.c.type), stored(tx.c.state), tx.c.request_id, tx.c.amount)
                 .select_from(orders.join(op, op.c.order_id == orders.c.id)
                              .outerjoin(tx, tx.c.operation_id == op.c.id))
                 .where(member))
            for row in self.session.execute(q):
                rows[row[0]].append(row)
        dues = [due for order_id in ids if (due := _due_payment(order_id, rows[order_id]))]
        if len(dues) < len(ids):  # not due after all: not in this batch
            taken = {due.order_id for due in dues}
            for member in self._member(orders.c.id, [i for i in ids if i not in taken],
                                       Integer):
                self.session.execute(update(orders).where(member)
                                     .values(settlement_batch_id=None))
        return dues

    # -- batches --------------------------------------------------------------------------
    def add_batch(self, batch: SettlementBatch, now: datetime) -> None:
        self.session.execute(insert(settlement_batches).values(_batch_row(batch)))

    def claim_stale(self, now: datetime, lease_until: datetime,
                    center: str | None = None) -> SettlementBatch | None:
        b = settlement_batches
        stmt = select(b).where(b.c.state == BatchState.SENT.value, b.c.lease_until <= now)
        if center is not None:
            stmt = stmt.where(b.c.center == center)
        stmt = stmt.order_by(b.c.created_at).limit(1).with_for_update(skip_locked=True)
        row = self.session.execute(stmt).mappings().first()
        if row is None:
            return None
        batch = _batch(row)
        batch.attempts += 1
        batch.lease_until = lease_until
        self.save(batch)
        return batch

    def record(self, batch: SettlementBatch, results: Sequence[ItemResult],
               now: datetime) -> None:
        if self.pg:
            # Answers may be lost in a crash without harm: the batch is still ``sent`` then,
            # and is sent again with the same ids, which the center answers as before.  (The
            # claim, which must be on disk before anything is sent, commits synchronously.)
            self.session.execute(text("SET LOCAL synchronous_commit = off"))
        entries = {e.request_id: e for e in batch.entries}
        groups: dict[tuple, list] = defaultdict(list)
        for r in results:
            e = entries[r.request_id]
            groups[(r.state, r.response_code, r.message, r.next_attempt_at,
                    e.amount.currency)].append(e)
        for (state, code, message, next_at, currency), group in groups.items():
            common = {"state": state, "center": batch.center, "currency": currency,
                      "batch": batch.batch_id, "code": code,
                      "message": message[:256] if message else None,
                      "attempts": batch.attempts, "next_at": next_at,
                      "created": batch.created_at,
                      "finished": now if state in _FINAL else None}
            if self.pg:
                self.session.execute(_INSERT_PG, dict(
                    common, ops=[e.operation_id for e in group],
                    rids=[e.request_id for e in group],
                    amounts=[format(e.amount.amount, "f") for e in group],
                    aids=[e.authorization_request_id for e in group]))
                continue
            # SQLite: an entry recorded by an earlier send of the batch stays as it is.
            self.session.execute(insert(transactions).prefix_with("OR IGNORE"), [{
                "operation_id": e.operation_id, "request_id": e.request_id,
                "type": TransactionType.FINANCIAL.value, "state": state,
                "center": batch.center, "amount": e.amount.amount, "currency": currency,
                "authorization_request_id": e.authorization_request_id,
                "batch_id": batch.batch_id, "response_code": code,
                "message": common["message"], "attempts": batch.attempts,
                "next_attempt_at": next_at, "created_at": batch.created_at,
                "sent_at": batch.created_at, "finished_at": common["finished"]}
                for e in group])
        self.save(batch)

    def save(self, batch: SettlementBatch) -> None:
        row = _batch_row(batch)
        key = row.pop("batch_id")
        row.pop("entries")  # written once, with the batch
        self.session.execute(update(settlement_batches)
                             .where(settlement_batches.c.batch_id == key).values(**row))

    def get(self, batch_id: str) -> SettlementBatch | None:
        row = self.session.execute(select(settlement_batches).where(
            settlement_batches.c.batch_id == batch_id)).mappings().first()
        return _batch(row) if row is not None else None

    def stale(self, min_attempts: int) -> list[SettlementBatch]:
        b = settlement_batches
        stmt = (select(b).where(b.c.state == BatchState.SENT.value, b.c.attempts >= min_attempts)
                .order_by(b.c.created_at))
        return [_batch(row) for row in self.session.execute(stmt).mappings()]


def _batch_row(batch: SettlementBatch) -> dict:
    entries = json.dumps([[e.request_id, e.operation_id, e.authorization_request_id,
                           format(e.amount.amount, "f"), e.amount.currency]
                          for e in batch.entries], separators=(",", ":"))
    return {"batch_id": batch.batch_id, "center": batch.center, "state": batch.state,
            "entries": entries,
            "cutoff_at": batch.cutoff_at, "items": batch.items, "amount": batch.amount,
            "currency": batch.currency, "settled": batch.settled, "declined": batch.declined,
            "unknown": batch.unknown, "attempts": batch.attempts,
            "lease_until": batch.lease_until,
            "message": batch.message[:256] if batch.message else None,
            "created_at": batch.created_at, "finished_at": batch.finished_at}


def _batch(row) -> SettlementBatch:
    values = dict(row)
    entries = [SettlementItem(rid, aid, Money(Decimal(amount), cur), op_id)
               for rid, op_id, aid, amount, cur in json.loads(values.pop("entries"))]
    return SettlementBatch(**values, entries=entries)


_PAY, _CONFIRM, _CANCEL = (OperationType.PAY.value, OperationType.CONFIRM.value,
                           OperationType.CANCEL.value)
_SUCCESS, _CARD = OperationState.SUCCESS.value, MeansType.CARD.value
_FINANCIAL, _AUTHORIZATION, _REVERSAL = (TransactionType.FINANCIAL.value,
                                         TransactionType.AUTHORIZATION.value,
                                         TransactionType.REVERSAL.value)
_TX_SUCCESS = TransactionState.SUCCESS.value
_OPEN_SET = frozenset(_OPEN)


def _due_payment(order_id: int, rows) -> DuePayment | None:
    """The due payment of one order from its (operation, transaction) rows, or None when
    the order turns out not to be due after all (a transaction is waiting for an answer, or
    it was settled)."""
    pay = confirmed = None
    canceled = reversed_ = Decimal(0)
    auth_id = None
    counted_cancels = set()
    for (_oid, bill, op_id, op_type, op_state, means, op_amount, currency, tx_type, tx_state,
         tx_rid, tx_amount) in rows:
        if tx_state in _OPEN_SET or tx_type == _FINANCIAL:
            return None
        if op_state == _SUCCESS:
            if op_type == _PAY and means == _CARD:
                pay = (bill, op_id, op_amount, currency)
                if tx_type == _AUTHORIZATION:
                    auth_id = tx_rid
            elif op_type == _CONFIRM:
                confirmed = op_amount
            elif op_type == _CANCEL and op_id not in counted_cancels:
                counted_cancels.add(op_id)
                canceled += op_amount
        if tx_type == _REVERSAL and tx_state == _TX_SUCCESS:
            reversed_ += tx_amount or Decimal(0)
    if pay is None or auth_id is None:
        return None
    bill, op_id, amount, currency = pay
    due = DuePayment(order_id, bill, op_id, auth_id, currency, amount, confirmed, canceled,
                     reversed_)
    return due if due.owed.amount > 0 else None
