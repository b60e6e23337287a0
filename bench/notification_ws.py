"""``scripts/bench notification_ws``: the notification web services at their largest request
— 10,000 notifications, the most one request may take — on SQLite and (when it answers at
ASSIST_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1/postgres) PostgreSQL.

For ``/notification/undelivered.cfm`` (every notification tried once, so the last-try
lookup is in it) in SOAP, CSV, XML and JSON, and for ``/notification/replay.cfm`` of a
window holding all of them (SOAP): seconds per request (median of ``--rounds``), rows per
second and the peak Python memory of one request (tracemalloc), the WSGI application called
in this process (no HTTP, no gunicorn: the service's own cost).

Options: ``--n N`` notifications (default 10000), ``--rounds N`` (default 3),
``--no-postgres``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
import uuid
from datetime import timedelta

from assist_ws.bootstrap import build
from assist_ws.config import Settings
from assist_ws.db.migrate import upgrade
from assist_ws.domain.model import Right
from assist_ws.domain.notifications import (DeliveryAttempt, Notification, ResultKind,
                                            Verdict)
from assist_ws.services import admin
from assist_ws.services.notifications.merchant import LIMIT
from assist_ws.services.notifications.outbox import NotifySettings
from assist_ws.services.orders import AuthorizationRequest, create_order
from assist_ws.wsgi import create_app

from .notify import _drop, _pg_database

MERCHANT, LOGIN, PASSWORD = 700003, "bench_notify", "BenchPass123"
NS = "http://www.paysecure.ru/ws/"
PER_ORDER = 50


def _seed(c, n: int) -> None:
    admin.save_merchant(c.uow, MERCHANT, admin.MerchantSettings(
        name="Bench shop", currencies=("RUB",), secret_word="w",
        notify=NotifySettings(url="https://shop.example/assist")), create=True)
    admin.add_user(c.uow, MERCHANT, LOGIN, PASSWORD, [Right.MONITOR])
    now = c.clock.now()
    for start in range(0, n, PER_ORDER):
        order = create_order(c.uow, c.clock, AuthorizationRequest(
            str(MERCHANT), "N-" + uuid.uuid4().hex[:10], "100.00", "RUB"))
        with c.uow as uow:
            found = uow.orders.get(order.bill_number)
            rows = []
            for seq in range(1, min(PER_ORDER, n - start) + 1):
                note = Notification(MERCHANT, found.id, order.bill_number, order.order_number,
                                    seq, ResultKind.PAY, False, None, 100, "Timeout",
                                    {"kind": "pay", "order": {}, "operations": []}, now)
                note.record(Verdict.FAILED, now, timedelta(days=3), "HTTP 500")
                uow.notifications.add(note)
                rows.append(note)
            uow.flush()
            for note in rows:
                uow.notifications.add_attempt(DeliveryAttempt(
                    note.id, 1, now, "https://shop.example/assist", Verdict.FAILED, 12, 500,
                    "oops"))
            uow.commit()


def _requests(c):
    auth = (f"<ws:merchant_id>{MERCHANT}</ws:merchant_id><ws:login>{LOGIN}</ws:login>"
            f"<ws:password>{PASSWORD}</ws:password>")
    day = c.clock.now() - timedelta(days=1)
    window = (f"<ws:startyear>{day.year}</ws:startyear><ws:startmonth>{day.month}"
              f"</ws:startmonth><ws:startday>{day.day}</ws:startday>")

    def soap(op, inner=""):
        return ("text/xml", f'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/'
                f'soap/envelope/" xmlns:ws="{NS}"><soapenv:Body><ws:{op}>{auth}{inner}'
                f"</ws:{op}></soapenv:Body></soapenv:Envelope>".encode())

    form = {"Merchant_ID": str(MERCHANT), "Login": LOGIN, "Password": PASSWORD}
    return [
        ("undelivered SOAP", "/notification/undelivered.cfm", soap("undelivered")),
        ("undelivered CSV", "/notification/undelivered.cfm", dict(form, Format="1")),
        ("undelivered XML", "/notification/undelivered.cfm", dict(form, Format="3")),
        ("undelivered JSON", "/notification/undelivered.cfm", dict(form, Format="5")),
        ("replay window SOAP", "/notification/replay.cfm", soap("replay", window)),
    ]


def _call(client, path, body):
    if isinstance(body, dict):
        r = client.post(path, data=body)
    else:
        r = client.post(path, data=body[1], content_type=body[0])
    assert r.status_code == 200, r.data[:500]
    return r.data


def _run(label: str, url: str, n: int, rounds: int) -> None:
    upgrade(url)
    with tempfile.TemporaryDirectory() as var:
        c = build(Settings(database_url=url, secret_key="bench", var_dir=var))
        try:
            started = time.perf_counter()
            _seed(c, n)
            print(f"{label}: {n} notifications written in {time.perf_counter() - started:.1f} s")
            client = create_app(c).test_client()
            for name, path, body in _requests(c):
                times = []
                for _ in range(rounds):
                    t0 = time.perf_counter()
                    data = _call(client, path, body)
                    times.append(time.perf_counter() - t0)
                tracemalloc.start()
                _call(client, path, body)
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                median = statistics.median(times)
                print(f"  {name:20} {median * 1000:8.0f} ms  {n / median:8.0f} rows/s  "
                      f"reply {len(data) / 1e6:5.1f} MB  peak {peak / 2**20:6.1f} MiB")
        finally:
            c.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=LIMIT)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.n <= LIMIT:
        parser.error(f"--n is 1 to {LIMIT} (the most one request may take)")
    with tempfile.TemporaryDirectory() as tmp:
        _run("SQLite", f"sqlite:///{tmp}/bench.db", args.n, args.rounds)
    if not args.no_postgres:
        url, name = _pg_database()
        if url:
            try:
                _run("PostgreSQL", url, args.n, args.rounds)
            finally:
                _drop(name)
