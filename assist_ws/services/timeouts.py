"""Closing abandoned orders: an order still ``In Process`` when the merchant's payment timeout
(``Timeout (minutes)``, default 20) has passed since it was created becomes ``Timeout``.

Only orders with nothing at a processing center are closed here: no payment was made, or it
was declined.  An order whose payment outcome is still unknown is the resolver's: it asks the
center and either accepts the authorization (the buyer did pay in time) or reverses it
(``Declined``); so nothing the center holds is ever left behind an order marked Timeout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from ..domain.model import OperationType
from ..domain.ports import Clock, UnitOfWork
from ..domain.states import OrderEvent, OrderState

log = logging.getLogger(__name__)


@dataclass
class TimeoutSummary:
    closed: int = 0
    bills: list[str] = field(default_factory=list)


def close_abandoned(uow: UnitOfWork, clock: Clock, *, limit: int = 500) -> TimeoutSummary:
    """Move every abandoned order of every merchant to ``Timeout`` (``limit`` orders per
    database transaction), recording why."""
    summary = TimeoutSummary()
    with uow:
        merchants = [(m.merchant_id, m.timeout_minutes) for m in uow.merchants.list()]
    for merchant_id, minutes in merchants:
        while True:
            now = clock.now()
            before = summary.closed
            with uow:
                found = uow.orders.abandoned(merchant_id, now - timedelta(minutes=minutes),
                                             limit)
                for order in found:
                    if order.status is not OrderState.IN_PROCESS or any(
                            op.is_open for op in order.operations_of(OperationType.PAY)):
                        continue  # a payment is under way: the resolver settles it
                    order.apply(OrderEvent.BUYER_TIMEOUT, now,
                                reason=f"the buyer did not pay within {minutes} minutes")
                    summary.closed += 1
                    summary.bills.append(order.bill_number)
                uow.commit()
            if len(found) < limit or summary.closed == before:
                break
    if summary.closed:
        log.info("%d abandoned orders closed with Timeout", summary.closed)
    return summary
