"""Alembic environment: runs migrations on the URL or connection ``migrate.upgrade`` gives."""

from __future__ import annotations

from alembic import context

from assist_ws.db.engine import driver_connection, make_engine
from assist_ws.db.tables import metadata

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _run(connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    raw = driver_connection(connection) if sqlite else None
    if raw is not None:
        # SQLite alters a table by copying it into a new one and dropping the old: with
        # foreign keys enforced, dropping a table other rows refer to fails.  They are off
        # while the migrations run (the pragma works outside a transaction only) and the
        # references are checked after them.
        raw.execute("PRAGMA foreign_keys=OFF")
    try:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=sqlite, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        if raw is not None:
            broken = raw.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migrations left rows that refer to nothing: {broken}")
    finally:
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `assist-ws db upgrade`")
run_migrations_online()
