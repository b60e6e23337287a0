"""Closing abandoned orders: an order still ``In Process`` when the merchant's payment timeout
(``Timeout (minutes)``, default 20) has passed since it was created becomes ``Timeout``, and
nothing the processing center holds for it stays there.

* No payment was made (or it was declined): the order is closed, nothing else to do.
* The payment's outcome is unknown (the authorization went out, no answer came): the order is
  closed, and its authorization is settled at once the way the resolver settles any it cannot
  accept -- held at the center: reversed; unknown to the center: voided there by its request
  id, so a late arrival cannot hold money.  If the center does not answer now, the resolver
  keeps at it (a Timeout order never takes an authorization).
* An authorization sent less than ``grace`` ago may still be answered to the payment page
  that sent it: that order waits for the next round.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from ..domain.model import TransactionType, open_transactions
from ..domain.ports import Clock, ProcessingGateway, WorkerUnitOfWork
from ..domain.states import OrderEvent, OrderState
from .resolve import DEFAULT_GRACE, LEASE, resolve_one
from .results import about

log = logging.getLogger(__name__)


@dataclass
class TimeoutSummary:
    closed: int = 0
    #: of the closed orders, those whose unknown authorization was settled with the center
    reversed: int = 0
    bills: list[str] = field(default_factory=list)


def close_abandoned(uow: WorkerUnitOfWork, gateway: ProcessingGateway, clock: Clock, *,
                    grace: timedelta = DEFAULT_GRACE, limit: int = 500) -> TimeoutSummary:
    """Move every abandoned order of every merchant to ``Timeout`` (``limit`` orders per
    database transaction), recording why, and settle what their centers may hold."""
    summary = TimeoutSummary()
    with uow:
        merchants = [(m.merchant_id, m.timeout_minutes) for m in uow.merchants.list()]
    for merchant_id, minutes in merchants:
        while True:
            now = clock.now()
            before = summary.closed
            to_settle: list[tuple[str, str]] = []
            closed: list[tuple[str, str]] = []
            with uow:
                found = uow.orders.abandoned(merchant_id, now - timedelta(minutes=minutes),
                                             limit)
                for order in found:
                    if order.state is not OrderState.IN_PROCESS:
                        continue
                    pending = open_transactions(order)
                    if any(tx.type is not TransactionType.AUTHORIZATION
                           or (tx.sent_at is not None and tx.sent_at > now - grace)
                           for _op, tx in pending):
                        continue  # may still be answered to the page that sent it
                    reason = f"the buyer did not pay within {minutes} minutes"
                    if pending:
                        reason += "; the payment's outcome was unknown: it is reversed"
                    order.apply(OrderEvent.BUYER_TIMEOUT, now, reason=reason)
                    closed.append((order.bill_number, reason))
                    for _op, tx in pending:
                        tx.next_attempt_at = now + LEASE  # ours now, not a resolver's
                        to_settle.append((order.bill_number, tx.request_id))
                    summary.closed += 1
                    summary.bills.append(order.bill_number)
                uow.commit()
            for bill, reason in closed:
                log.info("order %s: closed with Timeout: %s", bill, reason, extra=about(bill))
            for bill, request_id in to_settle:
                resolve_one(uow, gateway, clock, bill, request_id)
                summary.reversed += 1
            if len(found) < limit or summary.closed == before:
                break
    return summary

