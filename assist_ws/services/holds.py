"""Expiring holds: a two-stage payment not confirmed within its center's hold period is
canceled (``Delayed`` -> ``Canceled``, event ``hold expired``) and its hold released at the
center by a full reversal; the points of a card + points payment are returned.

The order is canceled in the same database transaction that records the reversal as
``sent``, before the center is called: from then on a confirm is refused (the hold is going),
and the reversal's answer only moves the reversal.  A reversal whose answer does not come is
left to the resolver (it asks the center and sends it again with the same id); one the center
declines because the hold is already gone changes nothing more -- nothing is held either way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from ..domain.errors import ProcessingUnavailable
from ..domain.model import (Order, Transaction, TransactionType, find_transaction,
                            held_at_center)
from ..domain.outcomes import record_reply
from ..domain.ports import Clock, Outcome, ProcessingGateway, ProcessingReply, WorkerUnitOfWork
from ..domain.states import OrderEvent
from .common import load_center, load_order
from .points import PointsUndo, add_points_return, send_and_record
from .results import about

log = logging.getLogger(__name__)


@dataclass
class ExpirySummary:
    canceled: int = 0
    released: int = 0
    #: reversals the center declined (the hold was already gone) or did not answer yet
    declined: int = 0
    unknown: int = 0
    bills: list[str] = field(default_factory=list)


def expire_holds(uow: WorkerUnitOfWork, gateway: ProcessingGateway, clock: Clock, *,
                 limit: int = 100) -> ExpirySummary:
    """Cancel every Delayed order whose hold period has passed, ``limit`` orders per
    database transaction, and release the holds at their centers."""
    summary = ExpirySummary()
    while True:
        returns: list[tuple[str, PointsUndo]] = []
        claimed = _claim(uow, clock.now(), limit, returns)
        for bill, request_id in claimed:
            _release(uow, gateway, clock, bill, request_id, summary)
        for bill, back in returns:  # one the center does not answer waits for the resolver
            with uow.reader() as r:
                try:
                    center = load_center(r, back.tx.center)
                except ProcessingUnavailable:
                    continue
            send_and_record(uow, gateway, clock, center, bill, back.tx.request_id, back.kind,
                            back.original, back.points)
        if len(claimed) < limit:
            return summary


def _claim(uow: WorkerUnitOfWork, now: datetime, limit: int,
           points: list[tuple[str, PointsUndo]]) -> list[tuple[str, str]]:
    """Cancel a batch of expired orders and queue their reversals (one transaction), and
    the returns of their points (into ``points``)."""
    claimed = []
    with uow:
        for order in uow.orders.holds_expired(now, limit):
            pay = order.card_payment
            auth = pay.authorization if pay is not None else None
            if pay is None or not pay.succeeded or auth is None:
                log.error("order %s: Delayed without a successful card payment; left alone",
                          order.bill_number, extra=about(order.bill_number))
                continue
            reason = _reason(uow, order)
            if order.points_returnable() > 0:  # the points paid go back with the hold
                points.append((order.bill_number, add_points_return(order, auth.center, None,
                                                                    now)))
            order.apply(OrderEvent.HOLD_EXPIRED, now, reason=reason)
            held = held_at_center(order)
            tx = pay.add_transaction(Transaction(TransactionType.REVERSAL, auth.center,
                                                 held.amount, held.currency, now,
                                                 authorization_request_id=auth.request_id))
            tx.mark_sent(now)
            claimed.append((order.bill_number, tx.request_id))
        uow.commit()
    return claimed


def _reason(uow: WorkerUnitOfWork, order: Order) -> str:
    try:
        center = load_center(uow, order.center)
        period = f"{center.hold_days}-day hold period at {center.name}"
    except ProcessingUnavailable:
        period = "hold period"
    when = order.hold_expires_at.strftime("%Y-%m-%d %H:%M UTC") if order.hold_expires_at \
        else "its end"
    return f"not confirmed within the {period} (expired {when}); hold released"


def _release(uow: WorkerUnitOfWork, gateway: ProcessingGateway, clock: Clock, bill: str,
             request_id: str, summary: ExpirySummary) -> None:
    with uow:
        _pay, tx = find_transaction(load_order(uow, bill), request_id)
        auth_id = tx.authorization_request_id or ""  # a reversal always has one
        try:
            center = load_center(uow, tx.center)
        except ProcessingUnavailable:
            center = None
    summary.canceled += 1
    summary.bills.append(bill)
    if center is None:  # the resolver sends it once the center is configured again
        reply = ProcessingReply(Outcome.UNKNOWN, None, "processing center not configured")
    else:
        reply = gateway.reverse(center, request_id, auth_id, None)
    if reply.outcome is Outcome.NOT_FOUND:  # the center holds nothing for it: voided
        reply = ProcessingReply(Outcome.SUCCESS, "AS000", "nothing held at the center")
    elif reply.outcome is Outcome.DECLINED and not reply.delivered:
        reply = ProcessingReply(Outcome.UNKNOWN, None, reply.message)
    with uow:
        order = load_order(uow, bill, lock=True)
        pay, tx = find_transaction(order, request_id)
        record_reply(order, pay, tx, reply, clock.now())
        uow.commit()
    if reply.outcome is Outcome.SUCCESS:
        summary.released += 1
        log.info("order %s: hold period expired; Canceled and the hold released", bill,
                 extra=about(bill))
    elif reply.outcome is Outcome.DECLINED:
        summary.declined += 1
        log.warning("order %s: hold period expired; Canceled; the center declined the "
                    "reversal (%s %s): nothing is held", bill, reply.response_code,
                    reply.message, extra=about(bill))
    else:
        summary.unknown += 1
        log.warning("order %s: hold period expired; Canceled; the reversal awaits the "
                    "resolver (%s)", bill, reply.message, extra=about(bill))
