"""Failed logins in the database, on SQLite and PostgreSQL: counted by many connections at
once without losing one, read with the login (the query is the same whether the login exists
or not), refusals kept, old keys deleted; and the migration that moved them off the user
row."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

from sqlalchemy import create_engine, inspect, text

from assist_ws.db.migrate import upgrade
from assist_ws.domain.records import FailureState, LoginKey, Window

from .conftest import MERCHANT


def key(login: str = "erp_user", merchant: int = MERCHANT) -> LoginKey:
    return LoginKey("test-" + uuid.uuid4().hex[:12], merchant, login)  # a client of its own


def count(gw, k: LoginKey, now, since=None) -> int:
    with gw.uow as uow:
        n = uow.login_failures.count(k, now, since or now - timedelta(days=1))
        uow.commit()
    return n


def state(gw, k: LoginKey) -> FailureState:
    with gw.uow.queries() as q:
        return q.login_failures.state(k)


def test_failures_counted_at_once_by_many_connections_are_all_counted(gw):
    k, now = key("nobody_" + uuid.uuid4().hex[:8]), gw.clock.now()
    threads, per_thread = 8, 5
    start = threading.Barrier(threads)
    seen: list[int] = []

    def fail():
        start.wait()
        for _ in range(per_thread):
            seen.append(count(gw, k, now))

    workers = [threading.Thread(target=fail) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert sorted(seen) == list(range(1, threads * per_thread + 1))  # each count once
    assert state(gw, k).failures == threads * per_thread


def test_counting_starts_again_after_the_window_and_forgets_the_refusal(gw):
    k, now = key(), gw.clock.now()
    assert [count(gw, k, now) for _ in range(3)] == [1, 2, 3]
    with gw.uow as uow:
        uow.login_failures.refuse(k, now + timedelta(minutes=15))
        uow.commit()
    assert state(gw, k) == FailureState(3, now + timedelta(minutes=15), None)
    later = now + timedelta(hours=2)
    assert count(gw, k, later, since=later - timedelta(hours=1)) == 1
    assert state(gw, k) == FailureState(1, None, None)
    with gw.uow as uow:
        uow.login_failures.clear(k)
        uow.commit()
    assert state(gw, k) == FailureState()


def test_the_login_query_reads_the_failures_of_known_and_unknown_logins(gw):
    now = gw.clock.now()
    window = Window(now - timedelta(days=1), now + timedelta(minutes=1))
    for k in (key(), key("nobody"), key("erp_user", 999999)):
        until = now + timedelta(seconds=4)
        count(gw, k, now)
        count(gw, k.of_client(), now)
        with gw.uow as uow:
            uow.login_failures.refuse(k.of_client(), until)
            uow.commit()
        with gw.uow.queries() as q:
            record, failures, found = q.orders.login_and_records(k, "NO-SUCH", window)
            alone = q.login_failures.state(k)
            login = q.users.login_record(k.merchant_id, k.login)
        assert failures == alone == FailureState(1, None, until)
        assert record == login and found == []
        assert (record is not None) == (k.login == "erp_user" and k.merchant_id == MERCHANT)


def test_old_keys_are_deleted_a_few_at_a_time_but_not_while_refused(gw):
    with gw.uow as uow:
        uow.session.execute(text("DELETE FROM login_failures"))
        uow.commit()
    old, now = gw.clock.now() - timedelta(days=2), gw.clock.now()
    keys = [key(f"old_{i}") for i in range(5)]
    for k in keys:
        count(gw, k, old)
    with gw.uow as uow:
        uow.login_failures.refuse(keys[0], now + timedelta(minutes=1))
        uow.commit()
    fresh = key("fresh")
    count(gw, fresh, now)
    with gw.uow as uow:
        assert uow.login_failures.purge(now - timedelta(days=1), now, 3) == 3
        assert uow.login_failures.purge(now - timedelta(days=1), now, 3) == 1
        assert uow.login_failures.purge(now - timedelta(days=1), now, 3) == 0
        uow.commit()
    assert state(gw, keys[0]).failures == 1 and state(gw, fresh).failures == 1
    assert [state(gw, k).failures for k in keys[1:]] == [0] * 4


def test_the_migration_moves_failures_off_the_user_row(empty_database):
    from assist_ws.db.engine import normalize_url
    upgrade(empty_database, "0005")
    engine = create_engine(normalize_url(empty_database))
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO merchants (merchant_id, name, base_currency, currencies, "
                "test_mode, timeout_minutes, check_order_code, two_stage, payment_means, "
                "processing, bonus_program, notify_protocol, notify_results, "
                "notify_only_success, notify_expected_reply, active) VALUES (5, 'Shop', "
                "'RUB', '[\"RUB\"]', false, 20, false, false, '[]', '{}', false, 'post', "
                "'[]', false, 'http200', true)"))
            conn.execute(text(
                "INSERT INTO merchant_users (merchant_id, login, password_hash, rights, "
                "active, failed_logins, locked_until) VALUES (5, 'erp', 'h', '[\"admin\"]', "
                "true, 3, NULL)"))
        upgrade(empty_database, "0007")
        columns = {c["name"] for c in inspect(engine).get_columns("merchant_users")}
        assert "failed_logins" not in columns and "locked_until" not in columns
        assert "login_failures" in inspect(engine).get_table_names()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT login, password_hash FROM merchant_users")).all() \
                == [("erp", "h")]
    finally:
        engine.dispose()
