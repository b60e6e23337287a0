"""3-D Secure of a card payment: the buyer's trip to the bank's ACS and back.

When the center answers an authorization with "authentication required", the payment waits
for the buyer: the operation keeps the ACS page, the id the ACS is given and a nonce that the
buyer's return must bring back once (``await_authentication``); its authorization stays
``sent`` and the resolver leaves it alone until the buyer's deadline, after which the worker
times the order out and voids it at the center (nothing is held).

``complete_authentication`` takes the buyer's return: the nonce must be the operation's (a
replayed or forged return is refused and changes nothing), the ACS's signed result goes to
the center, which checks it and holds or declines; the outcome is recorded with the ECI and
3-D Secure status, and followed as a payment answered at once is (``follow_card_payment``:
the accrual of bonus points).  The buyer's request never waits on the ACS: the ACS is only ever the
browser's destination.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from ..domain.errors import AssistError, Second
from ..domain.model import (Operation, OperationType, Order, ProcessingCenter, Transaction,
                            find_transaction)
from ..domain.outcomes import record_reply
from ..domain.ports import Clock, Outcome, ProcessingGateway, ProcessingReply, CheckoutUnitOfWork
from ..domain.states import OrderState
from ..domain.urls import origin
from .common import load_center, load_order
from .points import follow_card_payment
from .results import OperationResult, OperationView, OrderView, log_result

#: The center's answer to a card whose ACS is unavailable.
ACS_UNAVAILABLE = "AS111"
#: The longest ACS page URL and ACS request id kept (longer ones are declined).
ACS_URL_MAX, ACS_REQUEST_MAX = 512, 64


class ReturnRefused(AssistError):
    """A return from the ACS that is not the one the payment waits for."""

    firstcode = 20


def await_authentication(order: Order, op: Operation, tx: Transaction, reply: ProcessingReply,
                         now: datetime, deadline: datetime, center: ProcessingCenter) -> None:
    """Record the center's "authentication required": the payment waits for the buyer at the
    ACS (a page of the center's own origin; any other is declined, never followed)."""
    acs = origin(reply.acs_url)
    if acs is None or acs != origin(center.url) or len(reply.acs_url or "") > ACS_URL_MAX or \
            not 0 < len(reply.authentication_id or "") <= ACS_REQUEST_MAX:
        record_reply(order, op, tx, ProcessingReply(
            Outcome.DECLINED, "AS998", "3-D Secure page not at the processing center's "
            "origin"), now, hold_days=center.hold_days)
        return
    op.acs_url, op.acs_request = reply.acs_url, reply.authentication_id
    op.acs_nonce = secrets.token_urlsafe(16)
    tx.next_attempt_at = deadline  # the buyer has until then; the resolver waits as long


def record_authorization(order: Order, op: Operation, tx: Transaction, reply: ProcessingReply,
                         now: datetime, deadline: datetime, center: ProcessingCenter) -> None:
    """Record the answer to a card authorization: a trip to the ACS, or the outcome with
    its 3-D Secure result."""
    if reply.outcome is Outcome.AUTHENTICATE:
        await_authentication(order, op, tx, reply, now, deadline, center)
        return
    op.eci, op.auth_result = reply.eci or op.eci, reply.auth_result or op.auth_result
    record_reply(order, op, tx, reply, now, hold_days=center.hold_days)


def awaiting(order: Order) -> Operation | None:
    """The card payment waiting for the buyer at the ACS, if any."""
    for op in order.operations_of(OperationType.PAY):
        if op.acs_nonce and op.is_open:
            return op
    return None


@dataclass(frozen=True)
class AcsTrip:
    """Where the buyer is sent to authenticate: the ACS page, the id it is given, and the
    nonce the return must bring back."""

    url: str
    request: str
    nonce: str


def acs_trip(uow: CheckoutUnitOfWork, bill_number: str) -> AcsTrip | None:
    """The trip to the ACS the order's payment waits for, if any (read only)."""
    with uow.reader() as r:
        order = load_order(r, bill_number)
        op = awaiting(order) if order.state is OrderState.IN_PROCESS else None
        if op is None or not op.acs_url or not op.acs_request or not op.acs_nonce:
            return None
        return AcsTrip(op.acs_url, op.acs_request, op.acs_nonce)


def complete_authentication(uow: CheckoutUnitOfWork, gateway: ProcessingGateway, clock: Clock,
                            bill_number: str, nonce: str, result: str) -> OperationResult:
    """The buyer is back from the ACS with ``result`` (the ACS's signed answer) for the
    payment whose return nonce is ``nonce``.  Refused (``ReturnRefused``), with nothing
    changed, when the order waits for no such return (replayed, forged, too late) or the
    center does not take the result."""
    now = clock.now()
    with uow.reader() as r:
        order = load_order(r, bill_number)
        op = awaiting(order)
        merchant = r.merchants.get(order.merchant_id)
        timeout = merchant.timeout_minutes if merchant else 20
        if op is None or not hmac.compare_digest(op.acs_nonce or "", nonce) or \
                order.state is not OrderState.IN_PROCESS or now > order.buyer_deadline(timeout):
            raise ReturnRefused(f"order {bill_number} waits for no such 3-D Secure return",
                                Second.ORDER)
        auth = op.authorization
        assert auth is not None  # a card payment always has its authorization
        request_id = auth.request_id
        center = load_center(r, auth.center)
    reply = gateway.complete_authorization(center, request_id, result)
    if reply.outcome is Outcome.NOT_FOUND or (reply.outcome is Outcome.DECLINED
                                              and not reply.delivered):
        raise ReturnRefused(f"order {bill_number}: the 3-D Secure result was not accepted "
                            f"({reply.message})", Second.ORDER)
    with uow:
        order = load_order(uow, bill_number, lock=True)
        op, tx = find_transaction(order, request_id)
        if op.acs_nonce and hmac.compare_digest(op.acs_nonce, nonce) and \
                order.state is OrderState.IN_PROCESS:
            op.acs_nonce = op.acs_url = op.acs_request = None  # the return is taken once
            tx.next_attempt_at = None
            record_authorization(order, op, tx, reply, clock.now(), clock.now(), center)
        uow.commit()
        outcome = OperationResult(OrderView.of(order), OperationView.of(order, op))
    outcome = follow_card_payment(uow, gateway, clock, bill_number, outcome)
    log_result("pay", outcome)
    return outcome
