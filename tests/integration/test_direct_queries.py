"""The read models' hot statements run straight on the driver (``db.direct``): the same rows
and values as through SQLAlchemy's execution, the same errors; and ``uow.queries()`` on the
kept connection of the main thread, on SQLite one snapshot per block begun on the driver."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, column, select, table
from sqlalchemy.exc import DBAPIError

from assist_ws.db import repositories
from assist_ws.db.direct import DirectQuery
from assist_ws.db.tables import orders
from assist_ws.domain.records import LoginKey, Window
from assist_ws.services.orders import AuthorizationRequest, create_order

from .conftest import MERCHANT
from .ws.conftest import paid_order


def attempt(gw, number: str, amount: str) -> None:
    """Another payment attempt (not paid) of an order number."""
    create_order(gw.uow, gw.clock, AuthorizationRequest(str(MERCHANT), number, amount, "RUB"))


@pytest.fixture
def params(gw):
    number, bill = paid_order(gw, "12.34")
    gw.cancel(MERCHANT, bill, None)
    attempt(gw, number, "5.00")
    now = gw.clock.now()
    return {"m": MERCHANT, "l": "erp_user", "c": "127.0.0.1", "n": number,
            "s": now - timedelta(days=1), "e": now + timedelta(minutes=1)}


@pytest.mark.parametrize("name", ["_LOGIN", "_LOGIN_AND_ORDERS", "_BY_NUMBER"])
def test_the_same_rows_as_through_sqlalchemy(gw, params, name):
    query: DirectQuery = getattr(repositories, name)
    with gw.engine.connect() as conn:
        expected = [tuple(row) for row in conn.execute(query.stmt, params)]
        direct = query.rows(conn, params)
        again = query.rows(conn, params)  # the plan and the loaders found, now reused
    assert direct == expected == again and len(direct) == (1 if name == "_LOGIN" else 2)
    for a, b in zip(direct[0], expected[0]):
        assert type(a) is type(b)
    row = direct[0]
    if name != "_BY_NUMBER":
        # _LOGIN_AND_ORDERS has the rights as their JSON text (decoded once, not per row)
        rights = json.loads(row[1]) if name == "_LOGIN_AND_ORDERS" else row[1]
        assert set(rights) == {"monitor", "confirm", "cancel", "export", "admin"}
        assert row[2] is True and row[3] is True
    if name != "_LOGIN":
        created, amount = row[-2], row[-11]
        assert created.tzinfo == timezone.utc and amount == Decimal("12.34")
        assert isinstance(amount, Decimal)


@pytest.mark.parametrize("batch", [1, 2])
def test_rows_come_whole_whatever_the_driver_batch(gw, params, monkeypatch, batch):
    """Rows are taken from the driver a batch at a time: a result of several batches (and
    one that ends on a full batch) comes whole and in order."""
    from assist_ws.db import direct
    query: DirectQuery = repositories._BY_NUMBER
    with gw.engine.connect() as conn:
        expected = query.rows(conn, params)
        monkeypatch.setattr(direct, "_BATCH", batch)
        assert query.rows(conn, params) == expected and len(expected) == 2


def test_the_read_models_read_through_it(gw, params):
    window = Window(params["s"], params["e"])
    key = LoginKey("127.0.0.1", MERCHANT, "erp_user")
    with gw.uow.queries() as q:
        record, state, found = q.orders.login_and_records(key, params["n"], window)
        same = q.orders.records_by_order_number(MERCHANT, params["n"], window)
        login = q.users.login_record(MERCHANT, "erp_user")
        failures = q.login_failures.state(key)
    assert [o.amount for o in found] == [Decimal("12.34"), Decimal("5.00")]
    assert same == found and login == record and login.secret_word == "s3cret"
    assert state == failures


def test_driver_errors_are_sqlalchemy_errors(gw):
    broken = DirectQuery(select(column("x")).select_from(table("no_such_table")))
    with gw.engine.connect() as conn:
        with pytest.raises(DBAPIError):
            broken.rows(conn, {})
        conn.rollback()
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1  # the connection is still good


def test_only_plain_bind_parameters(gw):
    listed = DirectQuery(select(orders.c.id).where(orders.c.id.in_(bindparam("ids",
                                                                          expanding=True))))
    with gw.engine.connect() as conn:
        with pytest.raises(ValueError, match="only plain bind parameters"):
            listed.rows(conn, {"ids": [1, 2]})
        fixed = DirectQuery(select(orders.c.id).where(orders.c.id == -5))  # a value held
        assert fixed.rows(conn, {}) == []


def test_a_queries_block_is_one_snapshot_on_sqlite(gw, dialect, params):
    window = Window(params["s"], params["e"])
    with gw.uow.queries() as q:
        before = q.orders.records_by_order_number(MERCHANT, params["n"], window)
        attempt(gw, params["n"], "7.00")  # another connection commits meanwhile
        during = q.orders.records_by_order_number(MERCHANT, params["n"], window)
        driver = q._conn.connection.dbapi_connection
    with gw.uow.queries() as q:
        after = q.orders.records_by_order_number(MERCHANT, params["n"], window)
        assert q._conn.connection.dbapi_connection is driver  # the kept connection
    assert len(after) == len(before) + 1
    if dialect == "sqlite":
        assert during == before  # one snapshot for the block
        assert not driver.in_transaction  # and it ended with the block
    else:
        assert len(during) == len(after)  # autocommit: each query sees what is committed


def test_a_block_on_another_thread_does_not_keep_its_connection(gw, params):
    import threading
    seen = []

    def read():
        with gw.uow.queries() as q:
            seen.append((q._keep, q.users.login_record(MERCHANT, "erp_user") is not None))
    t = threading.Thread(target=read)
    t.start()
    t.join()
    assert seen == [(False, True)]


def test_request_threads_keep_their_connection_as_many_as_the_pool_keeps(gw, params):
    import threading

    from assist_ws.db.uow import keep_connections
    size = gw.engine.pool.size()
    together = threading.Barrier(size + 2)
    kept, again = [], []

    def request_thread():
        keep_connections()
        try:
            with gw.uow.queries() as q:
                kept.append(q._keep)
                first = q._conn
                together.wait(10)  # every thread holds its connection at once
            together.wait(10)
            with gw.uow.queries() as q:
                again.append(q._conn is first if q._keep else None)
        finally:
            keep_connections(False)  # gives its place back

    threads = [threading.Thread(target=request_thread) for _ in range(size + 2)]
    keep_connections(False)  # the main thread gives back its place for the while
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        keep_connections()
    assert sorted(kept) == [False, False] + [True] * size
    assert again.count(True) == size  # the same connection, the next time
    with gw.uow.queries() as q:  # every place given back: the main thread keeps again
        assert q._keep


def test_times_and_amounts_keep_their_types(gw, params):
    # Bind parameters go through the types' processors: an aware datetime in, the same out.
    start = datetime(2000, 1, 1, tzinfo=timezone.utc)
    with gw.engine.connect() as conn:
        rows = repositories._BY_NUMBER.rows(conn, dict(params, s=start))
    assert rows and all(r[-2] > start for r in rows)


def test_a_kept_connection_the_server_terminated_is_replaced_unseen(gw, dialect):
    if dialect != "postgresql":
        pytest.skip("a server to terminate connections is PostgreSQL's")
    import time

    import psycopg

    from ..support import PG_ADMIN_URL
    with gw.uow.queries() as q:
        assert q._keep
        pid = q._conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    time.sleep(0.3)
    with gw.uow.queries() as q:  # no failure seen: a new connection, kept in its place
        assert q.users.login_record(MERCHANT, "erp_user") is not None
        assert q._keep and q._conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
