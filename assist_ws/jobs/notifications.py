"""The notification job: deliver the result notifications that are due.

``run_once(container)`` makes one pass (claims up to the batch size, sends, journals) and
returns how many tries it made; the worker loop calls it again and again, and several
workers may run it at once: each notification is claimed by one of them at a time.
"""

from __future__ import annotations

from ..bootstrap import Container


def run_once(container: Container) -> int:
    """Deliver what is due now; the number of tries made (0: nothing was due)."""
    return container.deliver_notifications().tries
