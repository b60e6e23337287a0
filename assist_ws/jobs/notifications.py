"""The notification job: deliver the result notifications that are due.

``run_once(container)`` makes one pass (claims up to the batch size, sends, journals) and
returns how many tries it made; the worker loop calls it again and again, and several
workers may run it at once: each notification is claimed by one of them at a time.
"""

from __future__ import annotations

import logging

from ..bootstrap import Container

log = logging.getLogger(__name__)


def run_once(container: Container) -> int:
    """Deliver what is due now; the number of tries made (0: nothing was due)."""
    s = container.deliver_notifications()
    if s.tries or s.skipped:
        log.info("notifications: %d tries, %d delivered, %d failed, %d rejected, %d expired, "
                 "%d given up", s.tries, s.delivered, s.failed, s.rejected, s.expired,
                 s.skipped)
    return s.tries
