"""Result notifications: what the outbox costs a state change, and how fast the worker
delivers.

``scripts/bench notify [--n 500] [--no-postgres]`` on SQLite and (when it answers at
ASSIST_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1/postgres) PostgreSQL:

1. commit time of a state change (an order becoming Approved) for a merchant without and
   with notifications — the outbox row is written in the same commit;
2. delivery to a local merchant endpoint (gunicorn, 2 workers): notifications per
   second for one worker pass at a time with 1 and 4 concurrent sends, and for two workers
   running passes at once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from datetime import timedelta

from assist_ws.bootstrap import build
from assist_ws.config import Settings
from assist_ws.db.migrate import upgrade
from assist_ws.domain.model import MeansType, OperationState, OperationType
from assist_ws.domain.states import OrderEvent
from assist_ws.jobs.notifications import run_once
from assist_ws.services import admin
from assist_ws.services.notifications.outbox import NotifySettings
from assist_ws.services.orders import AuthorizationRequest, create_order

from .common import Gunicorn, percentiles

PG_URL = os.environ.get("ASSIST_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1/postgres")


def _pg_database():
    try:
        import psycopg
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as conn:
            name = "assist_bench_" + uuid.uuid4().hex[:8]
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001
        print(f"  (PostgreSQL skipped: {exc})")
        return None, None
    from sqlalchemy.engine import make_url
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False), name


def _drop(name):
    import psycopg
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def approve_commits(c, merchant_id: int, n: int) -> list[float]:
    """Seconds per commit of an order becoming Approved (operation and order state change)."""
    bills = [create_order(c.uow, c.clock, AuthorizationRequest(
        str(merchant_id), f"B-{uuid.uuid4().hex[:10]}", "100.00", "RUB")).bill_number
        for _ in range(n)]
    times = []
    for bill in bills:
        started = time.perf_counter()
        with c.uow as uow:
            order = uow.orders.get(bill, lock=True)
            op = order.add_operation(OperationType.PAY, order.money, c.clock.now(),
                                     means=MeansType.CARD)
            op.means_type, op.means_number = "VISA", "411111******1111"
            op.finish(OperationState.SUCCESS, c.clock.now(), response_code="AS000")
            order.apply(OrderEvent.PAY_APPROVED, c.clock.now())
            uow.commit()
        times.append(time.perf_counter() - started)
    return times


def deliver_all(container, workers: int = 1) -> tuple[int, float]:
    tries = [0] * workers
    started = time.perf_counter()

    def work(i):
        while True:
            made = run_once(container)
            tries[i] += made
            if made == 0:
                return
    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(tries), time.perf_counter() - started


def requeue(c, merchant_id):
    now = c.clock.now()
    return c.replay_notifications(merchant_id, since=now - timedelta(days=1), until=now,
                                  limit=100000).count


def run(label: str, url: str, endpoint: str, n: int, var_dir: str) -> None:
    print(f"\n== {label}")
    upgrade(url)
    c = build(Settings(database_url=url, var_dir=var_dir, secret_key="bench",
                       notify_ports="*", notify_allow_private=True, notify_timeout=5))
    try:
        quiet, loud = 900001, 900002
        for mid, notify in ((quiet, None), (loud, NotifySettings(url=endpoint))):
            admin.save_merchant(c.uow, mid, admin.MerchantSettings(
                name=f"bench {mid}", currencies=("RUB",), secret_word="w", notify=notify),
                create=True, check_notify_url=c.notifier.check_url)
        approve_commits(c, quiet, 20)  # warm up
        approve_commits(c, loud, 20)
        off, on = [], []
        for _ in range(10):  # interleaved, so that drift hits both alike
            off += approve_commits(c, quiet, n // 10)
            on += approve_commits(c, loud, n // 10)
        hook, spent = c.uow.before_commit[0], []

        def timed(uow):
            started = time.perf_counter()
            hook(uow)
            spent.append(time.perf_counter() - started)
        c.uow.before_commit = [timed]
        approve_commits(c, loud, n // 2)
        c.uow.before_commit = [hook]
        print(f"  outbox hook inside the commit (includes the autoflush it causes): median "
              f"{statistics.median(spent) * 1000:.2f} ms, p95 "
              f"{percentiles([x * 1000 for x in spent], 95)[0]:.2f} ms")
        for name, t in (("without notifications", off), ("with notifications   ", on)):
            p50, p95 = percentiles([x * 1000 for x in t], 50, 95)
            print(f"  approve commit {name}: median {p50:.2f} ms, p95 {p95:.2f} ms, "
                  f"mean {statistics.mean(t) * 1000:.2f} ms")
        print(f"  outbox cost per state change: "
              f"{(statistics.median(on) - statistics.median(off)) * 1000:+.2f} ms (median)")
        for concurrency, workers in ((1, 1), (4, 1), (4, 2)):
            if requeue(c, loud) == 0:
                break
            worker = replace(c, notify_policy=replace(c.notify_policy, concurrency=concurrency))
            tries, seconds = deliver_all(worker, workers)
            print(f"  delivery, {workers} worker(s) x {concurrency} concurrent sends: {tries} "
                  f"notifications in {seconds:.2f} s = {tries / seconds:.0f}/s")
    finally:
        c.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="state changes / notifications")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with Gunicorn("bench._merchant:app", workers=2, health_path="/") as merchant, \
            tempfile.TemporaryDirectory() as tmp:
        endpoint = merchant.url + "/assist/result"
        run("SQLite", f"sqlite:///{tmp}/bench.db", endpoint, args.n, tmp)
        if not args.no_postgres:
            url, name = _pg_database()
            if url:
                try:
                    run("PostgreSQL", url, endpoint, args.n, tmp)
                finally:
                    _drop(name)
