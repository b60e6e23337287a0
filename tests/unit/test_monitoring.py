"""Metrics, health and readiness with fakes: what the decorators count, what the request
middleware names a route, who may read ``/metrics``, what ``/health`` and ``/ready`` show to
whom, how readiness is cached and bounded in time, the state gauges, and the metrics
directory of a host."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from assist_ws.domain.backlog import Backlog, CenterSettlement, Snapshot
from assist_ws.domain.model import ProcessingCenter
from assist_ws.domain.notifications import PushReply, Verdict
from assist_ws.domain.ports import Outcome, ProcessingReply, SettlementAnswer
from assist_ws.monitoring import metrics, multiproc
from assist_ws.monitoring.probes import Probes, RequestMetrics, exposition
from assist_ws.monitoring.readiness import Readiness
from assist_ws.monitoring.state import StateCollector

from .fakes import FakeGateway

UTC = timezone.utc
CENTER = ProcessingCenter("unit-center", "http://127.0.0.1:9/c?wsdl", "RUB")


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# -- processing centers ---------------------------------------------------------------------
@pytest.mark.parametrize("reply, outcome", [
    (ProcessingReply(Outcome.SUCCESS, "AS000"), "success"),
    (ProcessingReply(Outcome.DECLINED, "AS100"), "declined"),
    (ProcessingReply(Outcome.DECLINED, "AS998", "fault"), "error"),
    (ProcessingReply(Outcome.DECLINED, "AS998", "refused", delivered=False), "not_sent"),
    (ProcessingReply(Outcome.UNKNOWN, None, "read timeout"), "unknown"),
    (ProcessingReply(Outcome.IN_PROGRESS), "unknown"),
    (ProcessingReply(Outcome.NOT_FOUND), "not_found"),
])
def test_a_centers_reply_is_counted_by_outcome_and_timed(reply, outcome):
    fake = FakeGateway()
    fake.replies["reverse"] = [reply]
    gateway = metrics.MeteredGateway(fake)
    labels = dict(center="unit-center", operation="reverse")
    before = value("assist_processing_calls_total", outcome=outcome, **labels)
    timed = value("assist_processing_call_duration_seconds_count", **labels)
    assert gateway.reverse(CENTER, "r1", "a1", None) is reply
    assert value("assist_processing_calls_total", outcome=outcome, **labels) == before + 1
    assert value("assist_processing_call_duration_seconds_count", **labels) == timed + 1


def test_a_settlement_batch_counts_once_by_the_batchs_fate():
    fake = FakeGateway()
    gateway = metrics.MeteredGateway(fake)
    labels = dict(center="unit-center", operation="settle")
    ok = value("assist_processing_calls_total", outcome="success", **labels)
    silent = value("assist_processing_calls_total", outcome="unknown", **labels)
    assert isinstance(gateway.settle(CENTER, "b1", []), SettlementAnswer)
    fake.replies["settle_batch"] = [ProcessingReply(Outcome.UNKNOWN, None, "timeout")]
    gateway.settle(CENTER, "b2", [])
    assert value("assist_processing_calls_total", outcome="success", **labels) == ok + 1
    assert value("assist_processing_calls_total", outcome="unknown", **labels) == silent + 1


def test_a_call_that_raises_is_counted_as_an_error_and_raises():
    class Broken(FakeGateway):
        def status(self, center, request_id):
            raise RuntimeError("bug")
    labels = dict(center="unit-center", operation="status", outcome="error")
    before = value("assist_processing_calls_total", **labels)
    with pytest.raises(RuntimeError):
        metrics.MeteredGateway(Broken()).status(CENTER, "r")
    assert value("assist_processing_calls_total", **labels) == before + 1


def test_every_operation_of_the_port_is_metered():
    from assist_ws.domain.ports import ProcessingGateway
    port = {n for n in vars(ProcessingGateway) if not n.startswith("_")}
    assert port <= set(vars(metrics.MeteredGateway))


# -- payments, notifications, jobs ----------------------------------------------------------
def test_payments_are_counted_by_result_and_means():
    before = {r: value("assist_payments_total", result=r, means="card")
              for r in ("approved", "declined", "unknown")}
    for state in ("Success", "Declined", "In Process", "Unknown"):
        metrics.payment_made(state, "card")
    assert value("assist_payments_total", result="approved", means="card") == \
        before["approved"] + 1
    assert value("assist_payments_total", result="declined", means="card") == \
        before["declined"] + 1
    assert value("assist_payments_total", result="unknown", means="card") == \
        before["unknown"] + 2


def test_notification_tries_are_counted_by_verdict():
    class Sender:
        def check_url(self, url):
            return url

        def send(self, target, notice):
            return PushReply(Verdict.REJECTED, 200)
    target = type("T", (), {"protocol": "post"})()
    before = value("assist_notification_attempts_total", verdict="rejected")
    sender = metrics.MeteredSender(Sender())
    assert sender.send(target, object()).verdict is Verdict.REJECTED
    assert sender.check_url("http://x/") == "http://x/"
    assert value("assist_notification_attempts_total", verdict="rejected") == before + 1
    assert value("assist_notification_attempt_duration_seconds_count", protocol="post") >= 1


def test_the_worker_reports_each_job_run_and_its_failures():
    from types import SimpleNamespace

    from assist_ws.jobs import worker as jobs
    container = SimpleNamespace(settings=SimpleNamespace(worker_interval=1))
    w = jobs.Worker(container, only=["settle", "holds"], observe=metrics.job_finished)
    w.jobs = [("unit-ok", lambda c: 3), ("unit-bad", lambda c: 1 / 0)]
    runs = value("assist_worker_job_duration_seconds_count", job="unit-ok")
    failed = value("assist_worker_job_failures_total", job="unit-bad")
    w.round()
    assert value("assist_worker_job_duration_seconds_count", job="unit-ok") == runs + 1
    assert value("assist_worker_job_failures_total", job="unit-bad") == failed + 1
    assert value("assist_worker_job_failures_total", job="unit-ok") == 0


# -- requests -------------------------------------------------------------------------------
def call(app, path: str, query: str = "", method: str = "GET", **environ):
    env = {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": method,
           "REMOTE_ADDR": "127.0.0.1", **environ}
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    body = app(env, start_response)
    data = b"".join(body)
    getattr(body, "close", lambda: None)()
    return seen["status"], seen["headers"], data


def test_a_request_is_counted_by_route_and_status_never_by_its_url():
    def app(environ, start_response):
        start_response("404 Not Found" if environ["PATH_INFO"] == "/x" else "200 OK", [])
        return [b"ok"]
    routes = {"/pay/pay.cfm": "/pay/pay.cfm"}
    metered = RequestMetrics(app, lambda path: routes.get(path, "other"))
    pay = value("assist_http_requests_total", route="/pay/pay.cfm", status="200")
    other = value("assist_http_requests_total", route="other", status="404")
    call(metered, "/pay/pay.cfm", "CFSID=secret&lang=RU")
    call(metered, "/x")
    assert value("assist_http_requests_total", route="/pay/pay.cfm", status="200") == pay + 1
    assert value("assist_http_requests_total", route="other", status="404") == other + 1
    exposed = exposition(multiproc.registry())().decode()
    assert "secret" not in exposed and 'route="/x"' not in exposed


def test_a_streamed_answer_is_timed_to_its_end_and_a_failure_is_a_500():
    def streaming(environ, start_response):
        start_response("200 OK", [])

        def parts():
            yield b"a"
            time.sleep(0.05)
            yield b"b"
        return parts()

    def failing(environ, start_response):
        raise RuntimeError("inside")
    labels = dict(route="/stream")
    before = value("assist_http_request_duration_seconds_sum", **labels)
    call(RequestMetrics(streaming, lambda p: "/stream"), "/stream")
    assert value("assist_http_request_duration_seconds_sum", **labels) - before >= 0.05
    errors = value("assist_http_requests_total", route="/fail", status="500")
    with pytest.raises(RuntimeError):
        call(RequestMetrics(failing, lambda p: "/fail"), "/fail")
    assert value("assist_http_requests_total", route="/fail", status="500") == errors + 1


# -- the probes -----------------------------------------------------------------------------
class Ready:
    def __init__(self, ready=True):
        from assist_ws.monitoring.readiness import Verdict as Ready_
        self.verdict = Ready_(ready, {"database": "ok", "emulator-rub": "ok"})

    def check(self):
        return self.verdict


def probes(ready=True, token=""):
    def app(environ, start_response):
        start_response("200 OK", [])
        return [b"app"]
    return Probes(app, metrics=lambda: b"# metrics\n", readiness=Ready(ready), token=token,
                  version="9.9.9")


def test_metrics_answer_loopback_only_without_a_token():
    p = probes()
    assert call(p, "/metrics")[0] == "200 OK"
    assert call(p, "/metrics", REMOTE_ADDR="::1")[0] == "200 OK"
    assert call(p, "/metrics", REMOTE_ADDR="203.0.113.7")[0] == "403 Forbidden"
    assert call(p, "/metrics", REMOTE_ADDR="203.0.113.7",
                HTTP_AUTHORIZATION="Bearer anything")[0] == "403 Forbidden"
    assert call(p, "/other", REMOTE_ADDR="203.0.113.7")[2] == b"app"


def test_the_token_opens_metrics_to_others():
    p = probes(token="s3cr3t-token")
    assert call(p, "/metrics", REMOTE_ADDR="203.0.113.7",
                HTTP_AUTHORIZATION="Bearer s3cr3t-token")[2] == b"# metrics\n"
    for wrong in ("Bearer s3cr3t-tokeN", "Bearer ", "Basic s3cr3t-token", "s3cr3t-token",
                  "Bearer s3cr3t-token-and-more"):
        assert call(p, "/metrics", REMOTE_ADDR="203.0.113.7",
                    HTTP_AUTHORIZATION=wrong)[0] == "403 Forbidden", wrong


def test_health_and_ready_show_no_version_or_centers_to_the_public():
    p = probes(ready=False, token="tok")
    status, _, body = call(p, "/health", REMOTE_ADDR="203.0.113.7")
    assert status == "200 OK" and json.loads(body) == {"status": "ok"}
    status, _, body = call(p, "/ready", REMOTE_ADDR="203.0.113.7")
    assert status == "503 Service Unavailable" and json.loads(body) == {"status": "not ready"}
    status, _, body = call(p, "/ready")
    shown = json.loads(body)
    assert shown["version"] == "9.9.9" and shown["checks"]["emulator-rub"] == "ok"
    status, _, body = call(p, "/health", REMOTE_ADDR="203.0.113.7",
                           HTTP_AUTHORIZATION="Bearer tok")
    assert json.loads(body)["version"] == "9.9.9"
    assert call(p, "/ready", method="POST")[0].startswith("405")


# -- readiness ------------------------------------------------------------------------------
def test_ready_needs_the_database_and_every_center_and_is_cached():
    asked = []
    state = {"db": True, "reach": True}

    def targets():
        asked.append(1)
        if not state["db"]:
            raise OSError("database gone")
        return [("rub", "http://127.0.0.1:1/rub?wsdl")]

    def reach(url, timeout):
        if not state["reach"]:
            raise ConnectionRefusedError(url)
    r = Readiness(targets, timeout=0.5, ttl=0.2, reach=reach)
    assert r.check().ready and r.check().ready and len(asked) == 1
    state["reach"] = False
    time.sleep(0.25)
    verdict = r.check()
    assert not verdict.ready and verdict.checks["rub"].startswith("unreachable")
    state["db"] = False
    time.sleep(0.25)
    verdict = r.check()
    assert not verdict.ready and verdict.checks == {"database": "failed: OSError"}
    state.update(db=True, reach=True)
    time.sleep(0.25)
    assert r.check().ready


def test_a_hanging_database_or_center_is_not_waited_for():
    hang = threading.Event()
    r = Readiness(lambda: hang.wait(5) or [], timeout=0.3, ttl=0)
    started = time.monotonic()
    assert not r.check().ready
    assert time.monotonic() - started < 2
    r = Readiness(lambda: [("slow", "http://x/")], timeout=0.3, ttl=0,
                  reach=lambda url, timeout: hang.wait(5))
    started = time.monotonic()
    verdict = r.check()
    assert not verdict.ready and verdict.checks["slow"].startswith("no answer")
    assert time.monotonic() - started < 2
    hang.set()


def test_a_center_is_reached_by_a_tcp_connection(tmp_path):
    import socket

    from assist_ws.monitoring.readiness import reach
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        reach(f"http://127.0.0.1:{server.getsockname()[1]}/c?wsdl", 1)
        port = server.getsockname()[1]
    with pytest.raises(OSError):
        reach(f"http://127.0.0.1:{port}/c?wsdl", 1)


# -- the state gauges -----------------------------------------------------------------------
def test_the_state_gauges_are_read_once_per_ttl_and_say_when_they_cannot_be():
    now = datetime(2026, 11, 27, 21, 30, tzinfo=UTC)
    reads = []
    failing = {"now": False}

    def read(at):
        reads.append(at)
        if failing["now"]:
            raise OSError("database gone")
        return Snapshot(at, Backlog(2, at - timedelta(minutes=5)), Backlog(),
                        Backlog(7, at - timedelta(hours=1)),
                        (CenterSettlement("rub", "21:00", now - timedelta(days=1)),))
    collector = StateCollector(read, lambda: now, ttl=60)
    registry = multiproc.registry(collector)
    text = exposition(registry)().decode()
    again = exposition(registry)().decode()
    state = [line for line in text.splitlines() if line.startswith("assist_state")]
    assert len(reads) == 1 and state and state == [
        line for line in again.splitlines() if line.startswith("assist_state")]
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("assist_unknown_outcomes_open", (("kind", "transaction"),))] == 2
    assert samples[("assist_unknown_outcome_oldest_age_seconds",
                    (("kind", "transaction"),))] == 300
    assert samples[("assist_unknown_outcomes_open", (("kind", "settlement_batch"),))] == 0
    assert samples[("assist_notifications_pending", ())] == 7
    assert samples[("assist_notification_oldest_pending_age_seconds", ())] == 3600
    assert samples[("assist_settlement_lag_seconds", (("center", "rub"),))] == 1800
    assert samples[("assist_state_up", ())] == 1
    failing["now"] = True
    collector.ttl = 0
    text = exposition(registry)().decode()
    assert "assist_state_up 0.0" in text and "assist_notifications_pending" not in text


# -- the metrics directory ------------------------------------------------------------------
def test_the_directory_keeps_the_files_of_running_processes_only(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        for pid in (gone.pid, alive.pid):
            (tmp_path / f"counter_{pid}.db").write_bytes(b"")
            (tmp_path / f"histogram_{pid}.db").write_bytes(b"")
        (tmp_path / "other.txt").write_text("not ours")
        assert multiproc.prepare(str(tmp_path)) == str(tmp_path)
        assert sorted(os.listdir(tmp_path)) == sorted(
            ["other.txt", f"counter_{alive.pid}.db", f"histogram_{alive.pid}.db"])
    finally:
        alive.kill()
        alive.wait()


def test_a_process_pointed_at_the_directory_writes_its_metrics_there(tmp_path):
    code = ("import sys; from assist_ws.monitoring import metrics, multiproc; "
            "multiproc.use(sys.argv[1]); metrics.job_finished('probe', 0.5, True)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True,
                   env={k: v for k, v in os.environ.items() if k != multiproc.ENV})
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(tmp_path))
    assert registry.get_sample_value("assist_worker_job_failures_total", {"job": "probe"}) == 1
    assert registry.get_sample_value("assist_worker_job_duration_seconds_sum",
                                     {"job": "probe"}) == 0.5


def test_a_file_that_cannot_be_read_leaves_the_others_answered(tmp_path, monkeypatch, caplog):
    """A process being created (its file still empty) or killed at that instant must not take
    every other process's metrics out of the scrape."""
    code = ("import sys; from assist_ws.monitoring import metrics, multiproc; "
            "multiproc.use(sys.argv[1]); metrics.job_finished('probe', 0.5, True)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True,
                   env={k: v for k, v in os.environ.items() if k != multiproc.ENV})
    (tmp_path / "counter_999999.db").write_bytes(b"")
    (tmp_path / "histogram_999998.db").write_bytes(b"\x00\x10\x00\x00" + b"\x00" * 12)
    monkeypatch.setattr(multiproc, "active", lambda: str(tmp_path))
    registry = multiproc.registry()
    with caplog.at_level(logging.WARNING, logger=multiproc.__name__):
        assert registry.get_sample_value("assist_worker_job_failures_total",
                                         {"job": "probe"}) == 1
        assert registry.get_sample_value("assist_worker_job_failures_total",
                                         {"job": "probe"}) == 1
    said = [r.getMessage() for r in caplog.records]
    assert sum("counter_999999.db" in m for m in said) == 1  # once, not at every scrape
    assert sum("histogram_999998.db" in m for m in said) == 1


def test_a_metric_that_cannot_be_written_fails_nothing(monkeypatch, caplog):
    def full(*labels):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(metrics.CENTER_CALLS, "labels", full)
    monkeypatch.setattr(metrics.PAYMENTS, "labels", full)
    monkeypatch.setattr(metrics, "_failed", [])
    reply = ProcessingReply(Outcome.SUCCESS, "AS000")
    fake = FakeGateway()
    fake.replies["status"] = [reply]
    with caplog.at_level("WARNING"):
        assert metrics.MeteredGateway(fake).status(CENTER, "r") is reply
        metrics.payment_made("Success", "card")
    assert sum("metrics cannot be written" in r.getMessage() for r in caplog.records) == 1


def test_a_directory_that_cannot_be_had_leaves_the_metrics_in_memory(tmp_path, monkeypatch):
    monkeypatch.delenv(multiproc.ENV, raising=False)
    taken = tmp_path / "a-file"
    taken.write_text("")
    assert multiproc.use(str(taken)) is False
    assert multiproc.active() is None and multiproc.ENV not in os.environ
