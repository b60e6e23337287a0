"""Job: close orders whose buyer did not pay within the merchant's timeout (``Timeout``)."""

from __future__ import annotations


def run_once(container) -> int:
    return container.close_abandoned().closed
