"""``scripts/bench slow-center``: payments through the pages while the bank is slow, and an
ERP polling ``orderstate`` meanwhile.

The emulator answers every operation after ``--latency`` seconds (default 0.5; real banks take
0.2 to 3 s).  ``--buyers`` buyers (default 32) pay at once through the pages for ``--seconds``
(default 15), each one payment after another (``order.cfm`` -> card form -> card ``POST`` ->
back to the shop), in a client process of their own; an ERP in another process asks
``orderstate`` (SOAP) every 50 ms.  The gateway runs as ``assist-ws serve`` ships it
(``--worker-class sync`` and ``--threads`` reproduce other serving models, for comparison).

Reported: payments per second against the ideal (buyers / latency: every buyer always waiting
for the bank and for nothing else), the payments' latency, the ERP's p50/p99 during the run,
and the server's memory (master and workers, the sum of their PSS, sampled every 0.5 s: the
peak).  Goals with a 0.5 s center: payments >= 0.6 x ideal, ``orderstate`` p99 <= 100 ms.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import tempfile
import threading
import time


from bench.common import EmulatorProcess, Gunicorn, children, memory_mb, percentiles
from bench.pay import MERCHANT, Browser, _database, _drop, _one_payment, _seed

LOGIN, PASSWORD = "bench_erp", "BenchPass123"
SOAP = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
        '"http://schemas.xmlsoap.org/soap/envelope/" xmlns:ws="http://www.paysecure.ru/ws/">'
        '<soapenv:Body><ws:orderstate><ws:ordernumber>{number}</ws:ordernumber>'
        '<ws:merchant_id>{merchant}</ws:merchant_id><ws:login>{login}</ws:login>'
        '<ws:password>{password}</ws:password></ws:orderstate></soapenv:Body>'
        '</soapenv:Envelope>')


def _buyers(base: str, buyers: int, seconds: float, warmup: float, out) -> None:
    """``buyers`` threads paying one payment after another; what ended inside the window."""
    start = time.monotonic()
    window = (start + warmup, start + warmup + seconds)
    lock = threading.Lock()
    done: list[float] = []
    errors: list[str] = []

    def buyer():
        http = Browser(base)
        while time.monotonic() < window[1]:
            t0 = time.monotonic()
            try:
                _one_payment(http)
            except Exception as exc:  # noqa: BLE001 - counted and shown
                with lock:
                    errors.append(repr(exc)[:200])
                time.sleep(0.2)
                continue
            t1 = time.monotonic()
            if window[0] <= t1 <= window[1]:
                with lock:
                    done.append(t1 - t0)

    threads = [threading.Thread(target=buyer) for _ in range(buyers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put({"latencies": done, "errors": errors[:5], "error_count": len(errors)})


def _erp(base: str, number: str, seconds: float, warmup: float, out) -> None:
    """An ERP asking ``orderstate`` every 50 ms on one kept-alive connection."""
    host, port = base.split("//")[1].split(":")
    body = SOAP.format(number=number, merchant=MERCHANT, login=LOGIN,
                       password=PASSWORD).encode()
    start = time.monotonic()
    window = (start + warmup, start + warmup + seconds)
    samples, errors = [], []
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    while time.monotonic() < window[1]:
        t0 = time.monotonic()
        try:
            conn.request("POST", "/orderstate/orderstate.cfm", body=body,
                         headers={"Content-Type": "text/xml; charset=utf-8",
                                  "SOAPAction": '"orderstate"'})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200 or b"orderstate" not in data:
                raise RuntimeError(f"orderstate answered {resp.status}")
        except Exception as exc:  # noqa: BLE001 - counted and shown
            errors.append(repr(exc)[:200])
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
        t1 = time.monotonic()
        if window[0] <= t1 <= window[1]:
            samples.append(t1 - t0)
        time.sleep(max(0.0, 0.05 - (time.monotonic() - t0)))
    out.put({"latencies": samples, "errors": errors[:5], "error_count": len(errors)})


def _pss(pid: int) -> float:
    return sum(memory_mb(p)[1] for p in [pid, *children(pid)])


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench slow-center",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--buyers", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, help="threads per worker (default: as shipped)")
    parser.add_argument("--worker-class", help="e.g. sync: the serving model before threads")
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--history", type=int, default=20_000)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="assist-bench-slow-")
    url, pg_name = _database(tmp, args.sqlite)
    try:
        with EmulatorProcess(f"{tmp}/emulator.db", args.latency) as emulator:
            emulator_url = emulator.url
            _seed(url, emulator_url, args.history)
            from assist_ws.bootstrap import build
            from assist_ws.config import Settings
            from assist_ws.domain.model import Right
            from assist_ws.services import admin
            c = build(Settings(database_url=url, secret_key="bench"))
            admin.add_user(c.uow, MERCHANT, LOGIN, PASSWORD, [Right.MONITOR])
            c.close()
            env = {"ASSIST_DATABASE_URL": url, "ASSIST_SECRET_KEY": "bench",
                   "ASSIST_VAR_DIR": tmp, "ASSIST_LOG_LEVEL": "WARNING"}
            extra = ("--worker-class", args.worker_class) if args.worker_class else ()
            with Gunicorn("assist_ws.wsgi:app", workers=args.workers, threads=args.threads,
                          env=env, health_path="/health", extra=extra) as gateway:
                http = Browser(gateway.url)
                _one_payment(http)  # an order for the ERP to ask about, and a warm server
                number = _last_order_number(url)
                model = args.worker_class or "threaded (as shipped)"
                print(f"slow-center: emulator latency {args.latency:g} s, {args.buyers} buyers "
                      f"for {args.seconds:g} s, an ERP polling orderstate every 50 ms; gunicorn "
                      f"{args.workers} workers, {model}"
                      f"{f', {args.threads} threads' if args.threads else ''}; "
                      f"{'PostgreSQL' if pg_name else 'SQLite'}, {os.cpu_count()} CPUs, load "
                      f"average {os.getloadavg()[0]:.1f}")
                ctx = multiprocessing.get_context("spawn")
                pay_out, erp_out = ctx.Queue(), ctx.Queue()
                warmup = 2.0
                procs = [ctx.Process(target=_buyers, args=(gateway.url, args.buyers,
                                                           args.seconds, warmup, pay_out)),
                         ctx.Process(target=_erp, args=(gateway.url, number, args.seconds,
                                                        warmup, erp_out))]
                for p in procs:
                    p.start()
                peak = 0.0
                while any(p.is_alive() for p in procs) and pay_out.empty():
                    peak = max(peak, _pss(gateway.proc.pid))
                    time.sleep(0.5)
                pay = pay_out.get(timeout=args.seconds + 300)
                erp = erp_out.get(timeout=60)
                for p in procs:
                    p.join()
            ideal = args.buyers / args.latency
            rate = len(pay["latencies"]) / args.seconds
            p50, p99 = (x * 1000 for x in percentiles(pay["latencies"], 50, 99))
            e50, e99 = (x * 1000 for x in percentiles(erp["latencies"], 50, 99))
            print(f"  payments        {rate:7.1f}/s   ideal {ideal:.1f}/s   ratio "
                  f"{rate / ideal:.2f} (goal >= 0.6: {'met' if rate >= 0.6 * ideal else 'NOT met'})   latency p50 "
                  f"{p50:.0f} ms p99 {p99:.0f} ms   errors {pay['error_count']}")
            print(f"  ERP orderstate  {len(erp['latencies'])} calls   p50 {e50:.1f} ms   p99 "
                  f"{e99:.1f} ms (goal <= 100 ms: {'met' if e99 <= 100 else 'NOT met'})   errors "
                  f"{erp['error_count']}")
            for e in pay["errors"] + erp["errors"]:
                print(f"      {e}")
            print(f"  server memory (master + workers, PSS) peak {peak:.0f} MB")
    finally:
        _drop(pg_name)


def _last_order_number(url: str) -> str:
    from sqlalchemy import select

    from assist_ws.bootstrap import build
    from assist_ws.config import Settings
    from assist_ws.domain.model import Order
    c = build(Settings(database_url=url, secret_key="bench"))
    with c.uow.reader() as uow:
        number = uow.session.scalar(select(Order.order_number).where(
            Order.order_number.like("B-%")).order_by(Order.id.desc()).limit(1))
    c.close()
    return number


if __name__ == "__main__":
    main()
