"""Delivery of the notifications that are due: one pass of the worker.

``deliver_due`` claims what is due (a lease other workers respect), sends it through the
``NotificationSender`` port, and journals every try; a failed try is retried with growing
intervals for the retry period.  Notifications of one order go out in sequence order.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from ...domain.model import Merchant
from ...domain.notifications import (DeliveryAttempt, DeliveryPolicy, ExpectedReply,
                                     Notification, NotificationSender, NotificationState,
                                     PushNotice, PushProtocol, PushReply, PushTarget, Verdict)
from ...domain.ports import Clock, WorkerUnitOfWork


@dataclass
class DeliverySummary:
    """What one pass did: its tries by verdict, those that expired, those given up unsent."""

    tries: int = 0
    delivered: int = 0
    failed: int = 0
    rejected: int = 0
    expired: int = 0
    skipped: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, reply: PushReply, state: str) -> None:
        with self._lock:
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


def deliver_due(uow: WorkerUnitOfWork, sender: NotificationSender, clock: Clock,
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


def _claim(uow: WorkerUnitOfWork, clock: Clock, policy: DeliveryPolicy,
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
                found = items.get(sequence)
                if found is None or len(chain) >= policy.chain_limit:
                    break
                n = found
                if n.merchant_id not in targets:
                    targets[n.merchant_id] = target_of(uow.merchants.get(n.merchant_id))
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


def target_of(merchant: Merchant | None) -> PushTarget | None:
    """Where and how the merchant's results go now (None: it has no notification URL)."""
    if merchant is None or not merchant.notify_url:
        return None
    return PushTarget(merchant.notify_url, PushProtocol(merchant.notify_protocol),
                      ExpectedReply(merchant.notify_expected_reply), merchant.secret_word)


def _send_chain(uow: WorkerUnitOfWork, sender: NotificationSender, clock: Clock,
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


def _record(uow: WorkerUnitOfWork, clock: Clock, policy: DeliveryPolicy, job: _Job,
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
    return f"HTTP {reply.http_status}" if reply.http_status is not None else reply.verdict.value


def _release(uow: WorkerUnitOfWork, jobs: list[_Job]) -> None:
    if not jobs:
        return
    with uow:
        for job in jobs:
            n = uow.notifications.get(job.notification_id, lock=True)
            if n is not None and n.claim_token == job.token:
                n.release()
        uow.commit()
