"""The worker on SQLite and PostgreSQL against the emulator: settlement at the cut-off and not
before (in a worker process whose clock a file moves), hold expiry and buyer timeouts with a
moved clock, an unknown outcome resolved by a running worker, a worker killed mid-batch and
restarted, the ``settle`` and ``unresolved`` commands.  Every test ends with the ledger
reconciliation of the conftest."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import text

from assist_ws.clocks import OffsetFileClock
from assist_ws.domain.cards import parse_card
from assist_ws.domain.money import Money
from assist_ws.jobs.worker import Worker
from assist_ws.services import admin
from bench._due import AUTH_PREFIX, bill_numbers, import_authorizations, new_prefix, \
    seed_due_payments

from ..support import LOG_SUFFIX
from .conftest import MERCHANT, new_order

VISA = "4111111111111111"
LATE = "4000000000000119"


def pay(gw, order, number=VISA):
    card = parse_card(number, "12", "2030", "TEST HOLDER", "123", gw.clock.now())
    return gw.pay_by_card(order.bill_number, card)


def ledger_entry(emulator, request_id):
    for center in emulator.ledger()["centers"].values():
        for a in center["authorizations"]:
            if a["request_id"] == request_id:
                return {k: Decimal(a[k]) for k in ("held", "settled", "refunded")}
    return None


def load(gw, bill):
    with gw.uow.reader() as uow:
        return uow.orders.get(bill)


def auth_of(gw, bill):
    return load(gw, bill).card_payment.authorization.request_id


def move_to(gw, hour, minute):
    """Move the gateway's clock to the next HH:MM UTC at least an hour ahead."""
    now = gw.clock.now()
    target = datetime(now.year, now.month, now.day, hour, minute, tzinfo=timezone.utc)
    while target < now + timedelta(hours=1):
        target += timedelta(days=1)
    gw.clock.move(seconds=(target - now).total_seconds())


def wait_for(condition, timeout=30.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout}s")


class WorkerProcess:
    """``assist-ws worker`` as its own process on the test's database, its log collected."""

    def __init__(self, gw, *args, **env):
        s = gw.settings
        self.env = dict(os.environ, ASSIST_DATABASE_URL=s.database_url,
                        ASSIST_SECRET_KEY=s.secret_key, ASSIST_VAR_DIR=s.var_dir,
                        ASSIST_PROCESSING_TIMEOUT=str(s.processing_timeout),
                        ASSIST_PROCESSING_CONNECT_TIMEOUT="2", ASSIST_RESOLVE_GRACE="0",
                        ASSIST_LOG_LEVEL="DEBUG", **{k: str(v) for k, v in env.items()})
        self.env.pop("ASSIST_DEBUG", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "assist_ws.cli", "worker", *args],
                                     env=self.env, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        # Kept in a file as well, for the session's look for secrets in the logs.
        self.log_path = os.path.join(s.var_dir, f"worker-{self.proc.pid}{LOG_SUFFIX}")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        with open(self.log_path, "a", encoding="utf-8") as kept:
            for line in self.proc.stderr:
                self.lines.append(line)
                kept.write(line)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def rounds(self) -> int:
        return sum("round done" in line for line in self.lines)

    def stop(self, sig=signal.SIGTERM, timeout=30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def wait(self, timeout=120) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code


@pytest.fixture
def clock_file(gw, tmp_path):
    """A clock file the test and its worker processes share with the gateway's clock."""
    path = str(tmp_path / "clock-offset")

    def sync():
        OffsetFileClock.write(path, gw.clock.offset)
    sync()
    return path, sync


# -- settlement at the cut-off ------------------------------------------------------------
def test_worker_settles_at_the_cutoff_and_not_before(gw, emulator, clock_file):
    path, sync = clock_file
    move_to(gw, 20, 40)
    one = new_order(gw, "120.00")
    pay(gw, one)
    two = new_order(gw, "80.00", delay=True)
    pay(gw, two)
    gw.clock.move(minutes=10)
    gw.confirm(MERCHANT, two.bill_number)
    sync()
    worker = WorkerProcess(gw, "--interval", "0.2", "--job", "settle",
                           ASSIST_CLOCK_OFFSET_FILE=path)
    try:
        wait_for(lambda: worker.rounds() >= 3, what="three rounds of the worker")
        for order, amount in ((one, "120.00"), (two, "80.00")):  # 20:50: not yet
            assert ledger_entry(emulator, auth_of(gw, order.bill_number)) == \
                {"held": Decimal(amount), "settled": 0, "refunded": 0}
            assert load(gw, order.bill_number).card_payment.financial is None
        gw.clock.move(minutes=11)  # 21:01, past the cut-off
        sync()
        wait_for(lambda: load(gw, one.bill_number).settled() and
                 load(gw, two.bill_number).settled(), what="settlement after the cut-off")
    finally:
        assert worker.stop() == 0, worker.log
    for order, amount in ((one, "120.00"), (two, "80.00")):
        assert ledger_entry(emulator, auth_of(gw, order.bill_number)) == \
            {"held": 0, "settled": Decimal(amount), "refunded": 0}
    # a cancel after settlement is a refund
    result = gw.cancel(MERCHANT, one.bill_number, Money.of("20.00", "RUB"))
    assert result.order.state == "PartialCanceled"
    assert load(gw, one.bill_number).operations[-1].transactions[0].type == "refund"
    assert ledger_entry(emulator, auth_of(gw, one.bill_number)) == \
        {"held": 0, "settled": Decimal("120.00"), "refunded": Decimal("20.00")}


def test_partly_confirmed_hold_is_released_at_settlement(gw, emulator):
    order = new_order(gw, "100.00", delay=True)
    pay(gw, order)
    gw.confirm(MERCHANT, order.bill_number, Money.of("35.00", "RUB"))
    move_to(gw, 21, 30)
    Worker(gw, only=["settle"]).round()
    assert ledger_entry(emulator, auth_of(gw, order.bill_number)) == \
        {"held": 0, "settled": Decimal("35.00"), "refunded": 0}
    batch_id = load(gw, order.bill_number).settlement_batch_id
    with gw.uow.reader() as uow:
        batch = uow.settlements.get(batch_id)
    assert batch.state == "done" and batch.settled >= 1


# -- hold expiry and buyer timeouts ---------------------------------------------------------
def test_delayed_order_past_its_hold_period_is_canceled_and_released(gw, emulator):
    order = new_order(gw, "70.00", delay=True)
    pay(gw, order)
    rid = auth_of(gw, order.bill_number)
    assert ledger_entry(emulator, rid)["held"] == Decimal("70.00")
    gw.clock.move(days=6, hours=23)  # emulator-rub holds for 7 days
    Worker(gw, only=["holds"]).round()
    assert load(gw, order.bill_number).state == "Delayed"
    gw.clock.move(hours=2)
    Worker(gw, only=["holds"]).round()
    canceled = load(gw, order.bill_number)
    assert canceled.state == "Canceled"
    assert "7-day hold period at emulator-rub" in canceled.state_reason
    assert ledger_entry(emulator, rid) == {"held": 0, "settled": 0, "refunded": 0}
    with pytest.raises(Exception, match="Canceled"):
        gw.confirm(MERCHANT, order.bill_number)


def test_abandoned_order_times_out(gw):
    abandoned = new_order(gw, "15.00")
    paid = new_order(gw, "16.00")
    pay(gw, paid)
    gw.clock.move(minutes=19)
    Worker(gw, only=["timeouts"]).round()
    assert load(gw, abandoned.bill_number).state == "In Process"
    gw.clock.move(minutes=2)
    Worker(gw, only=["timeouts"]).round()
    closed = load(gw, abandoned.bill_number)
    assert closed.state == "Timeout" and "did not pay within 20 minutes" in closed.state_reason
    assert load(gw, paid.bill_number).state == "Approved"


def test_timed_out_order_whose_payment_the_center_holds_is_reversed(gw, emulator):
    order = new_order(gw, "18.00")
    gw.clock.move(minutes=19)
    assert pay(gw, order, LATE).operation.state == "Unknown"  # the center holds it
    rid = auth_of(gw, order.bill_number)
    gw.clock.move(minutes=2)
    Worker(gw, only=["timeouts"]).round()
    closed = load(gw, order.bill_number)
    assert closed.state == "Timeout" and "outcome was unknown" in closed.state_reason
    assert ledger_entry(emulator, rid) == {"held": 0, "settled": 0, "refunded": 0}


# -- unknown outcomes ------------------------------------------------------------------------
def test_unknown_outcome_is_resolved_by_the_worker_without_anyone_calling(gw, emulator,
                                                                          clock_file):
    order = new_order(gw, "44.00")
    result = pay(gw, order, LATE)  # the center answers after the gateway's timeout
    assert result.order.state == "In Process" and result.operation.state == "Unknown"
    path, sync = clock_file
    gw.clock.move(seconds=15)  # past the first back-off (10 s): no need to wait for it
    sync()
    worker = WorkerProcess(gw, "--interval", "0.3", ASSIST_CLOCK_OFFSET_FILE=path)
    try:
        wait_for(lambda: load(gw, order.bill_number).state == "Approved",
                 what="the worker's resolution")
    finally:
        assert worker.stop() == 0, worker.log
    resolved = load(gw, order.bill_number)
    assert resolved.card_payment.authorization.state == "success"
    assert ledger_entry(emulator, auth_of(gw, order.bill_number))["held"] == Decimal("44.00")
    assert "worker stopped" in worker.log


def test_unresolved_after_the_limit_is_reported_and_listed(gw, emulator, tmp_path):
    order = new_order(gw, "21.00")
    assert pay(gw, order, LATE).operation.state == "Unknown"
    with socket.socket() as s:  # a port nobody listens on: the center is unreachable
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    with gw.uow.reader() as uow:
        center = uow.centers.get("emulator-rub")
        url, partial, days = center.url, center.partial_reversal, center.hold_days
        bonus = center.bonus_program
    admin.add_center(gw.uow, "emulator-rub", f"http://127.0.0.1:{dead}/emulator-rub?wsdl",
                     "RUB", partial_reversal=partial, hold_days=days, bonus_program=bonus,
                     replace=True)
    try:
        for _ in range(3):
            gw.clock.move(hours=2)
            gw.resolve(max_attempts=3)
        listing = run_cli(gw, "unresolved", "--check", ok=False,
                          ASSIST_RESOLVE_MAX_ATTEMPTS=3)
        assert listing.returncode == 1
        assert f"{order.bill_number}.1\tauthorization\tunknown\temulator-rub\t21.00 RUB" in \
            listing.stdout
        assert "unavailable" in listing.stdout
    finally:
        admin.add_center(gw.uow, "emulator-rub", url, "RUB", partial_reversal=partial,
                         hold_days=days, bonus_program=bonus, replace=True)
    gw.clock.move(hours=2)
    gw.resolve(max_attempts=3)
    assert load(gw, order.bill_number).state == "Approved"
    assert "nothing unresolved" in run_cli(gw, "unresolved", "--check").stdout


def run_cli(gw, *args, ok=True, **env):
    s = gw.settings
    full = dict(os.environ, ASSIST_DATABASE_URL=s.database_url, ASSIST_SECRET_KEY=s.secret_key,
                ASSIST_VAR_DIR=s.var_dir, **{k: str(v) for k, v in env.items()})
    full.pop("ASSIST_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "assist_ws.cli", *args], env=full,
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_settle_command_shows_progress_and_a_summary(gw, emulator):
    order = new_order(gw, "12.34")
    pay(gw, order)
    proc = run_cli(gw, "settle", "--center", "emulator-rub")
    assert "settling" in proc.stderr  # the progress bar
    assert " settled, 0 declined, 0 unknown" in proc.stdout
    assert "  RUB: " in proc.stdout
    assert ledger_entry(emulator, auth_of(gw, order.bill_number))["settled"] == \
        Decimal("12.34")
    bad = run_cli(gw, "settle", "--center", "nope", ok=False)
    assert bad.returncode == 1 and "not configured" in bad.stderr


# -- a worker killed mid-batch -------------------------------------------------------------
def seed(gw, emulator, n):
    prefix = new_prefix()
    seed_due_payments(gw.engine, n, prefix=prefix, merchant_id=MERCHANT, center="emulator-rub",
                      approved_at=datetime.now(timezone.utc) - timedelta(days=2))
    import_authorizations(emulator.data_path, "emulator-rub", n, prefix=prefix)
    return prefix


def settled_exactly_once(gw, emulator, prefix, n):
    """Each seeded payment has exactly one financial transaction, a success, and the center
    settled each authorization's amount once."""
    with gw.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT o.bill_number, count(t.id), min(t.state) FROM orders o "
            "JOIN operations op ON op.order_id = o.id "
            "LEFT JOIN transactions t ON t.operation_id = op.id AND t.type = 'financial' "
            "WHERE o.bill_number LIKE :p GROUP BY o.bill_number"), {"p": prefix + "%"}).all()
        open_batches = conn.execute(text(
            "SELECT count(*) FROM settlement_batches WHERE state = 'sent'")).scalar()
    assert len(rows) == n
    wrong = [r for r in rows if (r[1], r[2]) != (1, "success")]
    assert not wrong, f"{len(wrong)} payments not settled exactly once, e.g. {wrong[:3]}"
    assert open_batches == 0
    center = emulator.ledger()["centers"]["emulator-rub"]["authorizations"]
    mine = {a["request_id"]: a for a in center if a["request_id"].startswith(
        AUTH_PREFIX + prefix)}
    assert len(mine) == n
    assert {(a["held"], a["settled"]) for a in mine.values()} == {("0.00", "100.00")}
    assert set(mine) == {AUTH_PREFIX + b for b in bill_numbers(prefix, n)}


def test_worker_killed_mid_batch_then_restarted_settles_each_once(gw, emulator):
    n = 1500
    prefix = seed(gw, emulator, n)
    env = {"ASSIST_SETTLE_BATCH_SIZE": 50, "ASSIST_SETTLE_CONCURRENCY": 1,
           "ASSIST_SETTLE_LEASE": 1}
    sql = ("SELECT count(*) FILTER (WHERE state = 'sent'), "
           "count(*) FILTER (WHERE state = 'done') FROM settlement_batches")

    def batches():
        with gw.engine.connect() as conn:
            sent, done = conn.execute(text(sql)).one()
        return sent or 0, done or 0

    for _ in range(5):  # the kill may land between two batches: then again
        worker = WorkerProcess(gw, "--once", "--job", "settle", **env)
        try:
            done_before = batches()[1]
            wait_for(lambda: batches()[0] > 0 and batches()[1] > done_before + 2,
                     timeout=60, what="a batch in flight")
            worker.proc.send_signal(signal.SIGKILL)
        finally:
            code = worker.stop(signal.SIGKILL)
        assert code == -signal.SIGKILL
        if batches()[0]:
            break
    assert batches()[0] >= 1, "the worker was never killed in the middle of a batch"
    time.sleep(1.2)  # the dead worker's lease ends
    again = WorkerProcess(gw, "--once", "--job", "settle", **env)
    assert again.wait() == 0, again.log
    assert "sending again" in again.log
    settled_exactly_once(gw, emulator, prefix, n)


# -- many workers ---------------------------------------------------------------------------
@pytest.mark.postgres
def test_three_workers_settle_5000_operations_exactly_once(gw, emulator, dialect):
    if dialect != "postgresql":
        pytest.skip("many workers share a PostgreSQL database (SQLite: one worker)")
    n = 5000
    prefix = seed(gw, emulator, n)
    env = {"ASSIST_SETTLE_BATCH_SIZE": 50, "ASSIST_SETTLE_CONCURRENCY": 1}
    workers = [WorkerProcess(gw, "--once", "--job", "settle", **env) for _ in range(3)]
    codes = [w.wait(180) for w in workers]
    assert codes == [0, 0, 0], [w.log for w in workers]
    done = []
    for w in workers:
        counts = [int(line.split("job settle: ")[1].split()[0]) for line in w.lines
                  if "job settle: " in line]
        done.append(sum(counts))
    assert sum(done) >= n, done  # (payments left due by other tests may join in)
    assert sum(1 for d in done if d) >= 2, f"the work was not shared: {done}"
    settled_exactly_once(gw, emulator, prefix, n)
