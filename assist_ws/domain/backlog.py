"""What is waiting, as the database says at one moment: outcomes not known yet, result
notifications not delivered yet, cut-offs not settled yet.  The state an operator watches
(``/metrics`` reads it); whichever process or host did the work, the database says the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .settlement import latest_cutoff, next_cutoff


@dataclass(frozen=True)
class Backlog:
    """How many things wait, and since when the oldest of them does."""

    count: int = 0
    oldest: datetime | None = None

    def age(self, now: datetime) -> float:
        """Seconds the oldest has waited (0 when nothing waits)."""
        if self.oldest is None:
            return 0.0
        return max(0.0, (now - self.oldest).total_seconds())


@dataclass(frozen=True)
class CenterSettlement:
    """A processing center's cut-off and the latest cut-off whose due payments were all
    settled (``settled_through``; None: none yet)."""

    name: str
    cutoff: str
    settled_through: datetime | None = None

    def overdue_since(self, now: datetime) -> datetime | None:
        """The earliest cut-off at or before ``now`` whose payments are not all settled, or
        None when the latest one is."""
        latest = latest_cutoff(now, self.cutoff)
        if self.settled_through is None:
            return latest
        if self.settled_through >= latest:
            return None
        return min(next_cutoff(self.settled_through, self.cutoff), latest)

    def lag(self, now: datetime) -> float:
        """Seconds since that cut-off (0 when settlement is up to date): it grows for as long
        as settlement stays behind, across later cut-offs."""
        since = self.overdue_since(now)
        return 0.0 if since is None else max(0.0, (now - since).total_seconds())


@dataclass(frozen=True)
class Snapshot:
    """The state read at ``read_at``.

    * ``unknown_transactions``: transactions to processing centers without an outcome --
      ``unknown``, or ``sent`` and unanswered for longer than the resolver's grace;
    * ``unknown_batches``: settlement batches sent and unanswered for as long;
    * ``notifications``: result notifications pending delivery (oldest by when queued);
    * ``centers``: each active center's settlement.
    """

    read_at: datetime
    unknown_transactions: Backlog = Backlog()
    unknown_batches: Backlog = Backlog()
    notifications: Backlog = Backlog()
    centers: tuple[CenterSettlement, ...] = ()
