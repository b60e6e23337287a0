"""Shared benchmark plumbing: start a WSGI app under gunicorn the way ``assist-ws serve`` does,
wait for it, stop it; measure a process's peak memory; summarise latencies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import requests

from assist_ws.gunicorn_config import command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen | None) -> None:
    """Stop ``proc`` and its session (SIGTERM, then SIGKILL after 10 s), if still running."""
    if proc and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


class Gunicorn:
    """``gunicorn APP`` with the settings of ``assist-ws serve`` (``gunicorn_config``: 2
    threaded workers by default, the application preloaded), without the access log;
    ``extra`` gunicorn arguments override them (``--worker-class sync``)."""

    def __init__(self, app: str, *, workers: int = 2, env: dict | None = None,
                 health_path: str = "/", threads: int | None = None,
                 extra: tuple[str, ...] = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app, self.workers, self.health_path = app, workers, health_path
        self.threads, self.extra = threads, extra
        self.env = dict(os.environ, **(env or {}))
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Gunicorn":
        self.proc = subprocess.Popen(
            command(self.app, bind=f"127.0.0.1:{self.port}", workers=self.workers,
                    threads=self.threads, timeout=120, log_level="warning",
                    access_log=False) + list(self.extra),
            env=self.env, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + self.health_path, timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"gunicorn {self.app} did not start")

    def __exit__(self, *exc) -> None:
        stop(self.proc)

    def rss_mb(self) -> float:
        """Resident memory of the master and its workers now, in MB."""
        return tree_rss_mb(self.proc.pid)


class EmulatorProcess:
    """The processing-center emulator in a process (and session) of its own, its ledger in
    ``data``, every operation answered after ``latency`` seconds; started and waited for
    on entry, stopped on exit."""

    def __init__(self, data: str, latency: float = 0.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [sys.executable, "-m", "assist_ws.cli", "emulator", "--port",
                     str(self.port), "--data", data] + (
            ["--latency", str(latency)] if latency else [])
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "EmulatorProcess":
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(self.url + "/ledger?summary=1", timeout=1)
                return self
            except requests.RequestException:
                if time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError("the emulator did not start") from None
                time.sleep(0.1)

    def __exit__(self, *exc) -> None:
        stop(self.proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def ledger(self) -> dict:
        return requests.get(self.url + "/ledger?summary=1", timeout=10).json()


def tree_rss_mb(pid: int) -> float:
    total = 0
    pids = [pid]
    try:
        out = subprocess.run(["ps", "-o", "pid=,rss=", "--ppid", str(pid)], capture_output=True,
                             text=True).stdout
        pids += [int(line.split()[0]) for line in out.splitlines() if line.strip()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a process now, in MB.  PSS (proportional set size) counts a page shared
    by n processes as 1/n in each: summed over processes it is the memory they use together,
    where a sum of RSS counts shared pages once per process."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss / 1024, pss / 1024


def percentiles(samples: list[float], *ps: float) -> list[float]:
    if not samples:
        return [float("nan")] * len(ps)
    ordered = sorted(samples)
    return [ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] for p in ps]
