"""Job: ask the centers about transactions whose outcome is unknown, and settle them (with
back-off; what stays open past the limit is logged and listed by ``assist-ws unresolved``)."""

from __future__ import annotations

#: Orders asked about per round and database claim.
LIMIT = 200


def run_once(container, stop=None) -> int:
    resolved = 0
    while stop is None or not stop.is_set():
        summary = container.resolve(limit=LIMIT)
        resolved += summary.resolved
        if summary.examined < LIMIT:
            break
    return resolved
