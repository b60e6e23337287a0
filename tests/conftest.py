"""Suite-wide checks: where PostgreSQL is required (CI), a run in which no PostgreSQL test
passed fails, so that skipped database tests cannot pass for green."""

from __future__ import annotations

from .support import REQUIRE_PG


def pytest_sessionfinish(session, exitstatus):
    if not REQUIRE_PG or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    passed = reporter.stats.get("passed", []) if reporter else []
    if not any("postgres" in report.nodeid for report in passed):
        if reporter:
            reporter.write_line("ASSIST_REQUIRE_POSTGRES=1 but no PostgreSQL test passed",
                                red=True)
        session.exitstatus = 1
