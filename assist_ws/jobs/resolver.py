"""Job: ask the centers about transactions whose outcome is unknown, and settle them (with
back-off; what stays open past the limit is logged and listed by ``assist-ws unresolved``).

At most ``LIMIT`` orders per round, so that a center that answers slowly or not at all cannot
hold up the other jobs; the rest are due again next round."""

from __future__ import annotations

#: Orders asked about per round.
LIMIT = 200


def run_once(container) -> int:
    return container.resolve(limit=LIMIT).resolved
