"""How a processing center's answer moves a transaction, its operation and its order.

The one place that knows what "a reversal succeeded" or "an authorization's outcome is
unknown" means for an order: domain rules, used by the use cases of payment, confirm,
cancel, settlement and resolution.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .model import (POINTS_TRANSACTION_TYPES, Operation, OperationState, OperationType, Order,
                    Transaction, TransactionState, TransactionType)
from .ports import Outcome, ProcessingReply
from .states import OrderEvent, OrderState

#: Retry schedule for unresolved transactions: base seconds, doubled each try, capped.
BACKOFF_BASE = 10
BACKOFF_MAX = 3600
NOT_SENT = "AS998"


def backoff(tx: Transaction, now: datetime) -> datetime:
    return now + timedelta(seconds=min(BACKOFF_BASE * 2 ** max(tx.attempts - 1, 0), BACKOFF_MAX))


def cancel_event(order: Order) -> OrderEvent:
    """After a cancel succeeded: the rest (nothing left of the card part nor of the points
    part) or a part."""
    if order.state is OrderState.DELAYED:
        return OrderEvent.CANCEL_REST
    rest = order.paid() - order.canceled(include_open=False)
    points = order.points_paid() - order.points_returned(include_open=False)
    return OrderEvent.CANCEL_REST if rest.amount <= 0 and points <= 0 else \
        OrderEvent.CANCEL_PART


def _paid_event(order: Order) -> OrderEvent:
    return OrderEvent.PAY_HELD if order.delay else OrderEvent.PAY_APPROVED


#: The order states a points return moves (a Delayed order is canceled by its card part's
#: reversal; the points go back with it).
_CANCELABLE = (OrderState.APPROVED, OrderState.PARTIAL_DELAYED, OrderState.PARTIAL_CANCELED)


def record_reply(order: Order, op: Operation, tx: Transaction, reply: ProcessingReply,
                 now: datetime, *, hold_days: int = 7) -> None:
    """Move ``tx`` (and with it ``op`` and ``order``) by the center's answer."""
    if tx.state in (TransactionState.SUCCESS, TransactionState.DECLINED):
        return  # already final: answers never overturn a final state
    outcome = reply.outcome
    if outcome is Outcome.DECLINED:
        tx.finish(TransactionState.DECLINED, now, response_code=reply.response_code or NOT_SENT,
                  message=reply.message, reference=reply.reference)
    elif outcome is Outcome.SUCCESS:
        tx.finish(TransactionState.SUCCESS, now, response_code=reply.response_code or "AS000",
                  message=reply.message, reference=reply.reference)
    else:  # unknown, in progress, not found (the caller decides what not-found means)
        tx.finish(TransactionState.UNKNOWN, now, message=reply.message)
        tx.next_attempt_at = backoff(tx, now)
    _propagate(order, op, tx, reply, now, hold_days)


def _propagate(order: Order, op: Operation, tx: Transaction, reply: ProcessingReply,
               now: datetime, hold_days: int) -> None:
    kind, state = tx.type, tx.state
    if kind is TransactionType.AUTHORIZATION and op.type == OperationType.PAY:
        if state is TransactionState.SUCCESS:
            op.finish(OperationState.SUCCESS, now, response_code="AS000",
                      message=reply.message or "Authorization successfully completed",
                      approval_code=reply.approval_code)
            points = order.points_payment
            if points is None or points.succeeded:  # else the order waits for its points
                order.apply(_paid_event(order), now)
            else:  # the payment's result is reported once its points part has one
                op.result_pending = False
            order.hold_expires_at = now + timedelta(days=hold_days)
        elif state is TransactionState.DECLINED:
            op.finish(OperationState.DECLINED, now, response_code=tx.response_code,
                      message=reply.message or "Authorization declined")
            order.apply(OrderEvent.PAY_DECLINED, now, reason=reply.message)
        else:
            op.finish(OperationState.UNKNOWN, now, message="waiting for the processing center")
            order.apply(OrderEvent.PAY_UNKNOWN, now)
        return
    if op.type == OperationType.CANCEL and kind in (TransactionType.REVERSAL,
                                                    TransactionType.REFUND):
        if state is TransactionState.SUCCESS:
            op.finish(OperationState.SUCCESS, now, response_code="AS000",
                      message="Operation completed successfully")
            order.apply(cancel_event(order), now)
        elif state is TransactionState.DECLINED:
            op.finish(OperationState.DECLINED, now, response_code=tx.response_code,
                      message=reply.message or "Cancel declined by the processing center")
        else:
            op.finish(OperationState.UNKNOWN, now, message="waiting for the processing center")
        return
    if kind in POINTS_TRANSACTION_TYPES:
        _points_propagate(order, op, tx, reply, now)
        return
    # Reversals releasing a hold (auto-deposit, voided authorizations) and financial
    # transactions move only themselves.


def _points_propagate(order: Order, op: Operation, tx: Transaction, reply: ProcessingReply,
                      now: datetime) -> None:
    """A points transaction's answer: its operation follows; a points payment completes the
    order once the card part is in, a points return moves it as a cancel does.  A points
    payment declined leaves the card to be reversed (``points_failed``)."""
    state = tx.state
    card = order.card_payment
    if op.type == OperationType.PAY and card is not None and state in (
            TransactionState.SUCCESS, TransactionState.DECLINED):
        # One result for the card + points payment, about its card part (the notification
        # carries both pay operations).
        card.result_pending = True
    if state is TransactionState.SUCCESS:
        op.finish(OperationState.SUCCESS, now, response_code="AS000",
                  message=reply.message or "Operation completed successfully",
                  approval_code=reply.approval_code)
        if op.type == OperationType.PAY and order.state is OrderState.IN_PROCESS and \
                card is not None and card.succeeded:
            order.apply(_paid_event(order), now)
        elif op.type == OperationType.CANCEL and order.state in _CANCELABLE:
            order.apply(cancel_event(order), now)
    elif state is TransactionState.DECLINED:
        op.finish(OperationState.DECLINED, now, response_code=tx.response_code,
                  message=reply.message or "Declined by the processing center")
    else:
        op.finish(OperationState.UNKNOWN, now, message="waiting for the processing center")
    if op.type == OperationType.PAY and card is not None:
        op.result_pending = False


def points_failed(order: Order, now: datetime) -> Transaction | None:
    """After the points payment was declined: the card part cannot stand alone (nothing is
    half-paid), so its authorization is given up.  Returns the reversal to send, if any."""
    card = order.card_payment
    if card is None or card.authorization is None:
        return None
    if card.state is OperationState.IN_PROCESS and card.authorization.state is \
            TransactionState.NEW:
        return None
    return void_authorization(order, card, now, "the points payment failed; the card part is "
                                                "reversed")


def void_authorization(order: Order, pay: Operation, now: datetime, reason: str) -> Transaction:
    """Give up a card payment that the center may hold but the order cannot keep: the pay
    operation is declined, the order (if still In Process) too, and a full reversal of the
    authorization is queued on the pay operation.  Returns the reversal to send."""
    auth = pay.authorization
    assert auth is not None
    if pay.state is not OperationState.DECLINED:
        pay.finish(OperationState.DECLINED, now, response_code=NOT_SENT, message=reason)
    points = order.points_payment
    if points is not None and all(t.state is TransactionState.NEW for t in points.transactions):
        for tx in points.transactions:  # never sent: nothing to undo at the center
            tx.finish(TransactionState.DECLINED, now, response_code=NOT_SENT, message=reason)
        points.finish(OperationState.DECLINED, now, response_code=NOT_SENT, message=reason)
    if order.state is OrderState.IN_PROCESS:
        order.apply(OrderEvent.PAY_DECLINED, now, reason=reason)
    tx = pay.add_transaction(Transaction(TransactionType.REVERSAL, auth.center, pay.amount,
                                         pay.currency, now,
                                         authorization_request_id=auth.request_id))
    tx.mark_sent(now)
    return tx

