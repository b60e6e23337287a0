"""Bonus points («Спасибо»): what the buyer may pay with points, the points part of a
payment, the accrual on the card part, and sending the points transactions.

A card + points payment is two pay operations: the card part (``.1``) is authorized first,
then the points part (``.2``) is paid; the order is paid when both are, and a points payment
the center declines gives the card part up (nothing is half-paid).  The accrual (``500``)
follows a one-stage payment or a confirm; its failure never fails the payment: an answer
that says nothing (no connection, a fault, a timeout) leaves it to the resolver, which asks
and sends it again.  Cancels return points and cancel accruals (``510``) through
``send_points``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ..domain.errors import OperationProhibited, Second, ValidationError
from ..domain.model import (POINTS_MEANS_NAME, MeansType, Merchant, Operation, OperationType,
                            Order, ProcessingCenter, Transaction, TransactionType,
                            find_transaction)
from ..domain.money import Money
from ..domain.outcomes import NOT_SENT, record_reply
from ..domain.ports import CheckoutUnitOfWork, Clock, Outcome, ProcessingGateway, ProcessingReply
from ..domain.states import OrderState
from .common import AnyUnitOfWork, load_center, load_order
from .results import OperationResult, OperationView, OrderView


@dataclass(frozen=True)
class PointsOffer:
    """What the payment page offers: up to ``max_points`` of the card's ``balance``."""

    balance: int
    max_points: int


def points_ceiling(order: Order, merchant: Merchant, center: ProcessingCenter) -> int:
    """The most points the order may be paid with (0: none): its ``OrderMaxPoints``, less
    than its amount (the card pays at least a part), where the merchant and the center take
    part in the bonus program and the center works in the order's currency (1 point = 1
    unit of it)."""
    if not order.max_points or not merchant.offers_points(center) or \
            center.currency != order.currency:
        return 0
    return max(0, min(order.max_points, math.ceil(order.amount) - 1))


def points_offer(uow: CheckoutUnitOfWork, gateway: ProcessingGateway, bill_number: str,
                 card_number: str) -> PointsOffer | None:
    """The points the buyer may pay order ``bill_number`` with, for this card: None when the
    order offers none or the card is not in the program (or has no points)."""
    with uow.reader() as r:
        order = load_order(r, bill_number)
        merchant = r.merchants.get(order.merchant_id)
        name = merchant.center_for(order.currency) if merchant else None
        center = r.centers.get(name) if name else None
        if merchant is None or center is None or order.state is not OrderState.IN_PROCESS:
            return None
        ceiling = points_ceiling(order, merchant, center)
    if ceiling <= 0:
        return None
    balance = gateway.points_balance(center, card_number)
    if not balance:
        return None
    return PointsOffer(balance, min(ceiling, balance))


def add_points_payment(order: Order, merchant: Merchant, center: ProcessingCenter,
                       card: Operation, points: int, now: datetime) -> Transaction:
    """The points pay operation beside the card payment ``card``, its transaction not sent
    yet (it goes once the card part is authorized).  Refuses more points than allowed."""
    ceiling = points_ceiling(order, merchant, center)
    if points <= 0 or points > ceiling:
        raise ValidationError(
            f"order {order.bill_number} may be paid with 1 to {ceiling} points, not {points}"
            if ceiling else f"order {order.bill_number} cannot be paid with points",
            Second.AMOUNT)
    op = order.add_operation(OperationType.PAY, Money(Decimal(points),
                                                      order.currency),
                             now, means=MeansType.POINTS, client_ip=card.client_ip)
    op.points = points
    op.means_type, op.means_number = POINTS_MEANS_NAME, card.means_number
    op.card_fingerprint, op.processing_name = card.card_fingerprint, center.name
    return op.add_transaction(Transaction(TransactionType.BONUS_PAY, center.name, None,
                                          order.currency, now, points=points))


@dataclass(frozen=True)
class PointsUndo:
    """A points return or an accrual cancel written on the order, to be sent."""

    op: Operation
    tx: Transaction

    @property
    def kind(self) -> TransactionType:
        return self.tx.type

    @property
    def original(self) -> str:
        return self.tx.authorization_request_id or ""

    @property
    def points(self) -> int:
        return self.tx.points or 0


def add_points_return(order: Order, center: str, points: int | None, now: datetime,
                      client_ip: str | None = None) -> PointsUndo:
    """A cancel (``300``) of the points payment giving back ``points`` (None: all that is
    left), its transaction marked sent; refuses more than is left."""
    paid = order.points_payment
    assert paid is not None
    return _undo(order, paid, OperationType.CANCEL, TransactionType.BONUS_PAY,
                 TransactionType.BONUS_RETURN, center, order.check_points_cancel(points), now,
                 client_ip)


def add_accrual_cancel(order: Order, center: str, points: int, now: datetime) -> PointsUndo:
    """An accrual cancel (``510``) of ``points`` of the order's accrual, marked sent."""
    accrual = order.accrual
    assert accrual is not None
    return _undo(order, accrual, OperationType.ACCRUAL_CANCEL, TransactionType.BONUS_ACCRUAL,
                 TransactionType.BONUS_ACCRUAL_CANCEL, center, points, now, None)


def _undo(order: Order, original: Operation, kind: OperationType, done: TransactionType,
          undo: TransactionType, center: str, points: int, now: datetime,
          client_ip: str | None) -> PointsUndo:
    """An operation ``kind`` undoing ``points`` of ``original`` (whose ``done`` transaction
    it names), with its ``undo`` transaction marked sent."""
    op = order.add_operation(kind, Money(Decimal(points), original.currency), now,
                             means=MeansType.POINTS, client_ip=client_ip)
    op.follows(original)
    op.points = points
    tx = op.add_transaction(Transaction(
        undo, center, None, original.currency, now, points=points,
        authorization_request_id=original.transactions_of(done)[0].request_id))
    tx.mark_sent(now)
    return PointsUndo(op, tx)


def accrue(uow: AnyUnitOfWork, gateway: ProcessingGateway, clock: Clock, bill_number: str) -> None:
    """Accrue the merchant's rate of the card part of a paid order (once): after a one-stage
    payment, or the confirm of a two-stage one.  Only for a card known to be in the bonus
    program (the card payment's ``points`` is set)."""
    now = clock.now()
    with uow:
        order = load_order(uow, bill_number, lock=True)
        card = order.card_payment
        if order.accrual is not None or card is None or not card.succeeded or \
                card.points is None or order.state not in (OrderState.APPROVED,
                                                             OrderState.PARTIAL_DELAYED):
            return
        merchant = uow.merchants.get(order.merchant_id)
        center = load_center(uow, card.processing_name)
        points = merchant.accrual_for(order.paid()) if merchant else 0
        if points <= 0 or merchant is None or not merchant.offers_points(center):
            return
        op = order.add_operation(OperationType.ACCRUAL, Money(Decimal(points),
                                                              card.currency), now,
                                 means=MeansType.POINTS)
        op.points = points
        op.means_type, op.means_number = POINTS_MEANS_NAME, card.means_number
        op.processing_name = center.name
        tx = op.add_transaction(Transaction(TransactionType.BONUS_ACCRUAL, center.name, None,
                                            card.currency, now, points=points,
                                            authorization_request_id=card.authorization_id()))
        tx.mark_sent(now)
        uow.commit()
        request_id, original = tx.request_id, card.authorization_id()
    send_and_record(uow, gateway, clock, center, bill_number, request_id,
                    TransactionType.BONUS_ACCRUAL, original, points)


def follow_card_payment(uow: AnyUnitOfWork, gateway: ProcessingGateway, clock: Clock,
                        bill_number: str, result: OperationResult,
                        changed: bool = False) -> OperationResult:
    """What follows a card payment's outcome however it was reached (the center's answer
    at once, or after the buyer's trip to the ACS): the accrual of a paid order on a card in
    the bonus program (``accrue`` decides), and the result read again as the accrual left it
    (also when ``changed``: something else, a points part, changed the order since)."""
    if not result.succeeded and not changed:
        return result
    if result.succeeded:
        accrue(uow, gateway, clock, bill_number)
    with uow.reader() as r:
        order = load_order(r, bill_number)
        card_op = order.operation(result.operation.number)
        assert card_op is not None
        return OperationResult(OrderView.of(order), OperationView.of(order, card_op))


def send_points(gateway: ProcessingGateway, center: ProcessingCenter, kind: TransactionType,
                request_id: str, original: str, points: int) -> ProcessingReply:
    """Send an accrual, a points return or an accrual cancel (the same request id each
    time).  A refusal that is no answer about the points (no connection, a fault: ``AS998``)
    leaves the outcome open, for the resolver to ask about and send again."""
    if kind is TransactionType.BONUS_ACCRUAL:
        reply = gateway.accrue_points(center, request_id, original, points)
    elif kind is TransactionType.BONUS_RETURN:
        reply = gateway.return_points(center, request_id, original, points)
    elif kind is TransactionType.BONUS_ACCRUAL_CANCEL:
        reply = gateway.cancel_accrual(center, request_id, original, points)
    else:
        raise OperationProhibited(f"{kind.value} is not sent again", Second.NONE)
    if reply.outcome is Outcome.DECLINED and (reply.response_code or NOT_SENT) == NOT_SENT:
        return ProcessingReply(Outcome.UNKNOWN, None, reply.message, delivered=False)
    return reply


def send_and_record(uow: AnyUnitOfWork, gateway: ProcessingGateway, clock: Clock,
                    center: ProcessingCenter, bill_number: str, request_id: str,
                    kind: TransactionType, original: str, points: int) -> None:
    """``send_points``, then the answer recorded on the order."""
    reply = send_points(gateway, center, kind, request_id, original, points)
    with uow:
        order = load_order(uow, bill_number, lock=True)
        op, tx = find_transaction(order, request_id)
        record_reply(order, op, tx, reply, clock.now())
        uow.commit()
