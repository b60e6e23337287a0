"""Canceling a payment: full or partial, repeatable; a reversal of the hold
before settlement, a refund after.  The system chooses; the merchant only asks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..domain.errors import Duplicate, Locked, OperationProhibited, Second, ValidationError
from ..domain.model import (MeansType, Operation, OperationType, Order, ProcessingCenter,
                            Transaction, TransactionType, find_transaction, held_at_center)
from ..domain.money import Money
from ..domain.outcomes import record_reply
from ..domain.ports import Clock, ProcessingGateway, BackOfficeUnitOfWork
from ..domain.states import OrderState
from .common import load_center, load_order, split_bill_number
from .points import add_accrual_cancel, add_points_return, send_and_record
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


@dataclass(frozen=True)
class _Send:
    """A cancel's transaction to send once the order is written."""

    kind: TransactionType
    request_id: str
    original: str
    amount: Money | None = None
    points: int = 0


def cancel_payment(uow: BackOfficeUnitOfWork, gateway: ProcessingGateway, clock: Clock,
                   merchant_id: int, bill_number: str, amount: Money | None = None, *,
                   reason: int = 1, external_id: str | None = None,
                   client_ip: str | None = None) -> OperationResult:
    """Cancel ``amount`` (default: all that is left) of a paid order.

    The order row is locked while the cancel is written, so concurrent cancels can never add
    up to more than was paid, per pay operation; a cancel still waiting for the center counts
    as spent.  With an ``external_id`` (Assist's ``Externalrefundid``) a repeated request
    returns the stored result.

    An order paid by card and points: the short billnumber without an amount cancels all
    that is left of both (the card part reversed or refunded, the points returned) and the
    accrual; the extended billnumber of the card payment (``.1``) cancels an amount of it,
    and the accrual in proportion; that of the points payment (``.2``) returns a number of
    points (``amount``, whole).  The accrual is never cancelled by itself.
    """
    bill, number = split_bill_number(bill_number)
    if reason not in REASONS:
        raise ValidationError(f"CancelReason must be 1, 2 or 3, not {reason}", Second.NONE)
    now = clock.now()
    sends: list[_Send] = []
    with uow:
        order = load_order(uow, bill, merchant_id, lock=True)
        target = None
        if number is not None:
            target = order.operation(number)
            if target is None or target.type != OperationType.PAY or not target.succeeded:
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
        points_pay = order.points_payment
        on_points = target is not None and target.means == MeansType.POINTS.value
        # A Delayed order is canceled whole: its points go back with the hold.
        whole = (target is None and amount is None) or (
            order.state is OrderState.DELAYED and not on_points)
        if on_points and order.state is OrderState.DELAYED:
            raise OperationProhibited(
                f"order {bill} is Delayed: its points go back with the whole hold; cancel the "
                f"order (billnumber {bill}) instead", Second.CANCEL)
        center = load_center(uow, order.center)
        made: list[Operation] = []
        card_left = order.state is OrderState.DELAYED or order.cancelable().is_positive()
        card_cancel = None
        if not on_points and (card_left or not whole or points_pay is None):
            card_cancel, send = _cancel_card(order, center, amount, now, client_ip)
            made.append(card_cancel)
            sends.append(send)
        if points_pay is not None and points_pay.succeeded and (
                on_points or (whole and order.points_returnable() > 0)):
            back = add_points_return(order, center.name, _whole_points(amount, points_pay)
                                     if on_points else None, now, client_ip)
            made.append(back.op)
            sends.append(_Send(back.kind, back.tx.request_id, back.original,
                               points=back.points))
        share = order.accrual_share(card_cancel.money) if card_cancel is not None else 0
        if share > 0:
            undo = add_accrual_cancel(order, center.name, share, now)
            sends.append(_Send(undo.kind, undo.tx.request_id, undo.original,
                               points=undo.points))
        if not made:
            order.check_cancel(amount)  # phrases the refusal: nothing is left
        first = made[0]
        first.external_id = external_id or None
        for op in made:
            op.cancel_reason = reason
        uow.commit()
        first_number = first.number

    for send in sends:
        if send.kind in (TransactionType.REFUND, TransactionType.REVERSAL):
            if send.kind is TransactionType.REFUND:
                assert send.amount is not None
                reply = gateway.refund(center, send.request_id, send.original, send.amount)
            else:
                reply = gateway.reverse(center, send.request_id, send.original, send.amount)
            with uow:
                order = load_order(uow, bill, lock=True)
                op, tx = find_transaction(order, send.request_id)
                record_reply(order, op, tx, reply, clock.now())
                uow.commit()
        else:
            send_and_record(uow, gateway, clock, center, bill, send.request_id, send.kind,
                            send.original, send.points)

    with uow.reader() as r:
        order = load_order(r, bill)
        first_op = order.operation(first_number)
        assert first_op is not None
        result = OperationResult(OrderView.of(order), OperationView.of(order, first_op))
    log_result("cancel", result)
    return result


def _cancel_card(order: Order, center: ProcessingCenter, amount: Money | None, now: datetime,
                 client_ip: str | None) -> tuple[Operation, _Send]:
    """The cancel of (part of) the card payment: a refund once settled, a reversal before."""
    value = order.check_cancel(amount)
    pay = order.paid_card()
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
    auth_id = pay.authorization_id()
    tx = op.add_transaction(Transaction(kind, center.name, tx_amount.amount,
                                        tx_amount.currency, now,
                                        authorization_request_id=auth_id))
    tx.mark_sent(now)
    return op, _Send(kind, tx.request_id, auth_id, tx_amount)


def _whole_points(amount: Money | None, points_pay: Operation) -> int | None:
    """The points a cancel of the points payment names (None: all that is left)."""
    if amount is None:
        return None
    if amount.currency != points_pay.currency:
        raise ValidationError(f"a cancel of the points payment counts points in "
                              f"{points_pay.currency}, not {amount.currency}", Second.CURRENCY)
    if amount.amount != amount.amount.to_integral_value():
        raise ValidationError(f"points are whole: {amount.amount} is not", Second.AMOUNT)
    return int(amount.amount)
