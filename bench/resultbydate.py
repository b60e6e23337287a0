"""``scripts/bench resultbydate``: results by date over a window of 1,000,000 operations on
PostgreSQL, in CSV (``Format=1``) and in SOAP, through gunicorn as ``assist-ws serve`` runs
it; rows per second and the server's peak memory.  Goal: >= 30,000 rows/s in CSV, <= 150 MB.

The operations (500,000 orders with a pay and a cancel operation each) are bulk-inserted
with SQL.  Memory is sampled every 50 ms while a reply streams: the peak resident size of
the worker that answers, and of gunicorn's master and workers together.  Rows per second of
the worker's CPU time are shown too: on a shared machine the steadier figure (PostgreSQL's
own CPU is not in it).

Options: ``--operations N`` (default 1,000,000, even), ``--workers N`` (default 2).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone

import requests

from .common import Gunicorn, children, memory_mb
from .ws import LOGIN, MERCHANT, PASSWORD, PG_URL, cpu_seconds, create_pg, drop_pg, prepare

NS = "http://www.paysecure.ru/ws/"


def bulk_insert(url: str, operations: int, *, merchant: int = MERCHANT, prefix: str = "RBD",
                bill_base: int = 3_000_000_000_000_000, per_order: int = 2,
                states: tuple[str, ...] = ("Canceled",), settle: bool = True
                ) -> tuple[datetime, datetime]:
    """``operations / per_order`` orders of ``merchant`` numbered ``prefix-1``, ..., each
    with a pay (100) and, with ``per_order`` 2, a cancel (300) operation, one order a second
    back from now, their states taken in turn from ``states``; then (``settle``) the tables
    vacuumed and analyzed.  The window that holds them all."""
    from sqlalchemy import create_engine, text

    from assist_ws.db.engine import normalize_url
    n = operations // per_order
    engine = create_engine(normalize_url(url))
    with engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO orders (bill_number, merchant_id, order_number, amount, currency, delay,
                language, state, payment_means, test_mode, center, created_at, updated_at,
                lastname, firstname, email)
            SELECT (:base + g)::text, :m, :prefix || '-' || g, 100 + (g % 1000), 'RUB',
                false, 'RU', (CAST(:states AS text[]))[1 + g % :k], '["card"]', true,
                'emulator-rub', (now() at time zone 'utc') - make_interval(secs => g),
                (now() at time zone 'utc') - make_interval(secs => g) + interval '1 minute',
                'Ivanov', 'Ivan', 'buyer' || g || '@example.com'
            FROM generate_series(1, :n) AS g"""),
            {"m": merchant, "n": n, "base": bill_base, "prefix": prefix,
             "states": list(states), "k": len(states)})
        conn.execute(text("""
            INSERT INTO operations (order_id, number, type, state, amount, currency, means,
                means_type, means_number, cardholder, card_expiry, response_code,
                approval_code, message, processing_name, auto_deposit, created_at, finished_at)
            SELECT o.id, v.n, CASE v.n WHEN 1 THEN 100 ELSE 300 END, 'Success', o.amount,
                'RUB', 'card', 'VISA', '411111******1111', 'IVAN IVANOV', '12/2030', 'AS000',
                CASE v.n WHEN 1 THEN 'A' || (o.id % 100000) END, 'approved', 'emulator-rub',
                false, o.created_at + make_interval(secs => v.n * 10),
                o.created_at + make_interval(secs => v.n * 10 + 1)
            FROM orders o CROSS JOIN generate_series(1, :per) AS v(n)
            WHERE o.merchant_id = :m AND o.order_number LIKE :like"""),
            {"m": merchant, "per": per_order, "like": prefix + "-%"})
    if settle:
        vacuum(engine)
    engine.dispose()
    end = datetime.now(timezone.utc) + timedelta(minutes=2)
    return end - timedelta(seconds=n + 3600), end


def vacuum(engine) -> None:
    """A settled table, as a day-old window would be: vacuumed, analyzed, in the cache."""
    from sqlalchemy import text

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE orders"))
        conn.execute(text("VACUUM ANALYZE operations"))
        conn.execute(text("SELECT count(*), sum(o.amount) FROM operations p "
                          "JOIN orders o ON o.id = p.order_id"))


def _window(start: datetime, end: datetime) -> dict:
    return {"StartYear": start.year, "StartMonth": start.month, "StartDay": start.day,
            "StartHour": start.hour, "StartMin": start.minute, "EndYear": end.year,
            "EndMonth": end.month, "EndDay": end.day, "EndHour": end.hour,
            "EndMin": end.minute}


class MemoryWatch:
    """Peak memory of a gunicorn tree while a reply streams, sampled every 50 ms: of the
    busiest worker (RSS) and of the server -- master and workers together -- as the sum of
    their PSS (shared pages counted once; the honest figure, as workers share the preloaded
    application with the master) and, for comparison, of their RSS (shared pages counted in
    every process)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak_worker = self.peak_pss = self.peak_rss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            workers = [memory_mb(p) for p in children(self.pid)]
            master = memory_mb(self.pid)
            self.peak_worker = max([self.peak_worker] + [rss for rss, _pss in workers])
            self.peak_rss = max(self.peak_rss, master[0] + sum(w[0] for w in workers))
            self.peak_pss = max(self.peak_pss, master[1] + sum(w[1] for w in workers))
            time.sleep(0.05)

    def __enter__(self) -> "MemoryWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def __str__(self) -> str:
        return (f"server {self.peak_pss:.0f} MB (PSS; RSS summed {self.peak_rss:.0f} MB), "
                f"a worker {self.peak_worker:.0f} MB (RSS)")


def _soap(creds: dict, window: dict) -> bytes:
    fields = {k.lower(): v for k, v in dict(creds, **window).items()}
    return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
            f'"http://schemas.xmlsoap.org/soap/envelope/" xmlns:ws="{NS}"><soapenv:Body>'
            f"<ws:resultbydate>"
            + "".join(f"<ws:{k}>{v}</ws:{k}>" for k, v in fields.items())
            + "</ws:resultbydate></soapenv:Body></soapenv:Envelope>").encode()


def fetch(url: str, data, headers: dict, marker: bytes) -> tuple[int, float, int]:
    """(rows, seconds, bytes): stream the reply, counting ``marker`` occurrences."""
    started = time.perf_counter()
    rows = size = 0
    tail = b""
    with requests.post(url, data=data, headers=headers, stream=True, timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_content(1 << 20):
            size += len(chunk)
            joined = tail + chunk   # a marker split between chunks is whole here, once
            rows += joined.count(marker)
            tail = joined[-(len(marker) - 1):] if len(marker) > 1 else b""
    return rows, time.perf_counter() - started, size


def main() -> None:
    p = argparse.ArgumentParser(prog=sys.argv[0])
    p.add_argument("--operations", type=int, default=1_000_000)
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args(sys.argv[1:])
    tmp = tempfile.mkdtemp(prefix="assist-bench-")
    url, name = create_pg(PG_URL)
    try:
        prepare(url, tmp, orders=0)
        t = time.perf_counter()
        start, end = bulk_insert(url, a.operations)
        print(f"inserted {a.operations} operations in {time.perf_counter() - t:.1f} s; "
              f"window {start:%d.%m.%Y %H:%M} - {end:%d.%m.%Y %H:%M} UTC")
        env = {"ASSIST_DATABASE_URL": url, "ASSIST_SECRET_KEY": "bench",
               "ASSIST_VAR_DIR": tmp, "ASSIST_LOG_LEVEL": "WARNING"}
        window = _window(start, end)
        creds = {"Merchant_ID": MERCHANT, "Login": LOGIN, "Password": PASSWORD}
        xml = {"Content-Type": "text/xml; charset=utf-8"}
        with Gunicorn("assist_ws.wsgi:app", workers=a.workers, env=env,
                      health_path="/health") as gw:
            target = gw.url + "/resultbydate/resultbydate.cfm"
            # Warm up both workers (the password check, the first request of each face and
            # query) with the last minutes: their idle memory is that of a worker that has
            # answered, and a reply's peak is the reply's own.
            recent = _window(end - timedelta(minutes=12), end)
            for _ in range(4):
                requests.post(target, data=dict(creds, Format="1", **recent), timeout=30)
                requests.post(target, data=_soap(creds, recent), headers=xml, timeout=30)
            with MemoryWatch(gw.proc.pid) as idle:
                time.sleep(0.2)
            print(f"gunicorn: {a.workers} workers, application preloaded; idle: {idle}")
            loads = [("CSV (Format=1)", dict(creds, Format="1", **window), {}, b"\n", 1),
                     ("SOAP", _soap(creds, window), xml, b"</tns:operation>", 0)]
            for label, data, headers, marker, header_rows in loads:
                cpu = cpu_seconds(gw.proc.pid)
                with MemoryWatch(gw.proc.pid) as mem:
                    rows, seconds, size = fetch(target, data, headers, marker)
                cpu = cpu_seconds(gw.proc.pid) - cpu
                rows -= header_rows
                print(f"{label:15s} {rows:>9,d} rows in {seconds:6.1f} s = "
                      f"{rows / seconds:>8,.0f} rows/s ({rows / max(cpu, 0.01):,.0f} per "
                      f"second of the worker's CPU), {size / 2**20:7.1f} MB sent; peak "
                      f"memory: {mem}")
                if rows != a.operations:
                    print(f"  expected {a.operations} rows!")
    finally:
        drop_pg(PG_URL, name)
        os.system(f"rm -rf {tmp}")
