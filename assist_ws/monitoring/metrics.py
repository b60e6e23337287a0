"""The counters and histograms, and the decorators that write them where things happen.

Every metric has labels, so that no value exists before its first use: a process chooses
where values live (memory, or the files of the multi-process mode, ``multiproc``) before
then.  Label values come from small fixed sets (routes, centers, operations, outcomes,
jobs), never from a request.  A metric that cannot be written (a full disk under the
metrics directory) is logged once and never fails what was being counted.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Sequence, TypeVar

from prometheus_client import Counter, Histogram

from ..domain.cards import CardData
from ..domain.model import ProcessingCenter
from ..domain.money import Money
from ..domain.notifications import NotificationSender, PushNotice, PushReply, PushTarget
from ..domain.ports import Outcome, ProcessingGateway, ProcessingReply, SettlementAnswer

#: Latency buckets of requests (seconds): a web service answers in milliseconds, a payment
#: waits for its bank (0.2-3 s).
REQUEST_BUCKETS = (.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30)
#: Latency buckets of calls to processing centers (a settlement batch may take minutes).
CENTER_BUCKETS = (.05, .1, .25, .5, 1, 2, 3, 5, 10, 20, 30, 60, 120)
#: Duration buckets of the worker's jobs and of notification tries.
JOB_BUCKETS = (.01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 900, 3600)

HTTP_REQUESTS = Counter(
    "assist_http_requests", "HTTP requests answered, by route and status.",
    ["route", "status"])
HTTP_DURATION = Histogram(
    "assist_http_request_duration_seconds",
    "Time from a request's arrival in the application to the end of its answer.",
    ["route"], buckets=REQUEST_BUCKETS)
PAYMENTS = Counter(
    "assist_payments", "Payments made through the payment pages, by result and means.",
    ["result", "means"])
CENTER_CALLS = Counter(
    "assist_processing_calls", "Calls to processing centers, by center, operation and outcome.",
    ["center", "operation", "outcome"])
CENTER_DURATION = Histogram(
    "assist_processing_call_duration_seconds", "Time a processing center took to answer.",
    ["center", "operation"], buckets=CENTER_BUCKETS)
NOTIFY_TRIES = Counter(
    "assist_notification_attempts", "Tries to deliver a result notification, by verdict.",
    ["verdict"])
NOTIFY_DURATION = Histogram(
    "assist_notification_attempt_duration_seconds",
    "Time one try to deliver a result notification took.", ["protocol"],
    buckets=JOB_BUCKETS)
JOB_DURATION = Histogram(
    "assist_worker_job_duration_seconds", "Time one run of a worker's job took.", ["job"],
    buckets=JOB_BUCKETS)
JOB_FAILURES = Counter(
    "assist_worker_job_failures", "Runs of a worker's job that failed with an error.",
    ["job"])

#: Assist's response code of a processing center's own failure (a fault): not the card's.
_CENTER_ERROR = "AS998"

log = logging.getLogger(__name__)
_failed: list[Exception] = []
T = TypeVar("T")


def unwritten(exc: Exception) -> None:
    """A metric could not be written: said once per process, and the work goes on."""
    if not _failed:
        _failed.append(exc)
        log.warning("metrics cannot be written (%s: %s); counting goes on without them",
                    type(exc).__name__, exc)


# -- payments -----------------------------------------------------------------------------
def payment_result(state: str) -> str:
    """The ``result`` label of a pay operation in ``state``."""
    return {"Success": "approved", "Declined": "declined"}.get(state, "unknown")


def payment_made(state: str, means: str) -> None:
    """Count a payment that was made (not one found again for a repeated request)."""
    try:
        PAYMENTS.labels(payment_result(state), means or "card").inc()
    except Exception as exc:  # noqa: BLE001 - never fails the payment
        unwritten(exc)


# -- the worker ---------------------------------------------------------------------------
def job_finished(job: str, seconds: float, failed: bool) -> None:
    """The worker's report of one job run (``jobs.worker.Worker(observe=...)``)."""
    try:
        JOB_DURATION.labels(job).observe(seconds)
        if failed:
            JOB_FAILURES.labels(job).inc()
    except Exception as exc:  # noqa: BLE001 - never fails the job
        unwritten(exc)


# -- processing centers -------------------------------------------------------------------
def call_outcome(reply: ProcessingReply) -> str:
    """The ``outcome`` label of a center's reply: ``success``, ``declined``, ``not_found``,
    ``error`` (the center failed: a fault), ``unknown`` (sent, no usable answer) or
    ``not_sent`` (the request certainly never reached the center)."""
    if not reply.delivered:
        return "not_sent"
    if reply.outcome is Outcome.SUCCESS:
        return "success"
    if reply.outcome is Outcome.DECLINED:
        return "error" if reply.response_code == _CENTER_ERROR else "declined"
    if reply.outcome is Outcome.NOT_FOUND:
        return "not_found"
    return "unknown"


class MeteredGateway:
    """A ``ProcessingGateway`` that counts and times every call of the one it wraps."""

    def __init__(self, inner: ProcessingGateway):
        self.inner = inner

    def _call(self, center: ProcessingCenter, operation: str, call: Callable[[], T],
              outcome: Callable[[T], str]) -> T:
        started = time.perf_counter()
        try:
            result = call()
        except BaseException:
            self._count(center, operation, "error", started)
            raise
        self._count(center, operation, outcome(result), started)
        return result

    @staticmethod
    def _count(center: ProcessingCenter, operation: str, outcome: str, started: float) -> None:
        try:
            CENTER_DURATION.labels(center.name, operation).observe(
                time.perf_counter() - started)
            CENTER_CALLS.labels(center.name, operation, outcome).inc()
        except Exception as exc:  # noqa: BLE001 - never fails the call's result
            unwritten(exc)

    def authorize(self, center: ProcessingCenter, request_id: str, card: CardData,
                  amount: Money, skip_authentication: bool = False) -> ProcessingReply:
        return self._call(center, "authorize",
                          lambda: self.inner.authorize(center, request_id, card, amount,
                                                       skip_authentication),
                          call_outcome)

    def complete_authorization(self, center, request_id, authentication_result):
        return self._call(center, "complete_authorization",
                          lambda: self.inner.complete_authorization(
                              center, request_id, authentication_result), call_outcome)

    def reverse(self, center, request_id, authorization_request_id, amount):
        return self._call(center, "reverse", lambda: self.inner.reverse(
            center, request_id, authorization_request_id, amount), call_outcome)

    def refund(self, center, request_id, authorization_request_id, amount):
        return self._call(center, "refund", lambda: self.inner.refund(
            center, request_id, authorization_request_id, amount), call_outcome)

    def settle(self, center: ProcessingCenter, batch_id: str,
               items: Sequence) -> SettlementAnswer:
        return self._call(center, "settle", lambda: self.inner.settle(center, batch_id, items),
                          lambda a: "success" if a.failure is None else call_outcome(a.failure))

    def status(self, center, request_id):
        return self._call(center, "status", lambda: self.inner.status(center, request_id),
                          call_outcome)

    def points_balance(self, center, card_number):
        return self._call(center, "points_balance",
                          lambda: self.inner.points_balance(center, card_number),
                          lambda points: "success" if points is not None else "unknown")

    def pay_with_points(self, center, request_id, card_number, points):
        return self._call(center, "pay_with_points", lambda: self.inner.pay_with_points(
            center, request_id, card_number, points), call_outcome)

    def accrue_points(self, center, request_id, authorization_request_id, points):
        return self._call(center, "accrue_points", lambda: self.inner.accrue_points(
            center, request_id, authorization_request_id, points), call_outcome)

    def cancel_accrual(self, center, request_id, accrual_request_id, points):
        return self._call(center, "cancel_accrual", lambda: self.inner.cancel_accrual(
            center, request_id, accrual_request_id, points), call_outcome)

    def return_points(self, center, request_id, payment_request_id, points):
        return self._call(center, "return_points", lambda: self.inner.return_points(
            center, request_id, payment_request_id, points), call_outcome)


# -- result notifications -----------------------------------------------------------------
class MeteredSender:
    """A ``NotificationSender`` that counts and times every try of the one it wraps."""

    def __init__(self, inner: NotificationSender):
        self.inner = inner

    def check_url(self, url: str) -> str:
        return self.inner.check_url(url)

    def send(self, target: PushTarget, notice: PushNotice) -> PushReply:
        started = time.perf_counter()
        reply = self.inner.send(target, notice)
        try:
            protocol = getattr(target.protocol, "value", target.protocol)
            NOTIFY_DURATION.labels(str(protocol)).observe(time.perf_counter() - started)
            NOTIFY_TRIES.labels(getattr(reply.verdict, "value", str(reply.verdict))).inc()
        except Exception as exc:  # noqa: BLE001 - never fails the try's journal
            unwritten(exc)
        return reply
