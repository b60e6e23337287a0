"""``scripts/bench settle``: settle a million due operations on PostgreSQL against the
emulator, and report operations per second and the peak memory of the worker.

The due operations are written straight into a fresh database (one-stage card payments
approved two days ago, so they are due at any cut-off) and their authorizations into the
emulator's ledger.  Then ``assist-ws worker --once --job settle`` runs as its own process --
as in production -- and the benchmark watches its peak resident memory (VmHWM).  At the end
the emulator's ledger must show every authorization settled exactly once.

Goal: >= 10,000 operations per second and <= 200 MB, whatever the number of operations.
Options: ``--operations N`` (default 1,000,000), ``--workers W`` (default 1),
``--batch-size B`` and ``--concurrency C`` (default: the worker's defaults), ``--keep``
(leave the database and the ledger for inspection).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import requests

from assist_ws.db.engine import make_engine
from assist_ws.db.migrate import upgrade
from assist_ws.services import admin

from ._due import import_authorizations, new_prefix, seed_due_payments
from .common import free_port

PG_URL = os.environ.get("ASSIST_BENCH_POSTGRES_URL",
                        "postgresql://postgres@127.0.0.1:5432/postgres")
MERCHANT = 100001
CENTER = "emulator-rub"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a running process has used."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def _backends(database: str) -> list[int]:
    """PostgreSQL backends serving ``database`` on this host (by their process titles)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    title = fh.read().decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres:") and f" {database} " in title:
                found.append(int(entry))
    return found


def _peak_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> None:
    ap = argparse.ArgumentParser(prog="scripts/bench settle", description=__doc__.split("\n")[0])
    ap.add_argument("--operations", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--concurrency", type=int)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    import psycopg
    from sqlalchemy.engine import make_url
    name = "assist_bench_" + new_prefix()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    tmp = tempfile.mkdtemp(prefix="assist-bench-settle-")
    ledger_path = os.path.join(tmp, "emulator.db")
    port = free_port()
    emulator = None
    try:
        print(f"database {name}, emulator ledger {ledger_path}")
        upgrade(url)
        engine = make_engine(url)
        from assist_ws.db.uow import SqlAlchemyUnitOfWork
        uow = SqlAlchemyUnitOfWork(engine)
        for cname, cur, partial, days in admin.DEMO_CENTERS:
            admin.add_center(uow, cname, f"http://127.0.0.1:{port}/{cname}?wsdl", cur,
                             partial_reversal=partial, hold_days=days)
        admin.save_merchant(uow, MERCHANT, admin.MerchantSettings(
            name="Bench", currencies=("RUB",), processing=(("RUB", CENTER),)), create=True)
        prefix = new_prefix()
        started = time.monotonic()
        seed_due_payments(engine, args.operations, prefix=prefix, merchant_id=MERCHANT,
                          center=CENTER, approved_at=datetime.now(timezone.utc)
                          - timedelta(days=2))
        seeded = time.monotonic()
        import_authorizations(ledger_path, CENTER, args.operations, prefix=prefix)
        print(f"seeded {args.operations:,} due operations in {seeded - started:.0f}s, "
              f"the emulator's authorizations in {time.monotonic() - seeded:.0f}s")
        engine.dispose()
        del uow

        emulator = subprocess.Popen(
            [sys.executable, "-m", "assist_ws.cli", "emulator", "--port", str(port),
             "--data", ledger_path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                requests.get(f"http://127.0.0.1:{port}/ledger?summary=1", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)

        env = dict(os.environ, ASSIST_DATABASE_URL=url, ASSIST_SECRET_KEY="bench",
                   ASSIST_VAR_DIR=tmp, ASSIST_LOG_LEVEL="WARNING")
        if args.batch_size:
            env["ASSIST_SETTLE_BATCH_SIZE"] = str(args.batch_size)
        if args.concurrency:
            env["ASSIST_SETTLE_CONCURRENCY"] = str(args.concurrency)
        started = time.monotonic()
        workers = [subprocess.Popen([sys.executable, "-m", "assist_ws.cli", "worker", "--once",
                                     "--job", "settle"], env=env)
                   for _ in range(args.workers)]
        peaks = [0.0] * len(workers)
        cpu = [0.0] * len(workers)
        emulator_cpu = _cpu_seconds(emulator.pid)
        database_cpu: dict[int, float] = {}
        while any(w.poll() is None for w in workers):
            for i, w in enumerate(workers):
                peak = _peak_mb(w.pid) if w.poll() is None else None
                if peak:
                    peaks[i] = max(peaks[i], peak)
                    cpu[i] = _cpu_seconds(w.pid)
            for pid in _backends(name):
                database_cpu[pid] = _cpu_seconds(pid) or database_cpu.get(pid, 0.0)
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        emulator_cpu = _cpu_seconds(emulator.pid) - emulator_cpu
        if any(w.returncode for w in workers):
            sys.exit(f"a worker failed: {[w.returncode for w in workers]}")

        summary = requests.get(f"http://127.0.0.1:{port}/ledger?summary=1&center={CENTER}",
                               timeout=60).json()["centers"][CENTER]
        expected = Decimal("100.00") * args.operations
        settled = Decimal(summary["settled"])
        check = engine = make_engine(url)
        with check.connect() as conn:
            from sqlalchemy import text
            fin = conn.execute(text(
                "SELECT count(*), count(DISTINCT operation_id) FROM transactions "
                "WHERE type = 'financial' AND state = 'success'")).one()
        engine.dispose()
        print(f"settled {fin[0]:,} operations ({fin[1]:,} payments) in {elapsed:.1f}s with "
              f"{args.workers} worker(s): {fin[0] / elapsed:,.0f} operations/s")
        print(f"peak memory per worker: {', '.join(f'{p:.0f} MB' for p in peaks)}")
        pg_cpu = sum(database_cpu.values())
        per = 1_000_000 / args.operations
        print(f"CPU seconds: worker(s) {sum(cpu):.1f}, emulator {emulator_cpu:.1f}, "
              f"PostgreSQL backends {pg_cpu:.1f} (per 1,000 operations: "
              f"{per * sum(cpu):.0f} ms, {per * emulator_cpu:.0f} ms, {per * pg_cpu:.0f} ms); "
              f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"emulator ledger: settled {settled} of {expected} RUB, still held "
              f"{summary['held']}")
        if settled != expected or fin[0] != args.operations or fin[1] != args.operations:
            sys.exit("MISMATCH: not every operation was settled exactly once")
    finally:
        if emulator is not None:
            emulator.terminate()
            emulator.wait(10)
        if not args.keep:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            shutil.rmtree(tmp, ignore_errors=True)
