"""Prometheus' multi-process mode: every process of a host (the gunicorn workers of
``assist-ws serve``, the ``assist-ws worker`` on the same host) writes its counters and
histograms into files of one directory (``PROMETHEUS_MULTIPROC_DIR``), and ``/metrics``, in
whichever worker it is answered, adds up all of them.

* ``prepare`` (``assist-ws serve``, before gunicorn starts): makes the directory and clears
  it of the files of processes that are gone (what a running worker process writes stays);
* ``use`` (every process that writes, before its first metric value): points the process
  at the directory;
* ``process_dead`` (gunicorn's ``child_exit``): a dead worker's live gauges are dropped --
  its counts stay, as counters must;
* ``registry``: what ``/metrics`` answers from.  A file that cannot be read (one a process
  is creating this instant exists empty for a moment; one a process killed at that instant
  stays empty) is left out of that answer and said once in the log: it never takes every
  other process's metrics down with it.
"""

from __future__ import annotations

import glob
import logging
import os
import re

from prometheus_client import REGISTRY, CollectorRegistry, values
from prometheus_client import multiprocess
from prometheus_client.mmap_dict import MmapedDict

log = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"
_FILE = re.compile(r"^[a-z_]+_(\d+)\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare(directory: str) -> str:
    """Make ``directory`` (readable by its owner only) and delete the files of processes that
    are no longer running; return its absolute path."""
    path = os.path.abspath(directory)
    os.makedirs(path, mode=0o700, exist_ok=True)
    for name in os.listdir(path):
        found = _FILE.match(name)
        if found and (int(found.group(1)) == os.getpid() or not _alive(int(found.group(1)))):
            try:
                os.remove(os.path.join(path, name))
            except FileNotFoundError:
                pass
    return path


def use(directory: str) -> bool:
    """Write this process's metric values into ``directory`` (made if missing).  Takes
    effect for every value made from now on: call it before the first metric is used.  A
    directory this process cannot write to is said in the log, and the values stay in
    memory (False)."""
    path = os.path.abspath(directory)
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(f"{path} is not writable")
    except OSError as exc:
        logging.getLogger(__name__).warning(
            "metrics kept in memory, not in %s: %s", path, exc)
        return False
    os.environ[ENV] = path
    if not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.get_value_class()
    return True


def active() -> str | None:
    """The directory this process writes into, or None (values kept in memory)."""
    path = os.environ.get(ENV)
    if path and getattr(values.ValueClass, "_multiprocess", False):
        return path
    return None


def process_dead(pid: int) -> None:
    """Drop the live gauges of process ``pid`` (gunicorn's ``child_exit``)."""
    path = active()
    if path:
        multiprocess.mark_process_dead(pid, path)


def _readable(path: str) -> bool:
    """Whether the values file ``path`` reads whole (a vanished one counts as readable: the
    collector skips what is gone)."""
    try:
        for _value in MmapedDict.read_all_values_from_file(path):  # a generator: read it all
            pass
    except FileNotFoundError:
        return True
    except Exception:  # noqa: BLE001 - an empty or torn file, whatever the library raises
        return False
    return True


class _Directory:
    """Every process's values in ``path``, added up; a file that cannot be read is left out
    (see the module doc)."""

    def __init__(self, path: str):
        self.path = path
        self._unread: set[str] = set()

    def collect(self):
        files = glob.glob(os.path.join(self.path, "*.db"))
        try:
            return multiprocess.MultiProcessCollector.merge(files, accumulate=True)
        except Exception:  # noqa: BLE001 - find the file at fault and answer without it
            unread = {f for f in files if not _readable(f)}
            for name in sorted(unread - self._unread):
                log.warning("metrics file %s cannot be read (being created, or left empty by "
                            "a killed process); answering without it", os.path.basename(name))
            self._unread = unread
            return multiprocess.MultiProcessCollector.merge(
                [f for f in files if f not in unread], accumulate=True)

    def describe(self):
        return []


class _Forward:
    """The default registry's metrics, as one collector (single-process mode)."""

    def collect(self):
        yield from REGISTRY.collect()

    def describe(self):
        return []


def registry(*collectors) -> CollectorRegistry:
    """The registry ``/metrics`` answers from: the metrics of every process writing into the
    directory (multi-process mode), or this process's (otherwise), and ``collectors``."""
    found = CollectorRegistry(auto_describe=False)
    path = active()
    if path:
        found.register(_Directory(path))
    else:
        found.register(_Forward())
    for collector in collectors:
        found.register(collector)
    return found
