"""Test support shared by the integration and end-to-end suites: databases, the emulator as
a real process, a movable clock, and reconciliation of the emulator's ledger with the
gateway's records."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests

#: The emulator's test cards (the README's table): no log line may hold one, in any spacing.
TEST_CARDS = frozenset({
    "4111111111111111", "5555555555554444", "2200000000000004", "4000000000000002",
    "4000000000009995", "4000000000000069", "4000000000000119", "4000000000000259",
    "4000000000000127", "4276000000000009", "4276000000000017"})
#: The passwords and secret words of the demo and the tests: no log line may hold one.
TEST_SECRETS = ("DemoPass123", "Passw0rd1", "Wrong1234", "Other12345", "Secret123",
                "First12345", "Second1234", "CsvPass123", "LockMe1234", "Cancel1234",
                "Confirm123", "Monitor123", "Notify1234", "demo-secret", "serve-secret",
                "notify-secret", "notify-s3cret", "s3cret", "e2e-secret")
#: A run of 13 or more digits, blanks and hyphens allowed between them.
_DIGITS = re.compile(r"\d(?:[\s-]*\d){12,}")
_SECRETS = re.compile("|".join(re.escape(s) for s in TEST_SECRETS))
#: The log files of the test run (every server's, the worker's, the test process's own) end
#: in this, anywhere under the session's temporary directory, where the end of the session
#: looks for secrets in them (``tests/conftest.py``).
LOG_SUFFIX = ".log"


def secrets_in(text: str) -> list[str]:
    """The test cards, passwords and secret words found in ``text`` (a card number also
    when spaced or hyphenated, or run together with other digits)."""
    found = set(_SECRETS.findall(text))
    for run in _DIGITS.finditer(text):
        digits = re.sub(r"[\s-]", "", run.group(0))
        found.update(card for card in TEST_CARDS if card in digits)
    return sorted(found)


PG_ADMIN_URL = os.environ.get("ASSIST_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("ASSIST_REQUIRE_POSTGRES") == "1"


class MovableClock:
    def __init__(self):
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def move(self, **delta) -> None:
        self.offset += timedelta(**delta)

    def reset(self) -> None:
        self.offset = timedelta()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


class Emulator:
    """The processing-center emulator as a separate process, over real HTTP (every operation
    answered after ``latency`` seconds)."""

    def __init__(self, data_path: str, late_seconds: float = 2.0, latency: float = 0.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_path = data_path
        self.late_seconds, self.latency = late_seconds, latency
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Emulator":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assist_ws.cli", "emulator", "--port", str(self.port),
             "--data", self.data_path, "--late-seconds", str(self.late_seconds),
             "--latency", str(self.latency)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(self.url + "/ledger", self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def ledger(self) -> dict:
        return requests.get(self.url + "/ledger", timeout=10).json()


class Serve:
    """``assist-ws serve`` on a free port (2 workers unless told), its output (gunicorn's
    and the application's logs, as the operator sees them) in ``log_path``."""

    def __init__(self, database_url: str, var_dir: str, *, workers: int = 2,
                 threads: int | None = None, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(var_dir, f"serve-{self.port}.log")
        self.env = dict(os.environ, ASSIST_DATABASE_URL=database_url, ASSIST_SECRET_KEY="test",
                        ASSIST_VAR_DIR=var_dir, ASSIST_LOG_LEVEL="WARNING")
        self.env.update(env)
        self.args = [sys.executable, "-m", "assist_ws.cli", "serve", "--port", str(self.port),
                     "--workers", str(workers)] + (["--threads", str(threads)] if threads
                                                   else [])
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Serve":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT)
        wait_http(self.url + "/health", self.proc, timeout=40)
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def workers(self) -> list[int]:
        with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as fh:
            return [int(p) for p in fh.read().split()]

    def log(self) -> str:
        with open(self.log_path, errors="replace") as fh:
            return fh.read()


def postgres_available() -> bool:
    try:
        import psycopg
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


def create_pg_database() -> tuple[str, str]:
    """A new empty PostgreSQL database: (its URL, its name)."""
    import psycopg
    from sqlalchemy.engine import make_url
    name = "assist_test_" + uuid.uuid4().hex[:10]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(database=name)
    return url.render_as_string(hide_password=False), name


def drop_pg_database(name: str) -> None:
    import psycopg
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def require_postgres() -> None:
    if not postgres_available():
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required here but {PG_ADMIN_URL} does not answer")
        pytest.skip(f"PostgreSQL at {PG_ADMIN_URL} not available")


def reconcile(container, ledger: dict) -> None:
    """Every authorization the emulator knows matches the gateway's records: what it holds,
    settled and refunded; and nothing is open on the gateway's side."""
    from sqlalchemy import select

    from assist_ws.domain.model import (Order, TransactionState, TransactionType,
                                        held_at_center, open_transactions)

    expected: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
    with container.uow.reader() as uow:
        for order in uow.session.scalars(select(Order)):
            assert not open_transactions(order), \
                f"order {order.bill_number} still has open transactions"
            for op in order.operations:
                auth = op.authorization
                if auth is None:
                    continue
                if auth.status is not TransactionState.SUCCESS or not op.succeeded:
                    expected[auth.request_id] = (Decimal(0), Decimal(0), Decimal(0))
                    continue
                fin = op.financial
                settled = fin.amount if fin and fin.status is TransactionState.SUCCESS else 0
                refunded = sum((t.amount for o in order.operations
                                for t in o.transactions_of(TransactionType.REFUND)
                                if t.status is TransactionState.SUCCESS), Decimal(0))
                expected[auth.request_id] = (held_at_center(order).amount, Decimal(settled),
                                             refunded)
    seen = set()
    for center in ledger["centers"].values():
        for a in center["authorizations"]:
            got = (Decimal(a["held"]), Decimal(a["settled"]), Decimal(a["refunded"]))
            rid = a["request_id"]
            seen.add(rid)
            if rid not in expected:
                assert got == (0, 0, 0), f"the center holds {a} that the gateway does not know"
                continue
            assert got == expected[rid], f"authorization {rid}: center {got}, gateway " \
                                         f"{expected[rid]}"
    for rid, amounts in expected.items():
        if rid not in seen:
            assert amounts == (0, 0, 0), f"gateway expects {amounts} for {rid}, center has none"
