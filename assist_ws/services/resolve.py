"""Resolving unknown outcomes: transactions that were sent but never answered.

For each, ask the center for the transaction's status and act on its record, never on hope:

* authorization the center holds: accepted if the order can still take it, otherwise voided
  (reversed) — an order is never Approved without the center's record;
* authorization the center does not know: voided at the center by its request id (so a late
  arrival cannot hold money), then declined;
* reversal, refund or settlement the center does not know: sent again with the same request id
  (the center answers a repeated id once);
* no answer: tried again later, with growing intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..domain.model import (Order, TransactionState, TransactionType, find_transaction,
                            open_transactions)
from ..domain.money import Money
from ..domain.ports import (Clock, Outcome, ProcessingGateway, ProcessingReply, SettlementItem,
                           UnitOfWork)
from ..domain.states import OrderState, PAID_STATES
from .common import load_center
from .outcomes import backoff, record_reply, void_authorization

#: How long a ``sent`` transaction may wait for its answer before we ask about it.
DEFAULT_GRACE = timedelta(seconds=60)
#: How long a claimed order is left alone by other resolvers.
LEASE = timedelta(seconds=120)


@dataclass
class ResolveSummary:
    examined: int = 0
    resolved: int = 0
    pending: int = 0


def resolve_unknown(uow: UnitOfWork, gateway: ProcessingGateway, clock: Clock, *,
                    grace: timedelta = DEFAULT_GRACE, limit: int = 100) -> ResolveSummary:
    now = clock.now()
    claimed: list[tuple[str, str]] = []  # (bill, request_id)
    with uow:
        for order in uow.orders.with_open_transactions(now, limit, now - grace):
            for _op, tx in open_transactions(order):
                tx.next_attempt_at = now + LEASE  # claim: other resolvers skip it
                claimed.append((order.bill_number, tx.request_id))
        uow.commit()
    summary = ResolveSummary()
    for bill, request_id in claimed:
        summary.examined += 1
        if resolve_one(uow, gateway, clock, bill, request_id):
            summary.resolved += 1
        else:
            summary.pending += 1
    return summary


def resolve_one(uow: UnitOfWork, gateway: ProcessingGateway, clock: Clock, bill: str,
                request_id: str) -> bool:
    """Settle one open transaction; True when it reached a final state."""
    with uow:
        order = uow.orders.get(bill)
        op, tx = find_transaction(order, request_id)
        center = load_center(uow, tx.center)
        kind = tx.kind
        auth_id = tx.authorization_request_id
        amount = Money(tx.amount, tx.currency) if tx.amount is not None else None
    status = gateway.status(center, request_id)

    if kind is TransactionType.AUTHORIZATION:
        return _resolve_authorization(uow, gateway, clock, bill, request_id, center, status)

    reply = status
    if status.outcome is Outcome.NOT_FOUND:  # never arrived: send it again, same id
        if kind is TransactionType.REFUND:
            reply = gateway.refund(center, request_id, auth_id, amount)
        elif kind is TransactionType.REVERSAL:
            reply = gateway.reverse(center, request_id, auth_id, amount)
        elif kind is TransactionType.FINANCIAL:
            reply = gateway.settle(center, f"resend-{request_id[:8]}",
                                   [SettlementItem(request_id, auth_id, amount)])[request_id]
    return _record(uow, clock, bill, request_id, reply, center.hold_days)


def _record(uow, clock, bill, request_id, reply: ProcessingReply, hold_days: int) -> bool:
    with uow:
        order = uow.orders.get(bill, lock=True)
        op, tx = find_transaction(order, request_id)
        if reply.outcome in (Outcome.SUCCESS, Outcome.DECLINED):
            record_reply(order, op, tx, reply, clock.now(), hold_days=hold_days)
        else:
            _later(tx, clock.now())
        uow.commit()
        return tx.status.value in ("success", "declined")


def _later(tx, now: datetime) -> None:
    tx.attempts = (tx.attempts or 0) + 1
    tx.state = TransactionState.UNKNOWN.value
    tx.next_attempt_at = backoff(tx, now)


def _resolve_authorization(uow, gateway, clock, bill, request_id, center,
                           status: ProcessingReply) -> bool:
    if status.outcome in (Outcome.UNKNOWN, Outcome.IN_PROGRESS) or (
            status.outcome is Outcome.DECLINED and not status.delivered):
        return _record(uow, clock, bill, request_id, ProcessingReply(Outcome.UNKNOWN), 0)
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
    _record(uow, clock, bill, rev_id, reply, center.hold_days)
    return True


def _can_accept(uow: UnitOfWork, order: Order) -> bool:
    """An authorization found at the center may complete the order only if the order is
    still waiting for it and its order number was not paid by another attempt meanwhile."""
    if order.status is not OrderState.IN_PROCESS:
        return False
    for other in uow.orders.by_order_number(order.merchant_id, order.order_number):
        if other.bill_number != order.bill_number and other.status in PAID_STATES:
            return False
    return True

