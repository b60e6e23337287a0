"""Engines: URL normalization, SQLite pragmas and write locking, PostgreSQL defaults."""

from __future__ import annotations

import os
import weakref

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url

READONLY = "assist_readonly"
#: Every engine ``make_engine`` made in this process (see ``db.fork``).
_MADE: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def normalize_url(url: str | URL) -> URL:
    """A plain ``postgresql://`` URL uses the psycopg 3 driver the project installs."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u


def make_engine(url: str | URL, *, pool_size: int = 5, echo: bool = False) -> Engine:
    u = normalize_url(url)
    if u.get_backend_name() == "sqlite":
        path = u.database
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = create_engine(u, echo=echo, connect_args={"timeout": 30})
        _sqlite_setup(engine)
        _MADE.add(engine)
        return engine
    # JIT compilation pays off for long analytical queries, not for ours: a claim with
    # correlated subqueries looks costly to the planner and would spend most of a second
    # compiling what runs in milliseconds.
    engine = create_engine(u, echo=echo, pool_size=pool_size, max_overflow=10,
                           pool_pre_ping=True, connect_args={"options": "-c jit=off"})
    _MADE.add(engine)
    return engine


def made() -> list[Engine]:
    """The engines ``make_engine`` made in this process that are still in use."""
    return list(_MADE)


def _sqlite_setup(engine: Engine) -> None:
    """Foreign keys on, WAL, and explicit transactions: a writing unit of work starts with
    ``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing on lock upgrade."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get(READONLY):
            # The read models' hot path (``uow.queries``): straight on the driver.
            conn.connection.dbapi_connection.execute("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
