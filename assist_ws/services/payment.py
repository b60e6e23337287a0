"""Paying an order by card: the authorization at the processing center, and
the buyer's personal data typed on the card page, saved with the payment's start."""

from __future__ import annotations

from decimal import Decimal
from typing import Mapping

from ..domain import cards
from ..domain.cards import CardData
from ..domain.customer import CustomerDataRefused, customer_form, review
from ..domain.errors import AssistError, NotFound, Second, ValidationError
from ..domain.model import (MeansType, OperationState, OperationType, Transaction,
                            TransactionType, find_transaction)
from ..domain.money import Money
from ..domain.outcomes import points_failed, record_reply
from ..domain.ports import CheckoutUnitOfWork, Clock, Outcome, ProcessingGateway
from ..domain.states import OrderEvent, OrderState
from .authentication import ACS_UNAVAILABLE, record_authorization
from .checkout import lock_order_number, may_pay_by_card
from .common import load_center, load_order
from .points import add_points_payment, follow_card_payment
from .results import OperationResult, OperationView, OrderView, log_result


class OrderTimedOut(AssistError):
    firstcode = 16


def pay_by_card(uow: CheckoutUnitOfWork, gateway: ProcessingGateway, clock: Clock, bill_number: str,
                card: CardData, *, client_ip: str | None = None,
                fingerprint_key: bytes = b"",
                customer: Mapping[str, str] | None = None, points: int = 0) -> OperationResult:
    """Authorize the order's amount on ``card`` -- less ``points`` paid with bonus points.

    With ``points`` (at most what ``points.points_ceiling`` allows) the card part is
    authorized first and the points part paid after it: the order is paid once both are; a
    points payment the center declines reverses the card part.  For a merchant that accrues
    points, a card in the bonus program is marked so (its pay operation's ``points`` is 0)
    and the accrual follows a one-stage payment at once.

    ``customer`` is what the buyer typed into the card page's customer fields, by field name
    (``domain.customer``): checked against the merchant's settings (``CustomerDataRefused``
    for a value that cannot be kept or a required field left empty, and nothing is written)
    and saved on the order in the transaction that starts the payment.

    A second call for the same order (a double click, a refresh) makes no second
    authorization: it returns the pay operation that exists.  An order past the merchant's
    timeout becomes ``Timeout`` and the call is refused.
    """
    now = clock.now()
    with uow:
        order, attempts = lock_order_number(uow, bill_number)
        existing = order.card_payment or next(iter(order.operations_of(OperationType.PAY)), None)
        if existing is not None:
            return OperationResult(OrderView.of(order), OperationView.of(order, existing), True)
        merchant = uow.merchants.get(order.merchant_id)
        if merchant is None:
            raise NotFound(f"merchant {order.merchant_id} is unknown", Second.MERCHANT_ID)
        if order.state is OrderState.IN_PROCESS and now > order.buyer_deadline(
                merchant.timeout_minutes):
            order.apply(OrderEvent.BUYER_TIMEOUT, now, reason="buyer did not pay in time")
            uow.commit()
            raise OrderTimedOut(f"order {bill_number} timed out: the payment was not made "
                                f"within {merchant.timeout_minutes} minutes", Second.ORDER)
        # The state table decides whether a payment may still be made.
        if order.state is not OrderState.IN_PROCESS:
            order.apply(OrderEvent.PAY_APPROVED, now)  # raises the table's refusal
        may_pay_by_card(order, attempts)  # card offered; no other attempt paid or paying
        changes, problems = review(customer_form(order.customer, merchant), customer or {})
        if problems:
            raise CustomerDataRefused(problems)
        for attr, value in changes.items():  # written with the pay operation, or not at all
            setattr(order, attr, value)
        center = load_center(uow, merchant.center_for(order.currency))
        amount, rate = order.money - Money(Decimal(points), order.currency), None
        if center.currency != order.currency:
            found = uow.rates.get(order.currency, center.currency)
            if found is None:
                raise ValidationError(f"no conversion rate from {order.currency} to "
                                      f"{center.currency} is configured", Second.CURRENCY_RATE)
            rate = found.rate
            amount = order.money.convert(center.currency, rate)
        op = order.add_operation(OperationType.PAY, amount, now, rate=rate,
                                 means=MeansType.CARD, client_ip=client_ip)
        op.means_type = cards.brand(card.number)
        op.means_number = card.masked
        op.card_fingerprint = cards.fingerprint(card.number, fingerprint_key) if \
            fingerprint_key else None
        op.cardholder = card.cardholder
        op.card_expiry = card.expiry
        op.processing_name = center.name
        order.center = center.name
        if points:
            op.points = 0  # the card is in the bonus program (or its points payment fails)
            points_rid = add_points_payment(order, merchant, center, op, points,
                                            now).request_id
        tx = op.add_transaction(Transaction(TransactionType.AUTHORIZATION, center.name,
                                            amount.amount, amount.currency, now))
        tx.mark_sent(now)
        uow.commit()
        request_id = tx.request_id
        accrues = merchant.accrual_rate > 0 and merchant.offers_points(center)
        # 3-D Secure: skipped for a Disable3DS order; its ACS down: the merchant decides.
        skip, fallback = order.disable_3ds, merchant.threeds_unavailable == "authorize"
        deadline = order.buyer_deadline(merchant.timeout_minutes)

    reply = gateway.authorize(center, request_id, card, amount, skip_authentication=skip)
    if fallback and reply.outcome is Outcome.DECLINED and reply.response_code == ACS_UNAVAILABLE:
        reply = gateway.authorize(center, request_id, card, amount, skip_authentication=True)

    with uow:
        order = load_order(uow, bill_number, lock=True)
        op, tx = find_transaction(order, request_id)
        record_authorization(order, op, tx, reply, clock.now(), deadline, center)
        at_acs = op.acs_nonce is not None  # the outcome follows the buyer's return
        pay_points = points and op.succeeded
        if pay_points:
            find_transaction(order, points_rid)[1].mark_sent(clock.now())
        elif points and op.state is OperationState.DECLINED:
            points_failed(order, clock.now())  # never sent: declined with the card
        uow.commit()
        result = OperationResult(OrderView.of(order), OperationView.of(order, op))
    if pay_points:
        _pay_points(uow, gateway, clock, center, bill_number, points_rid, card, points)
    elif accrues and (result.succeeded or at_acs) and \
            gateway.points_balance(center, card.number) is not None:
        with uow:  # a card in the program (asked now: its number is never kept for later)
            order = load_order(uow, bill_number, lock=True)
            card_op = order.card_payment
            if card_op is not None:
                card_op.points = 0
            uow.commit()
    if accrues or points:
        result = follow_card_payment(uow, gateway, clock, bill_number, result, bool(points))
    log_result("pay", result)
    return result


def _pay_points(uow: CheckoutUnitOfWork, gateway: ProcessingGateway, clock: Clock, center,
                bill_number: str, request_id: str, card: CardData, points: int) -> None:
    """Pay the points part of an order whose card part is authorized; reverse the card part
    when the center declines it."""
    reply = gateway.pay_with_points(center, request_id, card.number, points)
    with uow:
        order = load_order(uow, bill_number, lock=True)
        op, tx = find_transaction(order, request_id)
        record_reply(order, op, tx, reply, clock.now())
        reversal = points_failed(order, clock.now()) if op.state is OperationState.DECLINED \
            else None
        uow.commit()
    if reversal is None:
        return
    answer = gateway.reverse(center, reversal.request_id,
                             reversal.authorization_request_id or "", None)
    with uow:
        order = load_order(uow, bill_number, lock=True)
        rop, rtx = find_transaction(order, reversal.request_id)
        record_reply(order, rop, rtx, answer, clock.now())
        uow.commit()
