"""Suite-wide checks.

* Where PostgreSQL is required (CI), a run in which no PostgreSQL test passed fails, so that
  skipped database tests cannot pass for green.
* No log line of the run may hold a test card's number (in any spacing), a password or a
  secret word (``support.secrets_in``): at the end of the session every log file under the
  session's temporary directory -- what each server (``assist-ws serve``, the end-to-end
  gateway at DEBUG), each worker process and this process's own loggers wrote -- is read,
  and a run whose logs hold any fails, naming the file and what was found.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from assist_ws.domain.redaction import redact

from .support import LOG_SUFFIX, REQUIRE_PG, secrets_in

#: This process's own log lines (every logger, at the levels they have; redacted, as a
#: server's handlers write them) go here too.
_IN_PROCESS = "in-process" + LOG_SUFFIX


def _worker(config) -> bool:
    return hasattr(config, "workerinput")  # a pytest-xdist worker


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
