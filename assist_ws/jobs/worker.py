"""The worker: one long-running process that runs the jobs, one round every
``ASSIST_WORKER_INTERVAL`` seconds, until it is told to stop.

Any number of workers, on one host or several, may share one PostgreSQL database: each job
claims its rows (``FOR UPDATE SKIP LOCKED``) and commits what it did before it calls a
processing center, so nothing is done twice and a worker killed at any moment leaves nothing
half-done -- the next round of any worker picks it up.  With SQLite, run one worker.

SIGTERM or SIGINT ends the worker after the batch in flight; a second one ends it at once
(still safe: what was claimed is taken up again when its lease ends).

Each job run is reported to ``observe(job, seconds, failed)`` when one is given (the command
line passes the metrics' ``job_finished``).
"""

from __future__ import annotations

import inspect
import logging
import signal
import threading
import time
from typing import Callable, Sequence

from . import holds, notifications, resolver, settlement, timeouts

log = logging.getLogger(__name__)

Job = Callable[..., int]
#: ``observe(job name, seconds it took, whether it failed)``.
Observer = Callable[[str, float, bool], None]

#: The jobs in the order one round runs them: ``(name, run_once)``, where
#: ``run_once(container) -> int`` returns how much it did.  Unknown outcomes are resolved
#: first (so their orders can be settled, expired or timed out in the same round).
#: Notification delivery joins this list, last (it then delivers in the same round what the
#: jobs before it changed): ``("notify", notifications.run_once)``.
JOBS: list[tuple[str, Job]] = [
    ("resolve", resolver.run_once),
    ("settle", settlement.run_once),
    ("holds", holds.run_once),
    ("timeouts", timeouts.run_once),
    ("notify", notifications.run_once),
]


def job_names() -> list[str]:
    return [name for name, _ in JOBS]


class Worker:
    def __init__(self, container, *, interval: float | None = None,
                 only: Sequence[str] = (), observe: Observer | None = None):
        self.container = container
        self.observe = observe
        self.interval = container.settings.worker_interval if interval is None else interval
        unknown = set(only) - set(job_names())
        if unknown:
            raise ValueError(f"unknown job(s): {', '.join(sorted(unknown))}; "
                             f"choose from {', '.join(job_names())}")
        self.jobs = [(name, job) for name, job in JOBS if not only or name in only]
        self.stop_event = threading.Event()
        self.rounds = 0

    def round(self) -> dict[str, int]:
        """Run every job once; a failing job is logged and does not stop the others."""
        done: dict[str, int] = {}
        for name, job in self.jobs:
            if self.stop_event.is_set():
                break
            started = time.monotonic()
            try:
                if _takes_stop(job):
                    done[name] = job(self.container, stop=self.stop_event)
                else:
                    done[name] = job(self.container)
            except Exception:  # noqa: BLE001 - the worker outlives a failing round
                log.exception("job %s failed; it runs again next round", name)
                done[name] = -1
                self._observe(name, time.monotonic() - started, True)
                continue
            took = time.monotonic() - started
            self._observe(name, took, False)
            if done[name]:
                log.info("job %s: %d in %.1fs", name, done[name], took)
        self.rounds += 1
        log.debug("round done: %s", done)
        return done

    def _observe(self, name: str, seconds: float, failed: bool) -> None:
        if self.observe is not None:
            try:
                self.observe(name, seconds, failed)
            except Exception:  # noqa: BLE001 - a report must not stop the work
                log.exception("job %s: its run could not be reported", name)

    def run(self, *, once: bool = False) -> None:
        """Run rounds until stopped (or one round, ``once``)."""
        log.info("worker started: jobs %s, a round every %ss",
                 ", ".join(name for name, _ in self.jobs), self.interval)
        while not self.stop_event.is_set():
            self.round()
            if once:
                break
            self.stop_event.wait(self.interval)
        log.info("worker stopped after %d rounds", self.rounds)

    def stop(self) -> None:
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        def handler(signum, _frame):
            if self.stop_event.is_set():
                raise SystemExit(128 + signum)
            log.info("signal %d: stopping after the work in flight", signum)
            self.stop()
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def _takes_stop(job: Job) -> bool:
    try:
        return "stop" in inspect.signature(job).parameters
    except (TypeError, ValueError):
        return False
