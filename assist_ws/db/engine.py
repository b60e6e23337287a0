"""Engines: URL normalization, SQLite pragmas and write locking, PostgreSQL defaults."""

from __future__ import annotations

import os
import select
import time
import weakref
from collections.abc import Sequence
from typing import Any

from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import URL, Connection, Engine, make_url

READONLY = "assist_readonly"
#: Every engine ``make_engine`` made in this process (see ``db.fork``).
_MADE: "weakref.WeakSet[Engine]" = weakref.WeakSet()

#: A pooled PostgreSQL connection idle longer than this (seconds) is pinged before use.
PING_AFTER_IDLE = 5.0


def normalize_url(url: str | URL) -> URL:
    """A plain ``postgresql://`` URL uses the psycopg 3 driver the project installs."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u


def make_engine(url: str | URL, *, pool_size: int = 5, max_overflow: int = 10,
                echo: bool = False, ping_after_idle: float = PING_AFTER_IDLE) -> Engine:
    """An engine whose pool keeps ``pool_size`` connections and opens up to ``max_overflow``
    more while they are needed (a thread asking beyond both waits for one to come back).

    Statements' parameters -- the buyer's name and e-mail among them -- appear in no log
    line and no error message (``hide_parameters``), whatever logging an operator turns
    on."""
    u = normalize_url(url)
    if u.get_backend_name() == "sqlite":
        path = u.database
        pool = {}
        if path and path != ":memory:" and not path.startswith("file:"):
            _private_file(path)
            pool = {"pool_size": pool_size, "max_overflow": max_overflow}
        engine = create_engine(u, echo=echo, hide_parameters=True,
                               connect_args={"timeout": 30}, **pool)
        _sqlite_setup(engine)
        _MADE.add(engine)
        return engine
    # JIT compilation pays off for long analytical queries, not for ours: a claim with
    # correlated subqueries looks costly to the planner and would spend most of a second
    # compiling what runs in milliseconds.
    engine = create_engine(u, echo=echo, hide_parameters=True, pool_size=pool_size,
                           max_overflow=max_overflow, connect_args={"options": "-c jit=off",
                                         "cursor_factory": _psycopg_cursor()})
    _ping_when_idle(engine, ping_after_idle)
    _MADE.add(engine)
    return engine


def _private_file(path: str) -> None:
    """Create a new SQLite database file readable and writable by its owner only (SQLite
    gives its journal files the same mode); an existing file is left as it is."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def driver_connection(connection: Connection) -> Any:
    """The driver's own connection under ``connection`` (psycopg's or sqlite3's), for what
    SQLAlchemy does not offer: COPY, pragmas outside a transaction, a bare cursor."""
    found = connection.connection.dbapi_connection
    if found is None:
        raise RuntimeError("the connection was closed")
    return found


def made() -> list[Engine]:
    """The engines ``make_engine`` made in this process that are still in use."""
    return list(_MADE)


def _psycopg_cursor():
    """psycopg's cursor, with a ``description`` that describes a column only when asked.

    psycopg builds a ``Column`` (with a lookup in its type registry) for every column of the
    result each time ``description`` is read, and SQLAlchemy reads it after every statement,
    even when it knows the statement's columns already (then it only asks whether there are
    any).  For the wide rows of orders that was a fifth of the CPU a payment spent in the
    database layer.  The entries are psycopg's own ``Column`` objects, built on first use."""
    import psycopg
    from psycopg.pq import ExecStatus

    tuples = (ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK)

    class Description(Sequence):
        __slots__ = ("_cursor", "_columns")

        def __init__(self, cursor, count: int):
            self._cursor, self._columns = cursor, [None] * count

        def __len__(self) -> int:
            return len(self._columns)

        def __getitem__(self, index):
            if isinstance(index, slice):
                return [self[i] for i in range(*index.indices(len(self._columns)))]
            column = self._columns[index]
            if column is None:
                column = self._columns[index] = psycopg.Column(
                    self._cursor, range(len(self._columns))[index])
            return column

        def __eq__(self, other):
            return list(self) == other

        def __repr__(self) -> str:
            return repr(list(self))

    class Cursor(psycopg.Cursor):
        @property
        def description(self):
            res = self.pgresult
            if res and (res.nfields or res.status in tuples):
                return Description(self, res.nfields)
            return None

    return Cursor


def _server_spoke(dbapi_conn) -> bool:
    """True when the server has sent something to a connection nobody is using: what it
    sends before it closes one (an administrator's termination, a shutdown).  A poll of the
    socket, no round trip; a connection without one (SQLite) never has."""
    fileno = getattr(dbapi_conn, "fileno", None)
    if fileno is None:
        return False
    try:
        poll = select.poll()
        poll.register(fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poll.poll(0))
    except (OSError, ValueError, TypeError):
        return True


def usable(engine: Engine, dbapi_conn, idle_since: float | None,
           idle: float = PING_AFTER_IDLE) -> bool:
    """Whether a connection that lay unused since ``idle_since`` may be used without more
    ado: yes unless it lay longer than ``idle`` seconds (a server restart, an idle timeout
    or a proxy may have closed it meanwhile) or the server spoke to it meanwhile; then it is
    pinged, and False when the ping fails."""
    if idle_since is not None and time.monotonic() - idle_since <= idle and \
            not _server_spoke(dbapi_conn):
        return True
    try:
        engine.dialect.do_ping(dbapi_conn)
    except Exception:  # noqa: BLE001 - any failure: not usable
        return False
    return True


def _ping_when_idle(engine: Engine, idle: float) -> None:
    """Pessimistic disconnect handling without a round trip per checkout: a connection is
    pinged only when it has lain in the pool longer than ``idle`` seconds (where a server
    restart, an idle timeout or a proxy may have closed it), or when the server sent it
    something meanwhile (as it does when it terminates it); one that fails is replaced.
    (``pool_pre_ping`` would ping before every unit of work: a busy server's connections
    are never idle.)  A connection that breaks while in use fails its statement, and
    SQLAlchemy then replaces every connection of the pool older than the failure."""

    @event.listens_for(engine, "connect")
    def _new(_dbapi_conn, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _back(_dbapi_conn, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _out(dbapi_conn, record, _proxy):
        if not usable(engine, dbapi_conn, record.info.get("idle_since"), idle):
            raise exc.DisconnectionError("stale pooled connection")


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
