"""Metrics, health, readiness and JSON logs of the server as ``assist-ws serve`` runs it (two
gunicorn workers) beside ``assist-ws worker --once``, each a real process, on SQLite and
PostgreSQL: after a payment, a decline and a notification ``/metrics`` shows what every
process counted and what the database says; others than loopback are refused without the
token; ``/ready`` goes 503 while the database or the processing center is away, and back;
every log line is a JSON object."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from assist_ws.bootstrap import build
from assist_ws.config import Settings
from assist_ws.db.migrate import upgrade
from assist_ws.domain.checkvalue import checkvalue
from assist_ws.services import admin
from assist_ws.services.notifications.outbox import NotifySettings

from ..merchant_endpoint import MerchantEndpoint
from ..support import (LOG_SUFFIX, PG_ADMIN_URL, Emulator, Serve, create_pg_database,
                       drop_pg_database, reconcile, require_postgres)

MERCHANT, SECRET, TOKEN = 400001, "s3cret", "obs-metrics-token"
OUTSIDE = {"X-Forwarded-For": "203.0.113.9"}  # through the trusted proxy (127.0.0.1)
LOG_KEYS = {"time", "level", "logger", "message", "process"}


class World:
    def __init__(self, **kw):
        self.__dict__.update(kw)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql",
                                                               marks=pytest.mark.postgres)])
def world(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("obs-" + request.param)
    pg_name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp}/assist.db"
    else:
        require_postgres()
        url, pg_name = create_pg_database()
    upgrade(url)
    emulator = Emulator(str(tmp / "emulator.db")).start()
    endpoint = MerchantEndpoint().start()
    container = build(Settings(database_url=url, secret_key="test", var_dir=str(tmp),
                               notify_ports="*", notify_allow_private=True))
    for name, cur, partial, days in admin.DEMO_CENTERS:
        admin.add_center(container.uow, name, f"{emulator.url}/{name}?wsdl", cur,
                         partial_reversal=partial, hold_days=days)
    admin.save_merchant(container.uow, MERCHANT, admin.MerchantSettings(
        name="Watched shop", currencies=("RUB",), secret_word=SECRET, check_order_code=True,
        processing=(("RUB", "emulator-rub"),),
        notify=NotifySettings(url=endpoint.url(), results="pay")), create=True,
        check_notify_url=container.notifier.check_url)
    with Serve(url, str(tmp), ASSIST_LOG_LEVEL="INFO", ASSIST_LOG_FORMAT="json",
               ASSIST_TRUSTED_PROXIES="127.0.0.1", ASSIST_METRICS_TOKEN=TOKEN,
               ASSIST_NOTIFY_ALLOW_PRIVATE="1", ASSIST_NOTIFY_PORTS="*",
               ASSIST_PROCESSING_CONNECT_TIMEOUT="1") as server:
        yield World(url=url, tmp=tmp, emulator=emulator, endpoint=endpoint,
                    container=container, server=server, pg_name=pg_name,
                    metrics_dir=os.path.join(str(tmp), "metrics"))
    reconcile(container, emulator.ledger())
    container.close()
    endpoint.stop()
    emulator.stop()
    if pg_name:
        drop_pg_database(pg_name)


def pay(base: str, number: str) -> str:
    """A whole payment through the pages with card ``number``: its billnumber."""
    http = requests.Session()
    fields = {"Merchant_ID": str(MERCHANT), "OrderNumber": "O-" + uuid.uuid4().hex[:10],
              "OrderAmount": "10.00", "OrderCurrency": "RUB",
              "URL_RETURN_OK": "http://shop.invalid/ok", "URL_RETURN_NO": "http://shop.invalid/no"}
    fields["Checkvalue"] = checkvalue(SECRET, ";".join(
        fields[k] for k in ("Merchant_ID", "OrderNumber", "OrderAmount", "OrderCurrency")))
    r = http.post(base + "/pay/order.cfm", data=fields, allow_redirects=False, timeout=30)
    assert r.status_code == 303, r.text
    page = http.get(base + r.headers["Location"], timeout=30)
    sid = re.search(r'name="CFSID" value="([^"]+)"', page.text).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = http.post(base + "/pay/pay.cfm", allow_redirects=False, timeout=30, data={
        "CFSID": sid, "step": "card", "csrf": csrf, "CardNumber": number, "ExpireMonth": "12",
        "ExpireYear": "2030", "Cardholder": "TEST BUYER", "CVC2": "123"})
    assert r.status_code == 303, r.text
    return re.search(r"billnumber=(\d+)", r.headers["Location"]).group(1)


def scrape(base: str, **headers) -> dict[tuple, float]:
    r = requests.get(base + "/metrics", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def sample(found: dict, name: str, **labels) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def own(path: str) -> dict[tuple, float]:
    """What one process wrote into its file of the metrics directory (nothing while the
    process has not made it, or has only begun to)."""
    try:
        found = MultiProcessCollector.merge([path])
    except (OSError, RuntimeError, struct.error):
        return {}
    return {(s.name, frozenset(s.labels.items())): s.value
            for metric in found for s in metric.samples}


def run_worker(world) -> tuple[int, str]:
    """``assist-ws worker --once`` on this host, as the server's environment has it: (its
    pid, its log, kept in a file of the session)."""
    proc = subprocess.Popen([sys.executable, "-m", "assist_ws.cli", "worker", "--once"],
                            env=world.server.env, stderr=subprocess.PIPE)
    _out, err = proc.communicate(timeout=120)
    with open(os.path.join(str(world.tmp), f"worker-{proc.pid}{LOG_SUFFIX}"), "wb") as kept:
        kept.write(err)
    text = err.decode("utf-8", errors="replace")
    assert proc.returncode == 0, text
    return proc.pid, text


# -- metrics --------------------------------------------------------------------------------
def test_metrics_count_what_every_process_did(world):
    base = world.server.url
    before = scrape(base)
    approved = pay(base, "4111111111111111")
    declined = pay(base, "4000000000000002")
    assert approved and declined
    worker_pid, _log = run_worker(world)
    assert len(world.endpoint.received) >= 2  # the notifications of both payments

    # Both gunicorn workers answer requests, each counting in its own file.  A request is
    # counted once its answer has been sent, a moment after the client has it: the counting
    # is done on a route nothing else asks for (a page that does not exist), and the scrape
    # waits for the count to settle.
    workers = world.server.workers()
    assert len(workers) == 2
    counted = 0
    missing = "/no-such-page-" + uuid.uuid4().hex[:8]
    route = dict(route="other", status="404")

    def absent(_):
        return requests.get(base + missing, timeout=10).status_code
    for _ in range(20):
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(absent, range(40))) == {404}
        counted += 40
        if all(sample(own(os.path.join(world.metrics_dir, f"counter_{pid}.db")),
                      "assist_http_requests_total", **route) for pid in workers):
            break
    else:
        pytest.fail("one gunicorn worker answered every request")

    deadline = time.monotonic() + 10
    while True:
        after = scrape(base)
        grown = sample(after, "assist_http_requests_total", **route) - \
            sample(before, "assist_http_requests_total", **route)
        if grown >= counted or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert grown == counted
    assert sample(after, "assist_http_requests_total", route="/pay/pay.cfm", status="303") >= 2
    assert sample(after, "assist_http_request_duration_seconds_count", route="/pay/order.cfm") \
        >= 2
    for result in ("approved", "declined"):
        assert sample(after, "assist_payments_total", result=result, means="card") - \
            sample(before, "assist_payments_total", result=result, means="card") == 1
    center = dict(center="emulator-rub", operation="authorize")
    assert sample(after, "assist_processing_calls_total", outcome="success", **center) >= 1
    assert sample(after, "assist_processing_calls_total", outcome="declined", **center) >= 1
    assert sample(after, "assist_processing_call_duration_seconds_count", **center) >= 2

    # What the worker process counted (it has exited; its counts stay).
    mine = own(os.path.join(world.metrics_dir, f"counter_{worker_pid}.db"))
    assert sample(mine, "assist_notification_attempts_total", verdict="delivered") >= 2
    assert sample(after, "assist_notification_attempts_total", verdict="delivered") >= 2
    for job in ("resolve", "settle", "holds", "timeouts", "notify"):
        assert sample(after, "assist_worker_job_duration_seconds_count", job=job) >= 1, job
    assert sample(after, "assist_worker_job_failures_total", job="notify") == 0

    # What the database says, whichever process did the work (read again after a few
    # seconds: each server process keeps its reading that long).
    deadline = time.monotonic() + 15
    while sample(after, "assist_settlement_lag_seconds", center="emulator-rub") != 0 \
            and time.monotonic() < deadline:
        time.sleep(0.5)
        after = scrape(base)
    assert sample(after, "assist_settlement_lag_seconds", center="emulator-rub") == 0
    assert ("assist_settlement_lag_seconds", frozenset({("center", "emulator-usd")})) in after
    assert sample(after, "assist_state_up") == 1
    assert sample(after, "assist_notifications_pending") == 0
    assert sample(after, "assist_unknown_outcomes_open", kind="transaction") == 0


def test_others_than_loopback_need_the_token(world):
    base = world.server.url
    refused = requests.get(base + "/metrics", headers=OUTSIDE, timeout=10)
    assert refused.status_code == 403 and "assist_" not in refused.text
    wrong = requests.get(base + "/metrics", timeout=10,
                         headers={**OUTSIDE, "Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403
    assert scrape(base, Authorization=f"Bearer {TOKEN}", **OUTSIDE)
    health = requests.get(base + "/health", headers=OUTSIDE, timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = requests.get(base + "/ready", headers=OUTSIDE, timeout=10)
    assert ready.json() == {"status": "ready"} and "emulator" not in ready.text
    inside = requests.get(base + "/ready", timeout=10).json()
    assert inside["checks"]["emulator-rub"] == "ok" and inside["version"]


# -- readiness ------------------------------------------------------------------------------
def ready_becomes(base: str, status: int, until=lambda shown: True,
                  timeout: float = 20.0) -> dict:
    """Ask ``/ready`` (from loopback: with what was checked) until it answers ``status`` and
    ``until`` holds for what it shows (each worker process keeps its last answer a few
    seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        r = requests.get(base + "/ready", timeout=10)
        if (r.status_code == status and until(r.json())) or time.monotonic() > deadline:
            assert r.status_code == status and until(r.json()), r.text
            return r.json()
        time.sleep(0.3)


def test_ready_goes_503_while_the_center_is_down_and_back(world):
    base = world.server.url
    ready_becomes(base, 200)
    health_before = requests.get(base + "/health", timeout=10)
    world.emulator.stop()
    try:
        shown = ready_becomes(base, 503, lambda shown: shown["checks"].get(
            "emulator-rub", "").startswith("unreachable"))
        assert shown["checks"]["database"] == "ok"
        assert requests.get(base + "/health", timeout=10).status_code == \
            health_before.status_code == 200
    finally:
        world.emulator.start()
    ready_becomes(base, 200)


def test_ready_goes_503_while_the_database_is_away_and_back(world):
    if world.pg_name is None:
        pytest.skip("a SQLite file cannot be taken away from a process that has it open "
                    "(and the tests run as a user whom file modes do not stop)")
    import psycopg
    base = world.server.url
    ready_becomes(base, 200)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin_conn:
        admin_conn.execute(f'ALTER DATABASE "{world.pg_name}" ALLOW_CONNECTIONS false')
        try:
            admin_conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = %s AND pid <> pg_backend_pid()",
                               (world.pg_name,))
            shown = ready_becomes(base, 503, lambda shown: shown["checks"].get(
                "database", "").startswith("failed"))
            assert set(shown["checks"]) == {"database"}  # no center asked without it
            assert requests.get(base + "/health", timeout=10).status_code == 200
        finally:
            admin_conn.execute(f'ALTER DATABASE "{world.pg_name}" ALLOW_CONNECTIONS true')
    world.container.engine.dispose()  # this process's connections were ended too
    ready_becomes(base, 200)


# -- logs -----------------------------------------------------------------------------------
def test_every_log_line_is_a_json_object(world):
    base = world.server.url
    bill = pay(base, "5555555555554444")
    requests.get(base + "/pay/order.cfm?CardNumber=4111111111111111", timeout=10)
    _pid, worker_log = run_worker(world)
    time.sleep(0.5)  # the access log line of the last request
    entries = []
    for text in (world.server.log(), worker_log):
        for line in text.splitlines():
            if line.strip():
                entry = json.loads(line)
                assert isinstance(entry, dict) and LOG_KEYS <= set(entry), line
                assert entry["time"].endswith("Z")
                entries.append(entry)
    loggers = {e["logger"] for e in entries}
    assert {"gunicorn.error", "gunicorn.access", "assist_ws.audit",
            "assist_ws.jobs.worker"} <= loggers
    about = [e for e in entries if e.get("billnumber") == bill]
    assert any(e["message"].startswith(f"order {bill} created") for e in about)
    assert any(e["message"].startswith(f"order {bill}: pay") for e in about)
    assert all(e["message"].startswith(f"order {bill}") for e in about)
