"""Suite-wide checks.

* Where PostgreSQL is required (CI), a run in which no PostgreSQL test passed fails, so that
  skipped database tests cannot pass for green.
* No log line of the run may hold a test card's number (in any spacing), a password or a
  secret word (``support.secrets_in``): at the end of the session every log file under the
  session's temporary directory -- what each server (``assist-ws serve``, the end-to-end
  gateway at DEBUG), each worker process and this process's own loggers wrote -- is read,
  and a run whose logs hold any fails, naming the file and what was found.
* Run in parallel (``scripts/test`` asks pytest-xdist for a worker per CPU, ``--dist
  loadgroup``), every worker makes its own databases, emulators and servers; the modules of
  ``GROUPS``, whose fixtures start servers once for the module (or the session), each run on
  one worker; and a test marked ``alone`` (one that measures throughput or times answers)
  runs while no other test does: the other workers wait for it before their next test.
"""

from __future__ import annotations

import fcntl
import logging
from pathlib import Path

import pytest

from assist_ws.domain.redaction import redact

from .support import LOG_SUFFIX, REQUIRE_PG, secrets_in

#: This process's own log lines (every logger, at the levels they have; redacted, as a
#: server's handlers write them) go here too.
_IN_PROCESS = "in-process" + LOG_SUFFIX


#: Test files (or directories) -> the group whose tests one worker runs.
GROUPS = {
    "tests/e2e/": "e2e",                                   # the world and one Chromium
    "tests/integration/test_serving.py": "serving",        # gunicorn and a slow emulator
    "tests/integration/test_observability.py": "observability",
    "tests/integration/test_snapshot.py": "snapshot",
    "tests/integration/test_notify_http.py": "notify-http",
    "tests/integration/test_notify_cli.py": "notify-cli",
    "tests/integration/ws/test_wsdl.py": "wsdl",
}


def _worker(config) -> bool:
    return hasattr(config, "workerinput")  # a pytest-xdist worker


def pytest_itemcollected(item):  # (before pytest-xdist reads the groups)
    path = item.nodeid.split("::", 1)[0]
    for prefix, group in GROUPS.items():
        if path.startswith(prefix):
            item.add_marker(pytest.mark.xdist_group(group))
            return


@pytest.fixture(autouse=True)
def _turn(request, tmp_path_factory):
    """On a pytest-xdist worker: a test marked ``alone`` takes the session's lock file for
    itself, the others share it.  A turnstile before it lets no new test in while one marked
    ``alone`` waits for those running to end."""
    if not _worker(request.config):
        yield
        return
    root = tmp_path_factory.getbasetemp().parent  # the session's, above each worker's own
    alone = request.node.get_closest_marker("alone") is not None
    with open(root / "turnstile.lock", "a") as gate, open(root / "alone.lock", "a") as lock:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:
                fcntl.flock(gate, fcntl.LOCK_UN)
        yield  # (the locks end with the files)


class _Redacted(logging.Formatter):
    """Lines as a server's handlers write them: redacted (without changing the record)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


@pytest.fixture(scope="session", autouse=True)
def _in_process_log(tmp_path_factory):
    handler = logging.FileHandler(tmp_path_factory.getbasetemp() / _IN_PROCESS,
                                  encoding="utf-8")
    handler.setFormatter(_Redacted("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    yield
    logging.getLogger().removeHandler(handler)
    handler.close()


def log_files(root: Path) -> list[Path]:
    """Every log file of the session under ``root`` (the session's temporary directory; with
    pytest-xdist, its workers' directories are under it)."""
    return sorted(p for p in root.rglob("*" + LOG_SUFFIX) if p.is_file())


def secrets_in_logs(root: Path) -> dict[Path, list[str]]:
    found = {}
    for path in log_files(root):
        with open(path, encoding="utf-8", errors="replace") as fh:
            hits = secrets_in(fh.read())
        if hits:
            found[path] = hits
    return found


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if not _worker(config):
        factory = getattr(config, "_tmp_path_factory", None)
        root = factory.getbasetemp() if factory is not None else None
        found = secrets_in_logs(root) if root is not None else {}
        if found:
            if reporter:
                reporter.ensure_newline()
                reporter.write_line("test cards, passwords or secret words in the logs:",
                                    red=True)
                for path, hits in found.items():
                    reporter.write_line(f"  {path}: {', '.join(hits)}", red=True)
            session.exitstatus = 1
    if not REQUIRE_PG or exitstatus != 0:
        return
    passed = reporter.stats.get("passed", []) if reporter else []
    if not any("postgres" in report.nodeid for report in passed):
        if reporter:
            reporter.write_line("ASSIST_REQUIRE_POSTGRES=1 but no PostgreSQL test passed",
                                red=True)
        session.exitstatus = 1

