"""Confirming a two-stage payment (``charge``): full or partial, never twice."""

from __future__ import annotations

from ..domain.errors import OperationProhibited, Second
from ..domain.model import (OperationState, OperationType, ProcessingCenter, Transaction,
                            TransactionType, find_transaction)
from ..domain.money import Money
from ..domain.outcomes import record_reply
from ..domain.ports import Clock, ProcessingGateway, BackOfficeUnitOfWork
from ..domain.states import OrderEvent
from .common import load_center, load_order, split_bill_number
from .points import accrue
from .results import OperationResult, OperationView, OrderView, log_result


def confirm_payment(uow: BackOfficeUnitOfWork, gateway: ProcessingGateway, clock: Clock,
                    merchant_id: int, bill_number: str, amount: Money | None = None, *,
                    auto_deposit: bool = False, client_ip: str | None = None) -> OperationResult:
    """Confirm ``amount`` (default: all) of a Delayed order's hold.

    The order row is locked; a repeated confirm returns the stored result and charges
    nothing.  The money moves at settlement; with ``auto_deposit`` the unconfirmed rest of the
    hold is released at once where the center can reverse part of a hold (otherwise at
    settlement).
    """
    bill, number = split_bill_number(bill_number)
    now = clock.now()
    release: tuple[ProcessingCenter, str, str, Money] | None = None
    with uow:
        order = load_order(uow, bill, merchant_id, lock=True)
        if number is not None and (order.card_payment is None
                                   or order.card_payment.number != number):
            raise OperationProhibited(f"{bill_number} is not the order's card payment",
                                      Second.BILLNUMBER)
        done = order.confirmation
        if done is not None:
            if amount is None or amount == done.money:
                return OperationResult(OrderView.of(order), OperationView.of(order, done), True)
            raise OperationProhibited(
                f"order {bill} is already confirmed for {done.money}; only one confirmation "
                f"is possible", Second.CONFIRM)
        value = order.check_confirm(amount)
        pay = order.paid_card()
        full = value == pay.money
        op = order.add_operation(OperationType.CONFIRM, value, now, rate=pay.rate,
                                 client_ip=client_ip)
        op.follows(pay)
        op.auto_deposit = auto_deposit
        op.finish(OperationState.SUCCESS, now, response_code="AS000",
                  message="Operation completed successfully", approval_code=pay.approval_code)
        order.apply(OrderEvent.CONFIRM_FULL if full else OrderEvent.CONFIRM_PART, now)
        if not full and auto_deposit:
            center = load_center(uow, order.center)
            if center.partial_reversal:
                rest, auth_id = pay.money - value, pay.authorization_id()
                tx = op.add_transaction(Transaction(
                    TransactionType.REVERSAL, center.name, rest.amount, rest.currency,
                    now, authorization_request_id=auth_id))
                tx.mark_sent(now)
                release = (center, tx.request_id, auth_id, rest)
        uow.commit()
        result = OperationResult(OrderView.of(order), OperationView.of(order, op))
        enrolled = pay.points is not None  # a card in the bonus program: points accrue
    log_result("confirm", result)
    if enrolled:
        accrue(uow, gateway, clock, bill)
    if release is None:
        return result

    center, release_id, auth_id, rest = release
    reply = gateway.reverse(center, release_id, auth_id, rest)
    with uow:
        order = load_order(uow, bill, lock=True)
        rop, tx = find_transaction(order, release_id)
        record_reply(order, rop, tx, reply, clock.now())
        uow.commit()
    return result

