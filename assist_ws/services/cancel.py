"""Canceling a payment: full or partial, repeatable; a reversal of the hold
before settlement, a refund after.  The system chooses; the merchant only asks."""

from __future__ import annotations

from ..domain.errors import Duplicate, Locked, OperationProhibited, Second, ValidationError
from ..domain.model import (OperationType, Order, Transaction, TransactionType, find_transaction,
                            held_at_center)
from ..domain.money import Money
from ..domain.outcomes import record_reply
from ..domain.ports import Clock, ProcessingGateway, BackOfficeUnitOfWork
from ..domain.states import OrderState
from .common import load_center, load_order, split_bill_number
from .results import OperationResult, OperationView, OrderView, log_result

REASONS = {1: "declined by the shop", 2: "declined by the customer", 3: "fraud"}


def cancel_kind(order: Order) -> TransactionType:
    """How a cancel of ``order`` reaches the center: a refund once its payment is settled,
    a reversal of the hold before; refused (Locked) while a settlement is taking it."""
    if order.settled():
        return TransactionType.REFUND
    if order.settlement_open():
        raise Locked(f"order {order.bill_number} is being settled right now; try again in a "
                     f"minute", Second.FINANCIAL)
    return TransactionType.REVERSAL


def cancel_payment(uow: BackOfficeUnitOfWork, gateway: ProcessingGateway, clock: Clock,
                   merchant_id: int, bill_number: str, amount: Money | None = None, *,
                   reason: int = 1, external_id: str | None = None,
                   client_ip: str | None = None) -> OperationResult:
    """Cancel ``amount`` (default: all that is left) of a paid order.

    The order row is locked while the cancel is written, so concurrent cancels can never add
    up to more than was paid; a cancel still waiting for the center counts as spent.  With an
    ``external_id`` (Assist's ``Externalrefundid``) a repeated request returns the stored
    result.
    """
    bill, number = split_bill_number(bill_number)
    if reason not in REASONS:
        raise ValidationError(f"CancelReason must be 1, 2 or 3, not {reason}", Second.NONE)
    now = clock.now()
    with uow:
        order = load_order(uow, bill, merchant_id, lock=True)
        if number is not None:
            op = order.operation(number)
            if op is None or op.type != OperationType.PAY or not op.succeeded:
                raise OperationProhibited(f"{bill_number} is not a successful payment of the "
                                          f"order", Second.BILLNUMBER)
        if external_id:
            for done in order.operations_of(OperationType.CANCEL):
                if done.external_id == external_id:
                    if amount is None or amount == done.money:
                        return OperationResult(OrderView.of(order),
                                               OperationView.of(order, done), True)
                    raise Duplicate(f"Externalrefundid {external_id} was already used for a "
                                    f"cancel of {done.money}", Second.CANCEL)
        value = order.check_cancel(amount)
        pay = order.paid_card()
        center = load_center(uow, order.center)
        kind = cancel_kind(order)
        if kind is TransactionType.REFUND:
            tx_amount = value
        else:
            held = held_at_center(order)
            closes = order.state is OrderState.DELAYED or value == order.cancelable()
            # Canceling everything left releases the whole hold; a part needs a partial
            # reversal, which not every center can do.
            tx_amount = held if closes else value
            if tx_amount != held and not center.partial_reversal:
                raise OperationProhibited(
                    f"processing center {center.name} cannot reverse part of an "
                    f"authorization before settlement; cancel the whole amount now, or the "
                    f"part after settlement (as a refund)", Second.REVERSAL)
        op = order.add_operation(OperationType.CANCEL, value, now, rate=pay.rate,
                                 client_ip=client_ip)
        op.follows(pay)
        op.external_id = external_id or None
        op.cancel_reason = reason
        auth_id = pay.authorization_id()
        tx = op.add_transaction(Transaction(kind, center.name, tx_amount.amount,
                                            tx_amount.currency, now,
                                            authorization_request_id=auth_id))
        tx.mark_sent(now)
        uow.commit()
        request_id = tx.request_id

    if kind is TransactionType.REFUND:
        reply = gateway.refund(center, request_id, auth_id, tx_amount)
    else:
        reply = gateway.reverse(center, request_id, auth_id, tx_amount)

    with uow:
        order = load_order(uow, bill, lock=True)
        op, tx = find_transaction(order, request_id)
        record_reply(order, op, tx, reply, clock.now())
        uow.commit()
        result = OperationResult(OrderView.of(order), OperationView.of(order, op))
    log_result("cancel", result)
    return result
