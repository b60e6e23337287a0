"""Resolving unknown outcomes: transactions that were sent but never answered.

For each, ask the center for the transaction's status and act on its record, never on hope:

* authorization the center holds: accepted if the order can still take it, otherwise voided
  (reversed) — an order is never Approved without the center's record;
* authorization the center does not know: voided at the center by its request id (so a late
  arrival cannot hold money), then declined;
* reversal, refund or settlement the center does not know: sent again with the same request id
  (the center answers a repeated id once); so are accruals, points returns and accrual
  cancels;
* points payment (the points part of a card + points payment): paid at the center -- the
  order is paid; declined or unknown there (voided there then) -- the card part is reversed;
* no answer: tried again later, with growing intervals (10 s, doubling, at most an hour).

A transaction still open after ``max_attempts`` tries is reported: once in the log (an error)
and for as long as it stays open by ``unresolved`` (the ``assist-ws unresolved`` command).  It
is still tried, at the longest interval: money is never given up on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..domain.errors import ProcessingUnavailable
from ..domain.model import (POINTS_TRANSACTION_TYPES, Order, TransactionState, TransactionType,
                            find_transaction, open_transactions)
from ..domain.outcomes import backoff, points_failed, record_reply, void_authorization
from ..domain.ports import (Clock, OpenTransactionView, Outcome, ProcessingGateway,
                            ProcessingReply, SettlementItem, WorkerUnitOfWork)
from ..domain.settlement import SettlementBatch
from ..domain.states import OrderState, PAID_STATES
from .common import load_center, load_order
from .points import send_points
from .results import about

log = logging.getLogger(__name__)

#: How long a ``sent`` transaction may wait for its answer before we ask about it.
DEFAULT_GRACE = timedelta(seconds=60)
#: How long a claimed order is left alone by other resolvers.
LEASE = timedelta(seconds=120)
#: Tries after which an open transaction is reported as unresolved.
DEFAULT_MAX_ATTEMPTS = 8


@dataclass
class ResolveSummary:
    examined: int = 0
    resolved: int = 0
    pending: int = 0


@dataclass
class Unresolved:
    """What the resolver could not settle within its limit: transactions, and settlement
    batches the center has not answered."""

    transactions: list[OpenTransactionView] = field(default_factory=list)
    batches: list[SettlementBatch] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.transactions or self.batches)


def resolve_unknown(uow: WorkerUnitOfWork, gateway: ProcessingGateway, clock: Clock, *,
                    grace: timedelta = DEFAULT_GRACE, limit: int = 100,
                    max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> ResolveSummary:
    """Ask about up to ``limit`` orders' open transactions that are due for a try."""
    now = clock.now()
    older_than = now - grace
    claimed: list[tuple[str, str, str]] = []  # (bill, request_id, center)
    with uow:
        for order in uow.orders.with_open_transactions(now, limit, older_than):
            for _op, tx in open_transactions(order):
                if not _due(tx, now, older_than):
                    continue
                tx.next_attempt_at = now + LEASE  # claim: other resolvers skip it
                claimed.append((order.bill_number, tx.request_id, tx.center))
        uow.commit()
    summary = ResolveSummary()
    silent: set[str] = set()  # centers that did not answer a status query in this run
    for bill, request_id, center in claimed:
        summary.examined += 1
        if center in silent:  # do not wait for it once per transaction: after the lease
            summary.pending += 1
            continue
        try:
            done = resolve_one(uow, gateway, clock, bill, request_id,
                               max_attempts=max_attempts, silent=silent)
        except ProcessingUnavailable as exc:  # the center is no longer configured
            log.warning("order %s: transaction %s: %s", bill, request_id, exc.message,
                        extra=about(bill))
            silent.add(center)
            done = False
        if done:
            summary.resolved += 1
        else:
            summary.pending += 1
    return summary


def _due(tx, now: datetime, older_than: datetime) -> bool:
    """Is this open transaction the resolver's to ask about now?"""
    if tx.next_attempt_at is not None and tx.next_attempt_at > now:
        return False
    if tx.state is TransactionState.UNKNOWN:
        return True
    return tx.sent_at is None or tx.sent_at < older_than


def unresolved(uow: WorkerUnitOfWork, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Unresolved:
    """Transactions and settlement batches still open after ``max_attempts`` tries."""
    with uow:
        return Unresolved(uow.orders.open_transactions(max_attempts),
                          uow.settlements.stale(max_attempts))


def resolve_one(uow: WorkerUnitOfWork, gateway: ProcessingGateway, clock: Clock, bill: str,
                request_id: str, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                silent: set[str] | None = None) -> bool:
    """Settle one open transaction; True when it reached a final state.  A center that
    does not answer the status query is added to ``silent``."""
    with uow:
        op, tx = find_transaction(load_order(uow, bill), request_id)
        if tx.state in (TransactionState.SUCCESS, TransactionState.DECLINED):
            return True  # settled meanwhile (by another resolver, or its late answer)
        center = load_center(uow, tx.center)
        kind = tx.type
        money = tx.money if tx.amount is not None else None
        points = tx.points or 0
        auth_id = tx.authorization_request_id or ""  # every transaction but an authorization's
    status = gateway.status(center, request_id)
    if silent is not None and status.outcome is Outcome.UNKNOWN:
        silent.add(center.name)

    if kind is TransactionType.AUTHORIZATION:
        return _resolve_authorization(uow, gateway, clock, bill, request_id, center, status,
                                      max_attempts)
    if kind is TransactionType.BONUS_PAY:
        return _resolve_points_payment(uow, gateway, clock, bill, request_id, center, status,
                                       points, max_attempts)

    reply = status
    if status.outcome is Outcome.DECLINED and not status.delivered:
        reply = ProcessingReply(Outcome.UNKNOWN, None, status.message)
    elif status.outcome is Outcome.NOT_FOUND:  # never arrived: send it again, same id
        if kind is TransactionType.REFUND:
            assert money is not None  # a refund always carries its amount
            reply = gateway.refund(center, request_id, auth_id, money)
        elif kind is TransactionType.REVERSAL:
            reply = gateway.reverse(center, request_id, auth_id, money)
        elif kind is TransactionType.FINANCIAL:
            assert money is not None  # so does a financial transaction
            reply = gateway.settle(center, f"resend-{request_id[:8]}",
                                   [SettlementItem(request_id, auth_id, money)]
                                   ).reply(request_id)
            if reply.outcome is Outcome.NOT_FOUND:  # the center does not know the authorization
                reply = ProcessingReply(Outcome.DECLINED, reply.response_code, reply.message)
        elif kind in POINTS_TRANSACTION_TYPES:
            reply = send_points(gateway, center, kind, request_id, auth_id, points)
            if reply.outcome is Outcome.NOT_FOUND:  # what it refers to is unknown there
                reply = ProcessingReply(Outcome.DECLINED, reply.response_code, reply.message)
    return _record(uow, clock, bill, request_id, reply, center.hold_days, max_attempts)


def _record(uow, clock, bill, request_id, reply: ProcessingReply, hold_days: int,
            max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> bool:
    with uow:
        order = uow.orders.get(bill, lock=True)
        op, tx = find_transaction(order, request_id)
        if reply.outcome in (Outcome.SUCCESS, Outcome.DECLINED):
            record_reply(order, op, tx, reply, clock.now(), hold_days=hold_days)
        else:
            _later(tx, clock.now(), reply.message)
            if tx.attempts == max_attempts:
                log.error("order %s: UNRESOLVED: %s transaction %s of operation %s.%s at %s "
                          "(%s %s) has no outcome after %d tries: %s; still trying every %s; "
                          "see `assist-ws unresolved`", bill, tx.type, tx.request_id, bill,
                          op.number, tx.center, tx.amount, tx.currency, tx.attempts,
                          tx.message or "no answer", tx.next_attempt_at - clock.now(),
                          extra=about(bill))
        uow.commit()
        return tx.state.value in ("success", "declined")


def _later(tx, now: datetime, message: str | None = None) -> None:
    tx.attempts = (tx.attempts or 0) + 1
    tx.state = TransactionState.UNKNOWN
    tx.next_attempt_at = backoff(tx, now)
    if message:
        tx.message = message[:256]


def _resolve_authorization(uow, gateway, clock, bill, request_id, center,
                           status: ProcessingReply, max_attempts: int) -> bool:
    if status.outcome in (Outcome.UNKNOWN, Outcome.IN_PROGRESS) or (
            status.outcome is Outcome.DECLINED and not status.delivered):
        return _record(uow, clock, bill, request_id,
                       ProcessingReply(Outcome.UNKNOWN, message=status.message), 0, max_attempts)
    if status.outcome is Outcome.DECLINED:
        return _record(uow, clock, bill, request_id, status, center.hold_days)

    void_reason = None
    with uow:
        order = uow.orders.get(bill, lock=True)
        pay, tx = find_transaction(order, request_id)
        now = clock.now()
        if status.outcome is Outcome.SUCCESS:
            if _can_accept(uow, order):
                record_reply(order, pay, tx, status, now, hold_days=center.hold_days)
                uow.commit()
                return True
            void_reason = "authorization arrived after the order was closed; reversed"
            tx.finish(TransactionState.SUCCESS, now, response_code=status.response_code,
                      reference=status.reference)
        else:  # NOT_FOUND: make sure it never holds money, then decline
            void_reason = "no answer from the processing center; authorization voided"
            tx.finish(TransactionState.DECLINED, now, response_code="AS998",
                      message="not found at the processing center")
        reversal = void_authorization(order, pay, now, void_reason)
        uow.commit()
        rev_id = reversal.request_id
    reply = gateway.reverse(center, rev_id, request_id, None)
    if reply.outcome is Outcome.NOT_FOUND:  # voided at the center: nothing is held
        reply = ProcessingReply(Outcome.SUCCESS, "AS000", "voided at the processing center")
    _record(uow, clock, bill, rev_id, reply, center.hold_days, max_attempts)
    return True


def _resolve_points_payment(uow, gateway, clock, bill, request_id, center,
                            status: ProcessingReply, points: int, max_attempts: int) -> bool:
    """A points payment without an answer: paid at the center -- the order is paid; declined,
    or unknown there (then voided there: a return of it leaves the center a tombstone, so a
    late arrival is refused) -- the card part is reversed."""
    if status.outcome is Outcome.NOT_FOUND:
        void = gateway.return_points(center, f"void-{request_id}", request_id, points)
        if void.outcome in (Outcome.NOT_FOUND, Outcome.SUCCESS):
            status = ProcessingReply(Outcome.DECLINED, "AS998",
                                     "not found at the processing center; voided")
        else:
            status = ProcessingReply(Outcome.UNKNOWN, message=void.message)
    if status.outcome not in (Outcome.SUCCESS, Outcome.DECLINED) or not status.delivered:
        return _record(uow, clock, bill, request_id,
                       ProcessingReply(Outcome.UNKNOWN, message=status.message), 0, max_attempts)
    with uow:
        order = uow.orders.get(bill, lock=True)
        op, tx = find_transaction(order, request_id)
        record_reply(order, op, tx, status, clock.now(), hold_days=center.hold_days)
        reversal = points_failed(order, clock.now()) if not op.succeeded else None
        uow.commit()
    if reversal is not None:
        reply = gateway.reverse(center, reversal.request_id,
                                reversal.authorization_request_id or "", None)
        _record(uow, clock, bill, reversal.request_id, reply, center.hold_days, max_attempts)
    return True


def _can_accept(uow: WorkerUnitOfWork, order: Order) -> bool:
    """An authorization found at the center may complete the order only if the order is
    still waiting for it and its order number was not paid by another attempt meanwhile.
    Nor when the order's points part was never sent: it cannot be sent any more (the card
    number is gone), and the card part alone would leave the order half-paid."""
    if order.state is not OrderState.IN_PROCESS:
        return False
    points = order.points_payment
    if points is not None and not points.succeeded:
        return False
    for other in uow.orders.by_order_number(order.merchant_id, order.order_number):
        if other.bill_number != order.bill_number and other.state in PAID_STATES:
            return False
    return True

