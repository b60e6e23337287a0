"""Result notifications to the merchant: the outbox, delivery, replay and the listing of what
was not delivered (reference §2, seed: "the merchant learns an order's state from
notifications").

* ``write_outbox`` runs inside every commit of the unit of work (the composition root puts it
  there): the results the orders collected in this transaction (``Order.take_results``)
  become ``Notification`` rows per the merchant's settings — in the same database
  transaction as the state change, so a crash can lose neither without the other.
* ``deliver_due`` claims what is due (a lease other workers respect), sends it through the
  ``NotificationSender`` port, and journals every try; a failed try is retried with growing
  intervals for the retry period.  Notifications of one order go out in sequence order.
* ``replay`` sends chosen notifications again, as they were, with the same id;
  ``undelivered`` lists those not delivered; ``details`` shows one with its journal.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

from ..domain.errors import NotFound, Second, ValidationError
from ..domain.model import (Merchant, Operation, OperationState, OperationType, Order,
                            TransactionState)
from ..domain.notifications import (KIND_OF_EVENT, KIND_OF_OPERATION, UNDELIVERED,
                                    DeliveryAttempt, DeliveryPolicy, ExpectedReply,
                                    Notification, NotificationSender, NotificationState,
                                    PushNotice, PushProtocol, PushReply, PushTarget, ResultKind,
                                    Verdict, check_url, parse_choice)
from ..domain.ports import Clock, UnitOfWork
from .common import split_bill_number

#: The operation type a result without an operation reports.
_TYPE_OF_KIND = {
    ResultKind.PAY: OperationType.PAY, ResultKind.CONFIRM: OperationType.CONFIRM,
    ResultKind.CANCEL: OperationType.CANCEL, ResultKind.ACCRUAL: OperationType.ACCRUAL,
    ResultKind.ACCRUAL_CANCEL: OperationType.ACCRUAL_CANCEL,
}

#: At most this many notifications are replayed by one request.
REPLAY_LIMIT = 10000


# -- settings -----------------------------------------------------------------------------
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


# -- the outbox ---------------------------------------------------------------------------
def write_outbox(uow: UnitOfWork, *, clock: Clock) -> int:
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
                kind, success = KIND_OF_OPERATION[op.type], op.status is OperationState.SUCCESS
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
        for kind, success, op in chosen:
            sequence += 1
            uow.notifications.add(Notification(
                merchant.merchant_id, order.id, order.bill_number, order.order_number,
                sequence, kind, success, op.number if op else None,
                op.type if op else _TYPE_OF_KIND[kind], order.state,
                content_of(order, kind, success, op), now))
            written += 1
    return written


def content_of(order: Order, kind: ResultKind, success: bool,
               op: Operation | None) -> dict[str, Any]:
    """The frozen content of a notification: the order and the operations of the result, in
    our own names (the sender maps them to Assist's fields).  A card + points payment
    carries both successful pay operations."""
    ops = []
    if op is not None:
        ops.append(op)
        if kind is ResultKind.PAY:
            ops += [o for o in order.operations_of(OperationType.PAY)
                    if o is not op and o.succeeded]
    return {
        "kind": kind.value,
        "success": success,
        "order": {
            "merchant_id": order.merchant_id,
            "order_number": order.order_number,
            "bill_number": order.bill_number,
            "test_mode": bool(order.test_mode),
            "comment": order.comment,
            "amount": order.money.wire,
            "currency": order.currency,
            "lastname": order.lastname,
            "firstname": order.firstname,
            "middlename": order.middlename,
            "email": order.email,
            "client_ip": order.client_ip,
            "created_at": _when(order.created_at),
            "state": order.state,
            "state_reason": order.state_reason,
        },
        "operations": [_operation(order, o) for o in ops],
    }


def _operation(order: Order, op: Operation) -> dict[str, Any]:
    fin = op.financial
    slip = fin.processing_reference or fin.request_id \
        if fin is not None and fin.status is TransactionState.SUCCESS else None
    return {
        "number": op.number,
        "bill_number": order.extended(op),
        "type": op.type,
        "state": op.state,
        "amount": op.money.wire,
        "currency": op.currency,
        "rate": None if op.rate is None else format(op.rate.normalize(), "f"),
        "means": op.means,
        "means_type": op.means_type,
        "means_number": op.means_number,
        "cardholder": op.cardholder,
        "card_expiry": op.card_expiry,
        "response_code": op.response_code,
        "message": op.message,
        "approval_code": op.approval_code,
        "processing_name": op.processing_name,
        "client_ip": op.client_ip,
        "finished_at": _when(op.finished_at or op.created_at),
        "slip": slip,
    }


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# -- delivery -----------------------------------------------------------------------------
@dataclass
class DeliverySummary:
    tries: int = 0
    delivered: int = 0
    failed: int = 0
    rejected: int = 0
    expired: int = 0
    skipped: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, reply: PushReply, state: str) -> None:
        with self._lock:
            self._add(reply, state)

    def _add(self, reply: PushReply, state: str) -> None:
        self.tries += 1
        if reply.verdict is Verdict.DELIVERED:
            self.delivered += 1
        elif reply.verdict is Verdict.REJECTED:
            self.rejected += 1
        else:
            self.failed += 1
        if state == NotificationState.EXPIRED.value:
            self.expired += 1


@dataclass(frozen=True)
class _Job:
    notification_id: str
    token: str
    target: PushTarget
    notice: PushNotice


def deliver_due(uow: UnitOfWork, sender: NotificationSender, clock: Clock,
                policy: DeliveryPolicy = DeliveryPolicy()) -> DeliverySummary:
    """One pass: claim up to ``policy.batch_size`` due notifications, send them (the chains
    of different orders at once, up to ``policy.concurrency``), record every try."""
    summary = DeliverySummary()
    chains = _claim(uow, clock, policy, summary)
    if not chains:
        return summary
    if len(chains) == 1 or policy.concurrency <= 1:
        for chain in chains:
            _send_chain(uow, sender, clock, policy, chain, summary)
        return summary
    with ThreadPoolExecutor(max_workers=min(policy.concurrency, len(chains))) as pool:
        for future in [pool.submit(_send_chain, uow, sender, clock, policy, chain, summary)
                       for chain in chains]:
            future.result()
    return summary


def _claim(uow: UnitOfWork, clock: Clock, policy: DeliveryPolicy,
           summary: DeliverySummary) -> list[list[_Job]]:
    now = clock.now()
    with uow:
        candidates = uow.notifications.claimable(now, policy.batch_size)
        if not candidates:
            return []
        pending = uow.notifications.pending_sequences([n.order_id for n in candidates])
        by_order: dict[int, dict[int, Notification]] = defaultdict(dict)
        for n in candidates:
            by_order[n.order_id][n.sequence] = n
        targets: dict[int, PushTarget | None] = {}
        chains: list[list[_Job]] = []
        for order_id, items in by_order.items():
            chain: list[_Job] = []
            # Only an unbroken run from the order's first pending notification: a later one
            # never overtakes an earlier one that is not being sent now.
            for sequence in pending.get(order_id, []):
                n = items.get(sequence)
                if n is None or len(chain) >= policy.chain_limit:
                    break
                if n.merchant_id not in targets:
                    targets[n.merchant_id] = _target(uow.merchants.get(n.merchant_id))
                target = targets[n.merchant_id]
                if target is None:
                    n.give_up(now, "the merchant has no notification URL any more")
                    summary.skipped += 1
                    continue
                token = n.claim(now, policy.lease)
                chain.append(_Job(n.notification_id, token, target, PushNotice(
                    n.notification_id, n.sequence, n.packet_date, n.content)))
            if chain:
                chains.append(chain)
        uow.commit()
    return chains


def _target(merchant: Merchant | None) -> PushTarget | None:
    if merchant is None or not merchant.notify_url:
        return None
    return PushTarget(merchant.notify_url, PushProtocol(merchant.notify_protocol),
                      ExpectedReply(merchant.notify_expected_reply), merchant.secret_word)


def _send_chain(uow: UnitOfWork, sender: NotificationSender, clock: Clock,
                policy: DeliveryPolicy, chain: list[_Job], summary: DeliverySummary) -> None:
    for i, job in enumerate(chain):
        started = clock.now()
        try:
            reply = sender.send(job.target, job.notice)
        except Exception as exc:  # noqa: BLE001 - a broken sender is a failed try, not a crash
            reply = PushReply(Verdict.FAILED, error=f"{type(exc).__name__}: {exc}",
                              url=job.target.url)
        state = _record(uow, clock, policy, job, started, reply)
        summary.add(reply, state)
        if reply.verdict is not Verdict.DELIVERED:
            _release(uow, chain[i + 1:])  # the rest of the order waits for this one
            return


def _record(uow: UnitOfWork, clock: Clock, policy: DeliveryPolicy, job: _Job,
            started: datetime, reply: PushReply) -> str:
    with uow:
        n = uow.notifications.get(job.notification_id, lock=True)
        if n is None:  # pragma: no cover - notifications are never deleted
            return NotificationState.EXPIRED.value
        if n.claim_token == job.token:
            n.record(reply.verdict, clock.now(), policy.retry_period, reply.error or (
                None if reply.verdict is Verdict.DELIVERED else _reason(reply)))
        else:  # replayed or re-claimed meanwhile: journal the try, the state is not ours
            n.attempts = (n.attempts or 0) + 1
        uow.notifications.add_attempt(DeliveryAttempt(
            n.id, n.attempts, started, reply.url or job.target.url, reply.verdict,
            reply.duration_ms, reply.http_status, reply.excerpt, reply.error))
        uow.commit()
        return n.state


def _reason(reply: PushReply) -> str:
    if reply.http_status is not None:
        return f"HTTP {reply.http_status}"
    return reply.verdict.value


def _release(uow: UnitOfWork, jobs: Iterable[_Job]) -> None:
    jobs = list(jobs)
    if not jobs:
        return
    with uow:
        for job in jobs:
            n = uow.notifications.get(job.notification_id, lock=True)
            if n is not None and n.claim_token == job.token:
                n.release()
        uow.commit()


# -- replay and listing -------------------------------------------------------------------
@dataclass(frozen=True)
class NotificationView:
    notification_id: str
    merchant_id: int
    bill_number: str
    order_number: str
    sequence: int
    kind: str
    success: bool
    operation_number: int | None
    operation_type: int
    order_state: str
    state: str
    attempts: int
    replays: int
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    #: The state of the result's operation as the notification tells it (None: a result
    #: without an operation, e.g. the buyer's timeout).
    operation_state: str | None = None

    @classmethod
    def of(cls, n: Notification) -> "NotificationView":
        ops = (n.content or {}).get("operations") or [{}]
        return cls(n.notification_id, n.merchant_id, n.bill_number, n.order_number,
                   n.sequence, n.kind, n.success, n.operation_number, n.operation_type,
                   n.order_state, n.state, n.attempts, n.replays, n.created_at,
                   n.next_attempt_at, n.delivered_at, n.last_error, ops[0].get("state"))


@dataclass(frozen=True)
class AttemptView:
    number: int
    started_at: datetime
    url: str
    verdict: str
    http_status: int | None
    duration_ms: int
    reply_excerpt: str | None
    error: str | None


@dataclass(frozen=True)
class ReplayResult:
    notifications: tuple[NotificationView, ...] = field(default=())

    @property
    def count(self) -> int:
        return len(self.notifications)


def replay(uow: UnitOfWork, clock: Clock, merchant_id: int, *, bill_number: str | None = None,
           order_number: str | None = None, since: datetime | None = None,
           until: datetime | None = None, limit: int = REPLAY_LIMIT) -> ReplayResult:
    """Queue again, as they were and with the same ids, the notifications of a billnumber,
    of an order number (all its payment attempts), or created in a date range.  Those
    delivered, rejected or expired become pending; pending ones become due now."""
    selectors = sum(x is not None for x in (bill_number, order_number)) + \
        (1 if since is not None or until is not None else 0)
    if selectors != 1:
        raise ValidationError("say what to replay: a billnumber, an order number, or a date "
                              "range (from and to)", Second.NONE, firstcode=3)
    bill = split_bill_number(bill_number)[0] if bill_number is not None else None
    if order_number is not None and not order_number.strip():
        raise ValidationError("the order number is empty", Second.ORDERNUMBER, firstcode=3)
    if (since is None) != (until is None):
        raise ValidationError("a date range needs both ends", Second.DATE, firstcode=3)
    if since is not None and since > until:
        raise ValidationError("the date range ends before it starts", Second.DATE)
    now = clock.now()
    with uow:
        if uow.merchants.get(merchant_id) is None:
            raise NotFound(f"merchant {merchant_id} not found", Second.MERCHANT_ID)
        found = uow.notifications.find(merchant_id, bill_number=bill,
                                       order_number=order_number.strip() if order_number
                                       else None, since=since, until=until, limit=limit + 1,
                                       lock=True)
        if len(found) > limit:
            raise ValidationError(f"more than {limit} notifications match; choose a shorter "
                                  f"date range", Second.INTERVAL, firstcode=17)
        for n in found:
            n.replay(now)
        uow.commit()
        return ReplayResult(tuple(NotificationView.of(n) for n in found))


def undelivered(uow: UnitOfWork, merchant_id: int | None = None, *,
                since: datetime | None = None, until: datetime | None = None,
                limit: int = 1000) -> list[NotificationView]:
    """Notifications not delivered (yet): pending, rejected by the merchant, or expired."""
    with uow.reader() if hasattr(uow, "reader") else uow as r:
        return [NotificationView.of(n) for n in r.notifications.find(
            merchant_id, since=since, until=until, states=[s.value for s in UNDELIVERED],
            limit=limit)]


def notifications_of(uow: UnitOfWork, merchant_id: int | None = None, *,
                     bill_number: str | None = None, order_number: str | None = None,
                     limit: int = 1000) -> list[NotificationView]:
    bill = split_bill_number(bill_number)[0] if bill_number is not None else None
    with uow.reader() if hasattr(uow, "reader") else uow as r:
        return [NotificationView.of(n) for n in r.notifications.find(
            merchant_id, bill_number=bill, order_number=order_number, limit=limit)]


def details(uow: UnitOfWork, notification_id: str, merchant_id: int | None = None
            ) -> tuple[NotificationView, list[AttemptView], dict[str, Any]]:
    """One notification, its delivery journal and its content."""
    with uow.reader() if hasattr(uow, "reader") else uow as r:
        n = r.notifications.get(notification_id.strip(), merchant_id=merchant_id)
        if n is None:
            raise NotFound(f"notification {notification_id} not found", Second.NONE)
        journal = [AttemptView(a.number, a.started_at, a.url, a.verdict, a.http_status,
                               a.duration_ms, a.reply_excerpt, a.error)
                   for a in r.notifications.attempts(n)]
        return NotificationView.of(n), journal, n.content
