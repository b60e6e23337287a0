"""``scripts/bench cabinet``: the merchant cabinet on PostgreSQL with 1,000,000 orders of one
merchant and 1,000,000 of another, through gunicorn as ``assist-ws serve`` runs it, signed in
as a browser is (a session cookie).

* p50/p95 of the orders monitor -- a first page computes the filter's totals too: the
  first page of one day (86,400 orders), a deep page (900,000 orders down the whole
  period), and an order number mask (``CAB-12345%``).  Goal: p95 <= 150 ms each.  The first
  page of the default period, 30 days (all 1,000,000 orders summed), is shown beside them.
* The export of 1,000,000 operations (the whole period) as CSV and as XLSX: rows per second
  (of the clock, and of the workers' CPU: the steadier figure on a shared machine) and the
  server's peak memory (master and workers, PSS summed; see
  ``bench.resultbydate.MemoryWatch``).  Goals: CSV >= 50,000 rows/s, XLSX >= 10,000 rows/s,
  memory <= 150 MB.

The orders (one a second back from now, each with its payment operation) are bulk-inserted
with SQL as ``scripts/bench resultbydate`` inserts its own (``resultbydate.bulk_insert``).

Options: ``--orders N`` (default 1,000,000 for each merchant), ``--samples N`` (requests
timed per monitor page, default 40), ``--workers N`` (default 2), ``--no-xlsx``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timedelta, timezone

import requests

from .common import Gunicorn, percentiles
from .resultbydate import MemoryWatch, bulk_insert
from .ws import LOGIN, MERCHANT, PASSWORD, PG_URL, cpu_seconds, create_pg, drop_pg, prepare

OTHER = MERCHANT + 1
STATES = ("Approved", "Delayed", "Approved", "Canceled", "Declined", "Approved")
GOAL_MS, GOAL_CSV, GOAL_XLSX, GOAL_MB = 150.0, 50_000, 10_000, 150.0


def seed(url: str, tmp: str, orders: int) -> None:
    from assist_ws.bootstrap import build
    from assist_ws.config import Settings
    from assist_ws.domain.model import Right
    from assist_ws.services import admin

    prepare(url, tmp, orders=0)
    c = build(Settings(database_url=url, secret_key="bench", var_dir=tmp))
    try:
        admin.add_user(c.uow, MERCHANT, LOGIN, PASSWORD, [Right.MONITOR, Right.EXPORT],
                       replace=True)
        admin.save_merchant(c.uow, OTHER, admin.MerchantSettings(
            name="Other shop", currencies=("RUB",)), create=True)
    finally:
        c.close()
    bulk_insert(url, orders, merchant=OTHER, prefix="OTH", bill_base=5_000_000_000_000_000,
                per_order=1, states=STATES, settle=False)
    bulk_insert(url, orders, merchant=MERCHANT, prefix="CAB",
                bill_base=4_000_000_000_000_000, per_order=1, states=STATES)


def deep_cursor(url: str, depth: int) -> str:
    """The monitor's ``after`` of the row ``depth`` rows down the merchant's orders."""
    from sqlalchemy import create_engine, text

    from assist_ws.db.engine import normalize_url
    engine = create_engine(normalize_url(url))
    with engine.connect() as conn:
        at, order_id = conn.execute(text(
            "SELECT created_at, id FROM orders WHERE merchant_id = :m "
            "ORDER BY created_at DESC, id DESC OFFSET :d LIMIT 1"),
            {"m": MERCHANT, "d": depth}).one()
    engine.dispose()
    return f"{at:%Y%m%dT%H%M%S.%f}_{order_id}"


def sign_in(base: str) -> requests.Session:
    s = requests.Session()
    page = s.get(base + "/account/login", timeout=30).text
    token = re.search(r'name="csrf" value="([^"]+)"', page)[1]
    r = s.post(base + "/account/login", data={"csrf": token, "merchant_id": str(MERCHANT),
                                               "login": LOGIN, "password": PASSWORD},
               allow_redirects=False, timeout=30)
    if r.status_code != 303:
        raise RuntimeError(f"sign-in refused: {r.status_code}")
    return s


def timed(s: requests.Session, url: str, samples: int, expect: str) -> tuple[float, float]:
    """p50 and p95 of GET ``url``, in ms (three requests first, not counted)."""
    times = []
    for i in range(samples + 3):
        started = time.perf_counter()
        r = s.get(url, timeout=60)
        elapsed = (time.perf_counter() - started) * 1000
        if r.status_code != 200 or expect not in r.text:
            raise RuntimeError(f"{url}: {r.status_code}")
        if i >= 3:
            times.append(elapsed)
    p50, p95 = percentiles(times, 50, 95)
    return p50, p95


def download(s: requests.Session, url: str, into: str) -> tuple[int, float, int]:
    """(CSV lines, seconds, bytes) of a streamed download written to ``into``."""
    started = time.perf_counter()
    lines = size = 0
    with s.get(url, stream=True, timeout=1200) as r, open(into, "wb") as out:
        r.raise_for_status()
        for chunk in r.iter_content(1 << 20):
            size += len(chunk)
            lines += chunk.count(b"\n")
            out.write(chunk)
    return lines, time.perf_counter() - started, size


def verdict(ok: bool) -> str:
    return "goal met" if ok else "GOAL MISSED"


def main() -> None:
    p = argparse.ArgumentParser(prog=sys.argv[0])
    p.add_argument("--orders", type=int, default=1_000_000)
    p.add_argument("--samples", type=int, default=40)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--no-xlsx", action="store_true")
    a = p.parse_args(sys.argv[1:])
    tmp = tempfile.mkdtemp(prefix="assist-bench-")
    url, name = create_pg(PG_URL)
    try:
        t = time.perf_counter()
        seed(url, tmp, a.orders)
        print(f"inserted {a.orders:,d} orders of merchant {MERCHANT} and {a.orders:,d} of "
              f"merchant {OTHER}, a payment each, in {time.perf_counter() - t:.0f} s")
        today = datetime.now(timezone.utc).date()
        day = today - timedelta(days=1)
        since = today - timedelta(days=29)
        period = f"from={since}&to={today}"
        depth = min(900_000, a.orders - 100)
        cursor = deep_cursor(url, depth)
        env = {"ASSIST_DATABASE_URL": url, "ASSIST_SECRET_KEY": "bench",
               "ASSIST_VAR_DIR": tmp, "ASSIST_LOG_LEVEL": "WARNING"}
        with Gunicorn("assist_ws.wsgi:app", workers=a.workers, env=env,
                      health_path="/health") as gw:
            s = sign_in(gw.url)
            pages = [
                (f"first page of a day ({day})", f"/account/orders?from={day}&to={day}"),
                (f"deep page ({depth:,d} down 30 days)", f"/account/orders?{period}"
                                                         f"&after={cursor}"),
                ("order number mask CAB-12345%", f"/account/orders?{period}"
                                                 f"&number=CAB-12345%25"),
            ]
            pages.append(("first page of 30 days (all orders)", f"/account/orders?{period}"))
            print(f"monitor, {a.samples} requests each (the last one: a quarter of them), the "
                  f"filter's totals on each first page:")
            for i, (label, path) in enumerate(pages):
                p50, p95 = timed(s, gw.url + path, a.samples if i < 3 else a.samples // 4,
                                 'class="order-row"')
                print(f"  {label:38s} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
                      f"{verdict(p95 <= GOAL_MS)}")
            with MemoryWatch(gw.proc.pid) as idle:
                time.sleep(0.2)
            print(f"idle: {idle}")
            exports = [("CSV", "csv", GOAL_CSV)] + ([] if a.no_xlsx else
                                                    [("XLSX", "xlsx", GOAL_XLSX)])
            for label, fmt, goal in exports:
                path = os.path.join(tmp, "export." + fmt)
                cpu = cpu_seconds(gw.proc.pid)
                with MemoryWatch(gw.proc.pid) as mem:
                    lines, seconds, size = download(
                        s, f"{gw.url}/account/export?{period}&format={fmt}", path)
                cpu = cpu_seconds(gw.proc.pid) - cpu
                if fmt == "csv":
                    rows = lines - 1
                else:
                    with zipfile.ZipFile(path) as book:  # a whole workbook
                        book.testzip()
                    rows = a.orders
                rate = rows / seconds
                print(f"export {label:4s} {rows:>9,d} operations in {seconds:6.1f} s = "
                      f"{rate:>8,.0f} rows/s ({verdict(rate >= goal)}; "
                      f"{rows / max(cpu, 0.01):,.0f} per second of the workers' CPU), "
                      f"{size / 2**20:6.1f} MB; peak memory: {mem} "
                      f"({verdict(mem.peak_pss <= GOAL_MB)})")
                os.remove(path)
    finally:
        drop_pg(PG_URL, name)
        os.system(f"rm -rf {tmp}")
