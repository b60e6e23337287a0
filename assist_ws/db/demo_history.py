"""The demo merchant's history, so that the cabinet's monitor, reports and export show
something on a first start: orders spread over the last days, paid, held, confirmed
(in full or in part), canceled (in full or in part) and declined, each with the operations
the payment, confirm and cancel use cases leave -- states, amounts, masked cards, response
codes and times as they record them -- written in bulk (multi-row inserts).

Each operation has the transactions at the center it would have had: an authorization for
the payment, a financial transaction once settled (in a batch of its own, ``BATCH``), a
reversal for a cancel before settlement, a refund after.  These payments never went through
a processing center, so nothing may send them to one by itself: the settled ones are
settled already, a held one has no hold expiry (the worker does not release it), and they
are test orders.  Their order numbers start with ``PREFIX``; ``fill`` adds only what is missing to
reach the number asked for, so running it again adds nothing.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from ..domain.cards import mask
from ..domain.model import (OperationState, OperationType, TransactionState, TransactionType,
                            new_bill_number)
from ..domain.money import EXPONENTS
from ..domain.states import OrderState
from .tables import operations, orders, transactions

PREFIX = "HIST-"
BATCH = "demo-history"
#: Orders written per statement.
CHUNK = 500
#: What happens to an order, and how often (weights).
STORIES = (("paid", 40), ("held", 8), ("confirmed", 14), ("confirmed_part", 4),
           ("canceled", 9), ("canceled_part", 5), ("declined", 12), ("unpaid", 8))
CARDS = (("VISA", "4111111111111111"), ("MasterCard", "5555555555554444"),
         ("MIR", "2200000000000004"))
DECLINES = (("AS100", "declined by issuer"), ("AS102", "insufficient funds"),
            ("AS104", "expired card"))
NAMES = (("Иванов", "Иван", "ivanov"), ("Петрова", "Анна", "petrova"),
         ("Smith", "John", "john.smith"), ("Сидоров", "Пётр", "sidorov"),
         ("Kuznetsova", "Maria", "m.kuznetsova"), ("Волков", "Алексей", "volkov"))
PRICES = {"RUB": ("450.00", "1290.00", "8990.50", "2500.00", "349.90", "15000.00"),
          "USD": ("5.00", "14.50", "99.90", "27.00")}


def existing(engine: Engine, merchant_id: int) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(orders).where(
            orders.c.merchant_id == merchant_id,
            orders.c.order_number.like(PREFIX + "%"))) or 0


def fill(engine: Engine, merchant_id: int, wanted: int, now: datetime, *,
         days: int = 90, centers: dict[str, str], seed: int | None = None) -> int:
    """Add orders of the merchant made within ``days`` before ``now`` until it has
    ``wanted`` history orders; how many were added.  ``centers``: currency -> the center
    that processes it (the currencies used)."""
    have = existing(engine, merchant_id)
    rng = random.Random(seed)
    added = 0
    while have + added < wanted:
        n = min(CHUNK, wanted - have - added)
        order_rows, op_rows = [], []
        for i in range(n):
            order, ops = _story(rng, merchant_id, have + added + i + 1, now, days, centers)
            order_rows.append(order)
            op_rows.append(ops)
        with engine.begin() as conn:
            ids = conn.execute(insert(orders).returning(orders.c.id,
                                                        sort_by_parameter_order=True),
                               order_rows).scalars().all()
            flat = [(dict(op, order_id=order_id), txs) for order_id, ops in zip(ids, op_rows)
                    for op, txs in ops]
            op_ids = conn.execute(insert(operations).returning(
                operations.c.id, sort_by_parameter_order=True),
                [op for op, _txs in flat]).scalars().all() if flat else []
            tx_rows = [dict(tx, operation_id=op_id)
                       for op_id, (_op, txs) in zip(op_ids, flat) for tx in txs]
            if tx_rows:
                conn.execute(insert(transactions), tx_rows)
        added += n
    return added


def _money(text: str, currency: str) -> Decimal:
    return Decimal(text).quantize(Decimal(1).scaleb(-EXPONENTS[currency]))


def _story(rng: random.Random, merchant_id: int, number: int, now: datetime, days: int,
           centers: dict[str, str]) -> tuple[dict, list[tuple[dict, list[dict]]]]:
    story = rng.choices([s for s, _w in STORIES], [w for _s, w in STORIES])[0]
    currency = rng.choice(sorted(centers))
    amount = _money(rng.choice(PRICES.get(currency, ("100.00",))), currency)
    created = now - timedelta(seconds=rng.randrange(days * 86400))
    if story == "held":  # a hold is days old at most
        created = now - timedelta(seconds=rng.randrange(5 * 86400))
    last, first, mail = rng.choice(NAMES)
    brand, pan = rng.choice(CARDS)
    two_stage = story in ("held", "confirmed", "confirmed_part")
    order = {"bill_number": new_bill_number(), "merchant_id": merchant_id,
             "order_number": f"{PREFIX}{number:06d}", "amount": amount,
             "currency": currency, "delay": two_stage, "language": "RU",
             "lastname": last, "firstname": first, "email": f"{mail}@example.com",
             "payment_means": ["card"], "test_mode": True, "center": centers[currency],
             "created_at": created, "updated_at": created, "hold_expires_at": None,
             "settlement_batch_id": BATCH, "state_reason": None}
    card = {"means": "card", "means_type": brand, "means_number": mask(pan),
            "cardholder": f"{first} {last}".upper() if last.isascii() else "CARD HOLDER",
            "card_expiry": "12/2030", "processing_name": centers[currency],
            "client_ip": f"192.0.2.{rng.randrange(1, 255)}", "rate": None,
            "currency": currency, "auto_deposit": False}
    if story == "unpaid":
        return dict(order, state=OrderState.IN_PROCESS.value, settlement_batch_id=None), []
    paid_at = created + timedelta(seconds=rng.randrange(30, 600))
    center = centers[currency]

    def tx(kind: TransactionType, value: Decimal, at: datetime, *, ok: bool = True,
           code: str = "AS000", message: str = "Success", batch: str | None = None) -> dict:
        return {"request_id": uuid.uuid4().hex, "type": kind.value,
                "state": (TransactionState.SUCCESS if ok else TransactionState.DECLINED).value,
                "center": center, "amount": value, "currency": currency,
                "processing_reference": f"{rng.randrange(10**12):012d}", "batch_id": batch,
                "response_code": code, "message": message, "attempts": 1,
                "created_at": at, "sent_at": at, "finished_at": at + timedelta(seconds=1)}

    def op(n: int, kind: OperationType, value: Decimal, at: datetime, *, ok: bool = True,
           code: str = "AS000", message: str | None = None) -> dict:
        return dict(card, number=n, type=int(kind), amount=value, created_at=at,
                    finished_at=at + timedelta(seconds=2),
                    state=(OperationState.SUCCESS if ok else OperationState.DECLINED).value,
                    response_code=code, approval_code=f"{rng.randrange(10**6):06d}" if ok
                    and kind is OperationType.PAY else None,
                    message=message or ("Authorization successfully completed"
                                        if kind is OperationType.PAY else "Success"),
                    cancel_reason=1 if kind is OperationType.CANCEL else None)

    if story == "declined":
        code, message = rng.choice(DECLINES)
        return (dict(order, state=OrderState.DECLINED.value, updated_at=paid_at,
                     settlement_batch_id=None),
                [(op(1, OperationType.PAY, amount, paid_at, ok=False, code=code,
                     message=message),
                  [tx(TransactionType.AUTHORIZATION, amount, paid_at, ok=False, code=code,
                      message=message)])])
    pay = (op(1, OperationType.PAY, amount, paid_at),
           [tx(TransactionType.AUTHORIZATION, amount, paid_at)])
    ops = [pay]
    later = min(paid_at + timedelta(hours=rng.randrange(1, 72)), now)
    settled_at = min(later + timedelta(hours=1), now)
    part = _money(str(amount * Decimal(rng.choice(("0.3", "0.5", "0.8")))), currency)
    state, charged = OrderState.APPROVED, amount
    if story == "held":
        state = OrderState.DELAYED
    elif story == "confirmed":
        ops.append((op(2, OperationType.CONFIRM, amount, later), []))
    elif story == "confirmed_part":
        ops.append((op(2, OperationType.CONFIRM, part, later), []))
        state, charged = OrderState.PARTIAL_DELAYED, part
    elif story == "canceled":  # reversed before settlement: nothing charged
        ops.append((op(2, OperationType.CANCEL, amount, later),
                    [tx(TransactionType.REVERSAL, amount, later)]))
        state = OrderState.CANCELED
    elif story == "canceled_part":  # refunded in part after settlement
        ops.append((op(2, OperationType.CANCEL, part, settled_at + timedelta(minutes=5)),
                    [tx(TransactionType.REFUND, part, settled_at + timedelta(minutes=5))]))
        state = OrderState.PARTIAL_CANCELED
    if state in (OrderState.APPROVED, OrderState.PARTIAL_DELAYED, OrderState.PARTIAL_CANCELED):
        pay[1].append(tx(TransactionType.FINANCIAL, charged, settled_at, batch=BATCH))
    else:
        order["settlement_batch_id"] = None
    return dict(order, state=state.value, updated_at=ops[-1][0]["finished_at"]), ops
