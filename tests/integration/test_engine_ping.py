"""The PostgreSQL engine: connections are pinged when they come out of the pool after lying
idle (or after the server spoke to them), not before every unit of work, and one the server
dropped meanwhile is replaced unseen; its cursors describe their columns as psycopg's do (only later)."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import exc, text

from assist_ws.db.engine import make_engine

from ..support import PG_ADMIN_URL, create_pg_database, drop_pg_database, require_postgres


@pytest.fixture
def pg_url():
    require_postgres()
    url, name = create_pg_database()
    yield url
    drop_pg_database(name)


def _pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar()


def _kill(pid: int) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _counting_pings(engine, monkeypatch) -> list:
    pings: list = []
    real = engine.dialect.do_ping

    def ping(dbapi_conn):
        pings.append(dbapi_conn)
        return real(dbapi_conn)
    monkeypatch.setattr(engine.dialect, "do_ping", ping)
    return pings


def test_a_busy_connection_is_not_pinged(pg_url, monkeypatch):
    engine = make_engine(pg_url, pool_size=1, ping_after_idle=60)
    pings = _counting_pings(engine, monkeypatch)
    pids = {_pid(engine) for _ in range(5)}
    assert len(pids) == 1 and pings == []
    engine.dispose()


def test_a_connection_dropped_while_idle_is_replaced(pg_url, monkeypatch):
    engine = make_engine(pg_url, pool_size=1, ping_after_idle=0)
    pings = _counting_pings(engine, monkeypatch)
    first = _pid(engine)
    _kill(first)
    second = _pid(engine)  # pinged, found dead, replaced: the caller sees nothing
    assert second != first and len(pings) >= 1
    engine.dispose()


def test_a_connection_the_server_terminated_is_replaced_unseen_however_briefly_idle(pg_url):
    engine = make_engine(pg_url, pool_size=1, ping_after_idle=60)  # no ping for idleness
    first = _pid(engine)
    _kill(first)  # the server says so before it closes the connection
    import time
    time.sleep(0.3)  # (the termination is a signal to the server's process: it takes a moment)
    assert _pid(engine) != first
    engine.dispose()


def test_a_connection_dropped_while_busy_fails_once_then_the_pool_recovers(pg_url):
    import threading
    import time
    engine = make_engine(pg_url, pool_size=1, ping_after_idle=60)
    first = _pid(engine)
    killer = threading.Timer(0.5, _kill, (first,))
    killer.start()
    with pytest.raises(exc.DBAPIError):
        with engine.connect() as conn:  # busy when the server drops it
            conn.execute(text("SELECT pg_sleep(5)"))
    killer.join()
    started = time.monotonic()
    assert _pid(engine) != first and time.monotonic() - started < 2
    engine.dispose()


def test_the_cursor_describes_columns_as_psycopg_does(pg_url):
    engine = make_engine(pg_url, pool_size=1)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.execute("SELECT 1 AS one, 'x'::text AS two, now() AS three")
            described = cur.description
            with psycopg.Cursor(raw) as plain:
                plain.execute("SELECT 1 AS one, 'x'::text AS two, now() AS three")
                expected = plain.description
            assert len(described) == 3
            assert [tuple(c) for c in described] == [tuple(c) for c in expected]
            assert [c.name for c in described] == ["one", "two", "three"]
            assert described[-1].type_code == expected[2].type_code
            assert [c.name for c in described[1:]] == ["two", "three"]
            cur.execute("SET search_path TO public")
            assert cur.description is None
        rows = conn.execute(text("SELECT 1 AS a, 2 AS b")).mappings().all()
        assert rows == [{"a": 1, "b": 2}]
    engine.dispose()
