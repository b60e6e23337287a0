"""Readiness: can this process take payments -- does the database answer, and can each
active processing center be reached (a TCP connection to its address)?

A check runs in a thread of its own and is waited for at most ``timeout`` seconds (a
database or a center that hangs makes the answer "not ready", not a hung request); its
result serves every ``/ready`` of the next ``ttl`` seconds in this process, and one check at
a time runs.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence
from urllib.parse import urlsplit

#: ``targets() -> [(name, url)]``: the active processing centers, read from the database
#: (which it thereby checks); raises when the database does not answer.
Targets = Callable[[], Sequence[tuple[str, str]]]


@dataclass(frozen=True)
class Verdict:
    ready: bool
    #: What was checked: ``database`` and each center by name, ``ok`` or what failed.
    checks: dict[str, str] = field(default_factory=dict)


def reach(url: str, timeout: float) -> None:
    """Open (and close) a TCP connection to the host and port of ``url``; raises OSError."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise OSError(f"no host in {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    with socket.create_connection((parts.hostname, port), timeout=timeout):
        pass


class Readiness:
    """Runs and caches the checks (see the module doc)."""

    def __init__(self, targets: Targets, *, timeout: float = 2.0, ttl: float = 5.0,
                 reach: Callable[[str, float], None] = reach):
        self.targets, self.timeout, self.ttl, self.reach = targets, timeout, ttl, reach
        self._lock = threading.Lock()
        self._result: tuple[float, Verdict] | None = None
        self._running: threading.Event | None = None

    def check(self) -> Verdict:
        result = self._result
        if result is not None and time.monotonic() - result[0] < self.ttl:
            return result[1]
        with self._lock:
            result = self._result
            if result is not None and time.monotonic() - result[0] < self.ttl:
                return result[1]
            running = self._running
            if running is None:
                running = self._running = threading.Event()
                threading.Thread(target=self._run, args=(running,), name="readiness",
                                 daemon=True).start()
        if running.wait(self.timeout * 2 + 0.5):
            return self._result[1]  # type: ignore[index]
        return Verdict(False, {"checks": "no answer in time"})

    def _run(self, done: threading.Event) -> None:
        try:
            verdict = self._checks()
        except Exception as exc:  # noqa: BLE001 - anything is a "not ready"
            verdict = Verdict(False, {"checks": type(exc).__name__})
        with self._lock:
            self._result = (time.monotonic(), verdict)
            self._running = None
        done.set()

    def _checks(self) -> Verdict:
        checks: dict[str, str] = {}
        outcome: list = []
        worker = threading.Thread(target=lambda: outcome.append(self._database()),
                                  daemon=True, name="readiness-database")
        worker.start()
        worker.join(self.timeout)
        if not outcome:
            return Verdict(False, {"database": f"no answer within {self.timeout:g} s"})
        centers = outcome[0]
        if isinstance(centers, Exception):
            return Verdict(False, {"database": f"failed: {type(centers).__name__}"})
        checks["database"] = "ok"
        found: dict[str, str] = {}

        def probe(name: str, url: str) -> None:
            try:
                self.reach(url, self.timeout)
                found[name] = "ok"
            except OSError as exc:
                found[name] = f"unreachable: {type(exc).__name__}"

        probes = [threading.Thread(target=probe, args=(name, url), daemon=True,
                                   name="readiness-center") for name, url in centers]
        for thread in probes:
            thread.start()
        deadline = time.monotonic() + self.timeout
        for thread in probes:
            thread.join(max(0.0, deadline - time.monotonic()))
        for name, _url in centers:
            checks[name] = found.get(name, f"no answer within {self.timeout:g} s")
        return Verdict(all(checks[name] == "ok" for name, _url in centers), checks)

    def _database(self):
        try:
            return list(self.targets())
        except Exception as exc:  # noqa: BLE001 - reported as the database's failure
            return exc
