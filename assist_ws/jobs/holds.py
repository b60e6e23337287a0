"""Job: cancel Delayed orders whose hold period at their center has passed, releasing the
holds."""

from __future__ import annotations


def run_once(container) -> int:
    return container.expire_holds().canceled
