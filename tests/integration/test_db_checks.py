"""Start-up checks of the database server's settings (``db.checks``): a PostgreSQL whose
autovacuum is off -- for the server or for a growing table -- is named in a warning;
SQLite has nothing to check; a database that cannot be reached is said so, not raised."""

from __future__ import annotations

from assist_ws.cli import _warn_about_database
from assist_ws.db.checks import settings_warnings


def test_a_growing_table_without_autovacuum_is_named(gw):
    engine = gw.engine
    if engine.dialect.name != "postgresql":
        assert settings_warnings(engine) == []
        return
    assert not any("table(s)" in w for w in settings_warnings(engine))
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE orders SET (autovacuum_enabled = false)")
        conn.exec_driver_sql("ALTER TABLE transactions SET (autovacuum_enabled = off)")
    try:
        found = [w for w in settings_warnings(engine) if "table(s)" in w]
        assert len(found) == 1 and "table(s) orders, transactions:" in found[0]
        assert "ANALYZE" in found[0]
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE orders RESET (autovacuum_enabled)")
            conn.exec_driver_sql("ALTER TABLE transactions RESET (autovacuum_enabled)")
    assert not any("table(s)" in w for w in settings_warnings(engine))


def test_a_database_out_of_reach_is_a_warning(caplog):
    with caplog.at_level("WARNING"):
        _warn_about_database("postgresql://nobody@127.0.0.1:1/none")
    found = [r for r in caplog.records if r.levelname == "WARNING"]
    assert found and found[0].getMessage().startswith(
        "the database's settings could not be checked")
