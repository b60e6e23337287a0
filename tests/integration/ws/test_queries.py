"""The read-only units of work of the merchant queries (``uow.queries()``): the read models
on both databases, and on PostgreSQL the connection a sync worker keeps between requests,
which is dropped and replaced when it fails."""

from __future__ import annotations

import time
from datetime import timedelta


from assist_ws.domain.records import Window

from ..conftest import MERCHANT
from .conftest import paid_order


def test_read_models(gw):
    number, bill = paid_order(gw, "14.00")
    gw.cancel(MERCHANT, bill, None)
    now = gw.clock.now()
    window = Window(now - timedelta(minutes=5), now + timedelta(minutes=1))
    with gw.uow.queries() as q:
        login = q.users.login_record(MERCHANT, "erp_user")
        [order] = q.orders.records_by_order_number(MERCHANT, number, window,
                                                   with_operations=True)
        first = q.orders.operation_lines(MERCHANT, window, None, 1000)
        assert q.users.login_record(MERCHANT, "nobody") is None
    assert login.merchant_active and "admin" in login.rights and login.secret_word == "s3cret"
    assert order.bill_number == bill and order.state == "Canceled"
    assert [(o.bill_number, o.type) for o in order.operations] == [(f"{bill}.1", 100),
                                                                   (f"{bill}.2", 300)]
    keys = [line.key for line in first]
    assert keys == sorted(keys)
    # Pages continue after a key, whatever the page size.
    with gw.uow.queries() as q:
        paged, after = [], None
        while True:
            page = q.orders.operation_lines(MERCHANT, window, after, 2)
            paged += page
            if len(page) < 2:
                break
            after = page[-1].key
    assert [line.key for line in paged] == keys


def test_a_kept_connection_that_fails_is_replaced(gw, dialect):
    with gw.uow.queries() as q:
        kept = q._conn
    with gw.uow.queries() as q:
        assert q._conn is kept
    if dialect != "postgresql":
        return
    pid = kept.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    kept.rollback()
    with gw.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as other:
        other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
        for _ in range(50):  # the server's process ends (and says so to the connection)
            if not other.exec_driver_sql(
                    f"SELECT 1 FROM pg_stat_activity WHERE pid = {pid}").first():
                break
            time.sleep(0.05)
    with gw.uow.queries() as q:  # replaced before use: no failure seen
        assert q._conn is not kept
        assert q.users.login_record(MERCHANT, "erp_user") is not None
