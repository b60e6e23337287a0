"""Start-up checks of the database server's settings the gateway depends on, as sentences for
the log (``assist-ws serve`` and ``assist-ws worker`` print them; nothing is refused).

PostgreSQL's autovacuum keeps the planner's statistics of the tables up to date.  Without it
the gateway's prepared statements (psycopg prepares a statement after a few executions) keep
the plans they were given while the tables were small: the payment pages' lookups of an
order by its billnumber then read the whole table, and every payment costs more than the
last (seen in the payment benchmark: a third of the rate lost within 10,000 orders).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine

#: The tables that grow with every payment.
GROWING = ("orders", "operations", "transactions", "notifications", "notification_attempts")

_TABLES_WITHOUT_AUTOVACUUM = text(
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND c.relname = ANY(:tables) AND EXISTS ("
    "SELECT 1 FROM unnest(c.reloptions) AS o(option) "
    "WHERE lower(o.option) IN ('autovacuum_enabled=false', 'autovacuum_enabled=off', "
    "'autovacuum_enabled=0', 'autovacuum_enabled=no')) ORDER BY c.relname")


def settings_warnings(engine: Engine) -> list[str]:
    """What is wrong with the database server's settings (empty when nothing is, and on
    SQLite, which has no planner statistics to keep)."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        autovacuum = conn.exec_driver_sql("SHOW autovacuum").scalar()
        track_counts = conn.exec_driver_sql("SHOW track_counts").scalar()
        tables = list(conn.execute(_TABLES_WITHOUT_AUTOVACUUM,
                                   {"tables": list(GROWING)}).scalars())
    consequence = ("the planner's statistics are not refreshed as orders accumulate, and "
                   "prepared statements keep plans made for small tables (lookups by "
                   "billnumber read whole tables); run ANALYZE regularly or turn it on")
    warnings = []
    if autovacuum != "on" or track_counts != "on":
        warnings.append(f"PostgreSQL: autovacuum is {autovacuum} (track_counts "
                        f"{track_counts}): {consequence}")
    if tables:
        warnings.append(f"PostgreSQL: autovacuum is disabled on the table(s) "
                        f"{', '.join(tables)}: {consequence}")
    return warnings
