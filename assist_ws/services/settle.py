"""Settlement: financial transactions for what is owed, in batches per center,
at each center's daily cut-off (``settle_at_cutoff``, the worker's job) or on demand
(``settle``, the ``assist-ws settle`` command).

Owed: the card payment of a one-stage order that is Approved (or partly canceled), and the
confirmed amount of a two-stage order, less what was canceled before settlement.  The center
settles that amount and releases the rest of the hold: the unconfirmed part of a partly
confirmed payment goes back to the buyer at settlement.

How a batch moves, and why nothing is done twice or lost:

1. *Claim* (one database transaction): up to ``batch_size`` due payments are locked, skipping
   rows other workers hold, and their orders marked with the batch (from then on a cancel is
   refused until the answer is in); the batch is written down, ``sent``, with its items --
   request id, authorization, amount -- and a lease.
2. *Send*: one request to the center.  Every item carries its own request id; the center
   answers a repeated id with its first answer and does nothing again.
3. *Record* (one database transaction): each item becomes its pay operation's financial
   transaction with the center's answer; one the center said nothing about is ``unknown``,
   for the resolver.  The batch is ``done``.

A worker that dies between 1 and 3 leaves a ``sent`` batch; when its lease ends any worker
sends it again with the same ids (``recover_batches``).  If the whole batch gets no answer
(no connection, a timeout, a fault) it stays ``sent`` and is sent again after a back-off.
"""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Callable

from ..domain.errors import ProcessingUnavailable
from ..domain.model import ProcessingCenter, TransactionState, new_request_id
from ..domain.outcomes import BACKOFF_BASE, BACKOFF_MAX, NOT_SENT
from ..domain.ports import Clock, Outcome, ProcessingGateway, SettlementAnswer, WorkerUnitOfWork
from ..domain.settlement import (BatchState, DuePayment, ItemResult, SettlementBatch,
                                 SettlementItem, SettlementSummary, latest_cutoff)
from .common import load_center
from .resolve import DEFAULT_MAX_ATTEMPTS

log = logging.getLogger(__name__)

#: How long a claimed batch belongs to the worker that claimed it.
DEFAULT_LEASE = timedelta(minutes=5)

Progress = Callable[[SettlementSummary], None]

__all__ = ["DEFAULT_LEASE", "SettlementSummary", "count_due", "recover_batches", "settle",
           "settle_at_cutoff", "settle_batch"]


def settle(uow: WorkerUnitOfWork, gateway: ProcessingGateway, clock: Clock, *,
           center: str | None = None, batch_size: int = 1000, progress: Progress | None = None,
           concurrency: int = 1, lease: timedelta = DEFAULT_LEASE,
           stop: threading.Event | None = None,
           max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> SettlementSummary:
    """Settle everything due now, at one center or all, in batches of ``batch_size``
    (on demand: the cut-off is not waited for).  Batches left by a dead worker go first.
    ``stop`` (set from another thread) ends the run after the batches in flight."""
    stop = stop or threading.Event()
    total = recover_batches(uow, gateway, clock, lease=lease, center=center, progress=progress,
                            stop=stop, max_attempts=max_attempts)
    recovered = not total.retried
    now = clock.now()
    for c in _centers(uow, center):
        part = _drain(uow, gateway, clock, c.name, now, None, batch_size=batch_size,
                      concurrency=concurrency, lease=lease, progress=progress, stop=stop)
        total.add(part)
        if recovered and not part.retried and not stop.is_set():
            _settled_through(uow, c, latest_cutoff(now, c.cutoff))
    return total


def settle_at_cutoff(uow: WorkerUnitOfWork, gateway: ProcessingGateway, clock: Clock, *,
                     batch_size: int = 1000, progress: Progress | None = None,
                     concurrency: int = 1, lease: timedelta = DEFAULT_LEASE,
                     stop: threading.Event | None = None,
                     max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> SettlementSummary:
    """The worker's job: at each center, settle what was due at its latest cut-off (payments
    approved or confirmed after it wait for the next one).  Safe to run often and from many
    workers at once: only payments due and not yet claimed are taken."""
    stop = stop or threading.Event()
    total = recover_batches(uow, gateway, clock, lease=lease, progress=progress, stop=stop,
                            max_attempts=max_attempts)
    recovered = not total.retried
    now = clock.now()
    for c in _centers(uow, None):
        cutoff = latest_cutoff(now, c.cutoff)
        part = _drain(uow, gateway, clock, c.name, cutoff, cutoff, batch_size=batch_size,
                      concurrency=concurrency, lease=lease, progress=progress, stop=stop)
        total.add(part)
        if recovered and not part.retried and not stop.is_set():
            _settled_through(uow, c, cutoff)
    return total


def _settled_through(uow: WorkerUnitOfWork, center: ProcessingCenter, cutoff: datetime) -> None:
    """Record that every payment due at ``cutoff`` at ``center`` went out in a batch that was
    answered (the settlement lag is measured from the first cut-off after this one).  Written
    once per cut-off; a batch the center did not answer keeps it where it was."""
    if center.settled_through is not None and center.settled_through >= cutoff:
        return
    with uow:
        found = uow.centers.get(center.name)
        if found is not None and (found.settled_through is None
                                  or found.settled_through < cutoff):
            found.settled_through = cutoff
            uow.commit()


def count_due(uow: WorkerUnitOfWork, clock: Clock, *, center: str | None = None) -> int:
    """How many payments are due for settlement now (at one center or all)."""
    now = clock.now()
    with uow:
        return sum(uow.settlements.count_due(c.name, now)
                   for c in uow.centers.list() if c.active and center in (None, c.name))


def _centers(uow: WorkerUnitOfWork, name: str | None) -> list[ProcessingCenter]:
    with uow:
        centers = [c for c in uow.centers.list() if c.active and name in (None, c.name)]
        if name is not None and not centers:
            load_center(uow, name)  # raises the clear "not configured" error
        return centers


def _drain(uow, gateway, clock, center: str, due_before: datetime, cutoff_at, *,
           batch_size: int, concurrency: int, lease: timedelta, progress: Progress | None,
           stop: threading.Event) -> SettlementSummary:
    """Settle batches at one center until nothing due is left (or the center stops
    answering, or ``stop`` is set), with ``concurrency`` batches in flight at once."""
    total = SettlementSummary()
    lock = threading.Lock()
    done = threading.Event()
    errors: list[BaseException] = []

    def lane() -> None:
        after = 0  # the last order this lane claimed: it never walks back over settled ones
        try:
            while not (done.is_set() or stop.is_set()):
                part, after = _settle_batch(uow, gateway, clock, center, batch_size,
                                            due_before, cutoff_at, lease, after)
                if part.operations == 0 or part.retried:
                    done.set()  # nothing left, or the center is not answering: next time
                with lock:
                    total.add(part)
                    if progress is not None and part.operations:
                        progress(part)
        except BaseException as exc:  # noqa: BLE001 - raised again below
            errors.append(exc)
            done.set()

    threads = [threading.Thread(target=lane, name=f"settle-{center}-{n}")
               for n in range(max(concurrency, 1) - 1)]
    for t in threads:
        t.start()
    lane()  # this thread is a lane too
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return total


def settle_batch(uow: WorkerUnitOfWork, gateway: ProcessingGateway, clock: Clock, center_name: str,
                 batch_size: int, *, due_before: datetime | None = None,
                 cutoff_at: datetime | None = None,
                 lease: timedelta = DEFAULT_LEASE) -> SettlementSummary:
    """Claim up to ``batch_size`` payments at one center due at ``due_before`` (default:
    now), send them as one batch, record the answers.  An empty summary when nothing is
    due."""
    return _settle_batch(uow, gateway, clock, center_name, batch_size, due_before, cutoff_at,
                         lease, 0)[0]


def _settle_batch(uow, gateway, clock, center_name: str, batch_size: int,
                  due_before: datetime | None, cutoff_at: datetime | None, lease: timedelta,
                  after: int) -> tuple[SettlementSummary, int]:
    now = clock.now()
    batch_id = secrets.token_hex(12)
    with uow:
        center = load_center(uow, center_name)
        dues = uow.settlements.claim_due(center_name, due_before or now, batch_size, batch_id,
                                         after)
        if not dues:
            return SettlementSummary(), after
        entries = [SettlementItem(new_request_id(), due.authorization_request_id, due.owed,
                                  due.operation_id) for due in dues]
        batch = SettlementBatch(
            batch_id=batch_id, center=center_name, currency=dues[0].currency,
            created_at=now, lease_until=now + lease, cutoff_at=cutoff_at, items=len(entries),
            amount=sum((e.amount.amount for e in entries), Decimal(0)), entries=entries)
        uow.settlements.add_batch(batch, now)
        uow.commit()
    summary = _send(uow, gateway, clock, center, batch,
                    {e.request_id: due for e, due in zip(entries, dues)})
    return summary, max(due.order_id for due in dues)


def recover_batches(uow: WorkerUnitOfWork, gateway: ProcessingGateway, clock: Clock, *,
                    lease: timedelta = DEFAULT_LEASE, center: str | None = None,
                    progress: Progress | None = None, limit: int = 1000,
                    stop: threading.Event | None = None,
                    max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> SettlementSummary:
    """Send again, with the same ids, the batches whose worker died or whose answer did not
    come, once their lease has ended.  One still unanswered after ``max_attempts`` sends is
    reported (an error in the log, and ``assist-ws unresolved``)."""
    total = SettlementSummary()
    for _ in range(limit):
        if stop is not None and stop.is_set():
            break
        now = clock.now()
        with uow:
            batch = uow.settlements.claim_stale(now, now + lease, center)
            if batch is None:
                break
            try:
                target = load_center(uow, batch.center)
            except ProcessingUnavailable:
                uow.commit()  # keep the new lease: try again later
                log.error("settlement batch %s: center %s is not configured", batch.batch_id,
                          batch.center)
                continue
            uow.commit()
        log.warning("settlement batch %s at %s: sending again (%d items, attempt %d)",
                    batch.batch_id, batch.center, len(batch.entries), batch.attempts)
        part = _send(uow, gateway, clock, target, batch, {}, max_attempts)
        total.add(part)
        if progress is not None:
            progress(part)
        if part.retried:
            break  # the center is not answering: leave the rest for later
    return total


def _send(uow, gateway: ProcessingGateway, clock: Clock, center: ProcessingCenter,
          batch: SettlementBatch, dues: dict[str, DuePayment],
          max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> SettlementSummary:
    items = batch.entries
    answer: SettlementAnswer = gateway.settle(center, batch.batch_id, items)
    now = clock.now()
    summary = SettlementSummary(batches=1, operations=len(items))
    if answer.failure is not None:
        delay = min(BACKOFF_BASE * 2 ** max(batch.attempts - 1, 0), BACKOFF_MAX)
        batch.lease_until = now + timedelta(seconds=delay)
        batch.message = answer.failure.message or "no answer from the processing center"
        with uow:
            uow.settlements.save(batch)
            uow.commit()
        log.warning("settlement batch %s at %s got no answer (%s); sending again after %ds",
                    batch.batch_id, center.name, batch.message, delay)
        if batch.attempts == max_attempts:
            log.error("UNRESOLVED: settlement batch %s at %s (%d items, %s %s) has no answer "
                      "after %d sends: %s; still trying every %ds; see `assist-ws unresolved`",
                      batch.batch_id, center.name, batch.items, batch.amount, batch.currency,
                      batch.attempts, batch.message, delay)
        summary.retried = 1
        return summary

    results = []
    for item in items:
        reply = answer.reply(item.request_id)
        due = dues.get(item.request_id)
        if reply.outcome is Outcome.SUCCESS:
            summary.settled += 1
            summary.count(summary.amounts, item.amount)
            if due is not None and due.released_amount > 0:
                summary.count(summary.released, due.released)
            results.append(ItemResult(item.request_id, TransactionState.SUCCESS.value,
                                      reply.response_code or "AS000",
                                      reply.message or "settled"))
        elif reply.outcome in (Outcome.DECLINED, Outcome.NOT_FOUND):
            summary.declined += 1
            results.append(ItemResult(item.request_id, TransactionState.DECLINED.value,
                                      reply.response_code or NOT_SENT,
                                      reply.message or "declined by the processing center"))
        else:  # no answer for this item: the resolver asks the center about it
            summary.unknown += 1
            results.append(ItemResult(item.request_id, TransactionState.UNKNOWN.value, None,
                                      reply.message or "no answer for this item",
                                      now + timedelta(seconds=BACKOFF_BASE)))
    batch.state, batch.finished_at, batch.message = BatchState.DONE.value, now, None
    batch.settled, batch.declined, batch.unknown = \
        summary.settled, summary.declined, summary.unknown
    with uow:
        uow.settlements.record(batch, results, now)
        uow.commit()
    if summary.declined or summary.unknown:
        log.warning("settlement batch %s at %s: %d settled, %d declined, %d unknown",
                    batch.batch_id, center.name, summary.settled, summary.declined,
                    summary.unknown)
    return summary
