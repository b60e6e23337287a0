"""The notification outbox: a merchant's notification settings, and the notifications each
commit writes.

``write_outbox`` runs inside every commit of the unit of work (the composition root puts it
there): the results the orders collected in this transaction (``Order.take_results``) become
``Notification`` rows per the merchant's settings, in the same database transaction as the
state change, so a crash loses neither without the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from ...domain.model import (Merchant, Operation, OperationState, OperationType, Order,
                             TransactionState)
from ...domain.notifications import (KIND_OF_EVENT, KIND_OF_OPERATION, ExpectedReply,
                                     Notification, PushProtocol, ResultKind, check_url,
                                     parse_choice)
from ...domain.ports import Clock, CheckoutUnitOfWork

#: The operation type a result without an operation reports.
_TYPE_OF_KIND = {kind: type_ for type_, kind in KIND_OF_OPERATION.items()}


@dataclass
class NotifySettings:
    """Changes to a merchant's notification settings (None: leave as it is).  An empty
    ``url`` switches notifications off."""

    url: str | None = None
    protocol: str | None = None
    results: str | None = None
    only_success: bool | None = None
    expected_reply: str | None = None

    def any(self) -> bool:
        return any(v is not None for v in (self.url, self.protocol, self.results,
                                           self.only_success, self.expected_reply))


def apply_settings(merchant: Merchant, s: NotifySettings,
                   check: Callable[[str], str] = check_url) -> None:
    """Validate and set; raises ValidationError (and changes nothing) on a bad value.
    ``check`` is the URL check of the sender that will deliver (``NotificationSender.
    check_url``: its ports, and public addresses only unless it may reach private ones);
    by default the form alone, with Assist's ports and no private addresses."""
    url = merchant.notify_url
    if s.url is not None:
        url = check(s.url) if s.url.strip() else None
    protocol = parse_choice(PushProtocol, s.protocol, "notification protocol").value \
        if s.protocol is not None else merchant.notify_protocol
    results = ResultKind.parse_list(s.results) if s.results is not None else \
        merchant.notify_results
    reply = parse_choice(ExpectedReply, s.expected_reply, "expected reply").value \
        if s.expected_reply is not None else merchant.notify_expected_reply
    merchant.notify_url, merchant.notify_protocol = url, protocol
    merchant.notify_results, merchant.notify_expected_reply = list(results), reply
    if s.only_success is not None:
        merchant.notify_only_success = s.only_success


def write_outbox(uow: CheckoutUnitOfWork, *, clock: Clock) -> int:
    """Turn the results the loaded orders collected into notifications, per each merchant's
    settings.  Called inside the commit of every unit of work; returns how many it wrote."""
    written = 0
    merchants: dict[int, Merchant | None] = {}
    for order in uow.orders.loaded():
        results = order.take_results()
        if not results:
            continue
        if order.merchant_id not in merchants:
            merchants[order.merchant_id] = uow.merchants.get(order.merchant_id)
        merchant = merchants[order.merchant_id]
        if merchant is None or not merchant.notify_url:
            continue
        wanted = set(merchant.notify_results or ())
        chosen = []
        for result in results:
            op = order.operation(result.operation_number) \
                if result.operation_number is not None else None
            if op is not None:
                kind, success = KIND_OF_OPERATION[op.type], op.state is OperationState.SUCCESS
            elif result.event in KIND_OF_EVENT:
                kind, success = KIND_OF_EVENT[result.event]
            else:
                continue
            if kind.value in wanted and (success or not merchant.notify_only_success):
                chosen.append((kind, success, op))
        if not chosen:
            continue
        if getattr(order, "id", None) is None:
            uow.flush()
        sequence = uow.notifications.last_sequence(order.id)
        now = clock.now()
        # A form POST carries one operation: a card + points payment is one POST per pay
        # operation; a SOAP packet carries both.
        each = merchant.notify_protocol == PushProtocol.POST.value
        for kind, success, op in chosen:
            ops = [op] if op is None or not each or kind is not ResultKind.PAY else \
                [op] + _other_payments(order, op)
            for one in ops:
                sequence += 1
                uow.notifications.add(Notification(
                    merchant.merchant_id, order.id, order.bill_number, order.order_number,
                    sequence, kind, success, one.number if one else None,
                    one.type if one else _TYPE_OF_KIND[kind], order.state,
                    content_of(order, kind, success, one, others=not each), now))
                written += 1
    return written


def _other_payments(order: Order, op: Operation) -> list[Operation]:
    """The successful pay operations of the order beside ``op`` (the points part of a card +
    points payment)."""
    return [o for o in order.operations_of(OperationType.PAY) if o is not op and o.succeeded]


def content_of(order: Order, kind: ResultKind, success: bool,
               op: Operation | None, *, others: bool = True) -> dict[str, Any]:
    """The frozen content of a notification: the order and the operations of the result, in
    our own names (the sender maps them to Assist's fields).  A card + points payment
    carries both successful pay operations (unless ``others`` is False: one each)."""
    ops = []
    if op is not None:
        ops.append(op)
        if kind is ResultKind.PAY and others:
            ops += _other_payments(order, op)
    return {
        "kind": kind.value, "success": success,
        "order": {
            "merchant_id": order.merchant_id, "order_number": order.order_number,
            "bill_number": order.bill_number, "test_mode": bool(order.test_mode),
            "comment": order.comment, "amount": order.money.wire, "currency": order.currency,
            "lastname": order.lastname, "firstname": order.firstname,
            "middlename": order.middlename, "email": order.email, "client_ip": order.client_ip,
            "created_at": _when(order.created_at), "state": order.state,
            "state_reason": order.state_reason,
        },
        "operations": [_operation(order, o) for o in ops],
    }


def _operation(order: Order, op: Operation) -> dict[str, Any]:
    fin = op.financial
    slip = fin.processing_reference or fin.request_id \
        if fin is not None and fin.state is TransactionState.SUCCESS else None
    return {
        "number": op.number, "bill_number": order.extended(op), "type": op.type,
        "state": op.state, "amount": op.money.wire, "currency": op.currency,
        "rate": None if op.rate is None else format(op.rate.normalize(), "f"),
        "means": op.means, "means_type": op.means_type, "means_number": op.means_number,
        "cardholder": op.cardholder, "card_expiry": op.card_expiry,
        "response_code": op.response_code, "message": op.message,
        "approval_code": op.approval_code, "processing_name": op.processing_name,
        "client_ip": op.client_ip, "finished_at": _when(op.finished_at or op.created_at),
        "slip": slip, "auth_result": op.auth_result,
    }


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
