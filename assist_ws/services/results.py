"""What use cases return: frozen snapshots of orders and operations, safe to use after the
unit of work has closed."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ..domain.model import Operation, Order

#: The audit log: one INFO line per order created and per payment, confirm or cancel made.
audit = logging.getLogger("assist_ws.audit")


def about(bill_number: str) -> dict[str, str]:
    """The ``extra`` of a log line about the order ``bill_number``: every such line starts
    ``order <billnumber>`` and carries it, so that a JSON log line has it as a key."""
    return {"billnumber": bill_number}


@dataclass(frozen=True)
class OperationView:
    number: int
    bill_number: str  # extended: billnumber.N
    type: int
    state: str
    amount: Decimal
    currency: str
    rate: Decimal | None
    means: str
    means_type: str | None
    means_number: str | None
    cardholder: str | None
    card_expiry: str | None
    response_code: str | None
    approval_code: str | None
    message: str | None
    processing_name: str | None
    client_ip: str | None
    external_id: str | None
    created_at: datetime
    finished_at: datetime | None
    #: 3-D Secure of a card payment (Assist's ``authresult``: Y, N, U...), if it met it.
    auth_result: str | None = None

    @classmethod
    def of(cls, order: Order, op: Operation) -> "OperationView":
        return cls(op.number, order.extended(op), op.type, op.state, op.money.amount, op.currency,
                   op.rate, op.means, op.means_type, op.means_number, op.cardholder,
                   op.card_expiry, op.response_code, op.approval_code, op.message,
                   op.processing_name, op.client_ip, op.external_id, op.created_at,
                   op.finished_at, op.auth_result)


@dataclass(frozen=True)
class OrderView:
    bill_number: str
    merchant_id: int
    order_number: str
    amount: Decimal
    currency: str
    state: str
    delay: bool
    test_mode: bool
    comment: str | None
    lastname: str | None
    firstname: str | None
    middlename: str | None
    email: str | None
    language: str
    center: str | None
    state_reason: str | None
    created_at: datetime
    updated_at: datetime
    operations: tuple[OperationView, ...] = field(default=())
    #: The shop's return URLs sent with the authorization request.
    url_return: str | None = None
    url_return_ok: str | None = None
    url_return_no: str | None = None

    @classmethod
    def of(cls, order: Order) -> "OrderView":
        return cls(order.bill_number, order.merchant_id, order.order_number, order.money.amount,
                   order.currency, order.state, order.delay, order.test_mode, order.comment,
                   order.lastname, order.firstname, order.middlename, order.email,
                   order.language, order.center, order.state_reason, order.created_at,
                   order.updated_at,
                   tuple(OperationView.of(order, op) for op in
                         sorted(order.operations, key=lambda o: o.number)),
                   url_return=order.url_return, url_return_ok=order.url_return_ok,
                   url_return_no=order.url_return_no)


@dataclass(frozen=True)
class OperationResult:
    """The order after a confirm/cancel/pay, the operation it made (or found), and whether
    this answer is a stored one returned again for a repeated request."""

    order: OrderView
    operation: OperationView
    repeated: bool = False

    @property
    def succeeded(self) -> bool:
        return self.operation.state == "Success"


def log_result(what: str, result: OperationResult) -> None:
    """The audit line of a payment, confirm or cancel (no card data: not even masked)."""
    op, order = result.operation, result.order
    audit.info("order %s: %s %s %s %s %s%s; order %s", order.bill_number, what, op.bill_number,
               op.state, format(op.amount, "f"), op.currency,
               f" {op.response_code}" if op.response_code else "", order.state,
               extra=about(order.bill_number))
