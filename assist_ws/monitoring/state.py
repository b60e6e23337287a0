"""The gauges that are state, read from the database when ``/metrics`` is scraped: unknown
outcomes open, the notification backlog and its oldest, settlement lag per center.

One read (``read(now) -> Snapshot``, four small queries) serves every scrape of the next
``ttl`` seconds in this process; while one thread reads, the others wait for its result
rather than read again.  A read that fails leaves ``assist_state_up`` at 0 and the other
gauges out of the answer, and says so in the log once (and once more when it works again).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from ..domain.backlog import Snapshot

log = logging.getLogger(__name__)

Reader = Callable[[datetime], Snapshot]


def families(snapshot: Snapshot, now: datetime) -> list[Metric]:
    """The gauges of ``snapshot``, their ages taken at ``now``."""
    unknown = GaugeMetricFamily(
        "assist_unknown_outcomes_open",
        "Transactions and settlement batches sent to a processing center without an outcome "
        "(unknown, or unanswered past the resolver's grace).", labels=["kind"])
    oldest = GaugeMetricFamily(
        "assist_unknown_outcome_oldest_age_seconds",
        "Age of the oldest transaction or settlement batch without an outcome (0: none).",
        labels=["kind"])
    for kind, backlog in (("transaction", snapshot.unknown_transactions),
                          ("settlement_batch", snapshot.unknown_batches)):
        unknown.add_metric([kind], backlog.count)
        oldest.add_metric([kind], backlog.age(now))
    pending = GaugeMetricFamily(
        "assist_notifications_pending", "Result notifications waiting to be delivered.",
        value=snapshot.notifications.count)
    pending_age = GaugeMetricFamily(
        "assist_notification_oldest_pending_age_seconds",
        "Time the oldest pending result notification has waited since it was queued "
        "(0: none).", value=snapshot.notifications.age(now))
    lag = GaugeMetricFamily(
        "assist_settlement_lag_seconds",
        "Time since the earliest cut-off whose due payments are not all settled, per "
        "processing center (0: settled through the latest cut-off).", labels=["center"])
    for center in snapshot.centers:
        lag.add_metric([center.name], center.lag(now))
    return [unknown, oldest, pending, pending_age, lag]


class StateCollector:
    """A ``prometheus_client`` collector of the state gauges (see the module doc)."""

    def __init__(self, read: Reader, clock: Callable[[], datetime], ttl: float = 5.0):
        self.read, self.clock, self.ttl = read, clock, ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None
        self._failing = False

    def _up(self, value: int) -> Metric:
        return GaugeMetricFamily("assist_state_up", "1 when the state gauges could be read "
                                 "from the database at this scrape, else 0.", value=value)

    def _families(self) -> list[Metric]:
        cached = self._cached
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        with self._lock:
            cached = self._cached
            if cached is not None and time.monotonic() - cached[0] < self.ttl:
                return cached[1]
            now = self.clock()
            try:
                found = families(self.read(now), now) + [self._up(1)]
                if self._failing:
                    log.warning("the state gauges can be read from the database again")
                self._failing = False
            except Exception as exc:  # noqa: BLE001 - a scrape says so instead of failing
                if not self._failing:
                    log.warning("the state gauges could not be read from the database: %s",
                                type(exc).__name__)
                self._failing = True
                found = [self._up(0)]
            self._cached = (time.monotonic(), found)
            return found

    def collect(self) -> Iterator[Metric]:
        yield from self._families()

    def describe(self) -> list[Metric]:
        return []
