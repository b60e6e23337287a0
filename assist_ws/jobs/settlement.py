"""Job: settle, at each processing center, what was due at its latest cut-off; and send
again the batches a dead worker left behind."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def run_once(container, stop=None) -> int:
    summary = container.settle_at_cutoff(stop=stop)
    if summary.operations:
        amounts = ", ".join(f"{v} {k}" for k, v in sorted(summary.amounts.items()))
        log.info("settlement: %d operations in %d batches, %d settled (%s), %d declined, "
                 "%d unknown", summary.operations, summary.batches, summary.settled,
                 amounts or "nothing", summary.declined, summary.unknown)
    return summary.settled
