"""Settlement (seed step 5): financial transactions for what is owed, one batch per center.

Owed: the card payment of a one-stage order that is Approved (or partly canceled), and the
confirmed amount of a two-stage order, less what was reversed before settlement.  Batches are
sized, claimed with row locks that skip rows other workers hold, recorded as ``sent`` before
they go, and answered item by item.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from ..domain.model import Transaction, TransactionType, find_transaction, open_transactions
from ..domain.ports import Clock, Outcome, ProcessingGateway, SettlementItem, UnitOfWork
from .common import load_center
from .outcomes import record_reply


@dataclass
class SettlementSummary:
    batches: int = 0
    operations: int = 0
    settled: int = 0
    declined: int = 0
    unknown: int = 0
    amounts: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def add(self, other: "SettlementSummary") -> None:
        self.batches += other.batches
        self.operations += other.operations
        self.settled += other.settled
        self.declined += other.declined
        self.unknown += other.unknown
        for cur, value in other.amounts.items():
            self.amounts[cur] += value


def settle(uow: UnitOfWork, gateway: ProcessingGateway, clock: Clock, *,
           center: str | None = None, batch_size: int = 1000,
           progress=None) -> SettlementSummary:
    """Settle everything due, at one center or all, in batches of ``batch_size``."""
    with uow:
        names = [c.name for c in uow.centers.list() if c.active and (center in (None, c.name))]
    total = SettlementSummary()
    for name in names:
        while True:
            part = settle_batch(uow, gateway, clock, name, batch_size)
            if part.operations == 0:
                break
            total.add(part)
            if progress is not None:
                progress(part)
    return total


def settle_batch(uow: UnitOfWork, gateway: ProcessingGateway, clock: Clock, center_name: str,
                 batch_size: int) -> SettlementSummary:
    """Claim up to ``batch_size`` due payments at one center, send them as one batch, record
    the answers.  Returns an empty summary when nothing is due."""
    now = clock.now()
    batch_id = secrets.token_hex(8)
    items: list[SettlementItem] = []
    bills: dict[str, str] = {}
    with uow:
        center = load_center(uow, center_name)
        for order in uow.orders.due_for_settlement(center_name, batch_size):
            if open_transactions(order):
                continue  # a cancel is waiting for the center: settle next time
            pay = order.card_payment
            owed = order.paid() - order.canceled(include_open=False)
            tx = pay.add_transaction(Transaction(TransactionType.FINANCIAL, center_name,
                                                 owed.amount, owed.currency, now,
                                                 authorization_request_id=pay.authorization
                                                 .request_id, batch_id=batch_id))
            tx.mark_sent(now)
            items.append(SettlementItem(tx.request_id, tx.authorization_request_id, owed))
            bills[tx.request_id] = order.bill_number
        uow.commit()
    summary = SettlementSummary()
    if not items:
        return summary
    replies = gateway.settle(center, batch_id, items)
    summary.batches, summary.operations = 1, len(items)
    done = clock.now()
    with uow:
        orders = {}
        for item in items:
            bill = bills[item.request_id]
            order = orders.get(bill) or uow.orders.get(bill, lock=True)
            orders[bill] = order
            op, tx = find_transaction(order, item.request_id)
            reply = replies[item.request_id]
            if not reply.delivered:  # never reached the center: due again next time
                op.transactions.remove(tx)
                summary.declined += 1
                continue
            record_reply(order, op, tx, reply, done)
            if reply.outcome is Outcome.SUCCESS:
                summary.settled += 1
                summary.amounts[item.amount.currency] += item.amount.amount
            elif reply.outcome is Outcome.DECLINED:
                summary.declined += 1
            else:
                summary.unknown += 1
        uow.commit()
    return summary
