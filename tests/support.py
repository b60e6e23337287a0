"""Test support shared by the integration and end-to-end suites: databases, the emulator as
a real process, a movable clock, and reconciliation of the emulator's ledger with the
gateway's records (all of them, or after each test what changed)."""

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


_NOTHING = (Decimal(0), Decimal(0), Decimal(0))


def _expected(order) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """What the center should show for each authorization of ``order``: (held, settled,
    refunded); nothing for one that failed.  Fails when the order has open transactions."""
    from assist_ws.domain.model import (TransactionState, TransactionType, held_at_center,
                                        open_transactions)

    assert not open_transactions(order), \
        f"order {order.bill_number} still has open transactions"
    expected = {}
    for op in order.operations:
        auth = op.authorization
        if auth is None:
            continue
        if auth.state is not TransactionState.SUCCESS or not op.succeeded:
            expected[auth.request_id] = _NOTHING
            continue
        fin = op.financial
        settled = fin.amount if fin and fin.state is TransactionState.SUCCESS else 0
        refunded = sum((t.amount for o in order.operations
                        for t in o.transactions_of(TransactionType.REFUND)
                        if t.state is TransactionState.SUCCESS), Decimal(0))
        expected[auth.request_id] = (held_at_center(order).amount, Decimal(settled), refunded)
    return expected


def _ledger_entries(ledger: dict) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(center, request id) -> (held, settled, refunded) of every authorization of ``ledger``
    (the emulator's ``/ledger`` document)."""
    return {(name, a["request_id"]): (a["held"], a["settled"], a["refunded"])
            for name, center in ledger["centers"].items() for a in center["authorizations"]}


def _compare(expected: dict, entries: dict, rids: set[str] | None = None) -> None:
    """Each ledger entry (of ``rids`` only, when given) shows what the gateway expects, or
    nothing when the gateway does not know its authorization; and each authorization the
    gateway expects something for (of ``rids``) is at the center."""
    seen = set()
    for (_center, rid), amounts in entries.items():
        if rids is not None and rid not in rids:
            continue
        got = tuple(Decimal(v) for v in amounts)
        seen.add(rid)
        if rid not in expected:
            assert got == _NOTHING, \
                f"the center holds {rid} {amounts} that the gateway does not know"
            continue
        assert got == expected[rid], f"authorization {rid}: center {got}, gateway " \
                                     f"{expected[rid]}"
    for rid, amounts in expected.items():
        if rid not in seen and (rids is None or rid in rids):
            assert amounts == _NOTHING, f"gateway expects {amounts} for {rid}, center has none"


def reconcile(container, ledger: dict) -> None:
    """Every authorization the emulator knows matches the gateway's records: what it holds,
    settled and refunded; and nothing is open on the gateway's side."""
    from sqlalchemy import select

    from assist_ws.domain.model import Order

    expected: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
    with container.uow.reader() as uow:
        for order in uow.session.scalars(select(Order)):
            expected.update(_expected(order))
    _compare(expected, _ledger_entries(ledger))


#: The rows the reconciliation reads: every operation with its transactions, by order.
_ROWS = ("SELECT op.order_id, op.id, op.number, op.type, op.means, op.state, op.amount, "
         "op.currency, t.id, t.request_id, t.type, t.state, t.amount, t.currency "
         "FROM operations op LEFT JOIN transactions t ON t.operation_id = op.id "
         "ORDER BY op.order_id, op.id, t.id")


class Reconciler:
    """``reconcile`` for a database and an emulator that live through many tests, done after
    each test where something changed since the previous time.

    The result of ``reconcile`` is a conjunction over orders and authorizations: an order's
    own rows (its operations and their transactions) and the center's entries of its
    authorizations.  So after a first reconciliation of everything, only the orders whose
    rows changed, or whose authorizations' entries at the center changed, and the entries
    that changed, are loaded and compared: the same verdict as ``reconcile`` over the whole
    database, in the time of the few orders a test touched rather than of the thousands the
    session holds.  The state compared is remembered before the comparison, so that a
    difference fails the test that made it (and not every later one as well)."""

    def __init__(self, container, emulator):
        self.container, self.emulator = container, emulator
        self._rows: dict[int, tuple] = {}                    # order id -> its rows
        self._auths: dict[int, frozenset[str]] = {}          # order id -> its request ids
        self._entries: dict[tuple[str, str], tuple] = {}     # the center's entries

    def _read_rows(self) -> dict[int, tuple]:
        from sqlalchemy import text
        rows: dict[int, list] = {}
        with self.container.engine.connect() as conn:
            for row in conn.execute(text(_ROWS)):
                rows.setdefault(row[0], []).append(tuple(row))
        return {order_id: tuple(r) for order_id, r in rows.items()}

    def _load(self, ids: list[int]):
        from sqlalchemy import select

        from assist_ws.domain.model import Order
        with self.container.uow.reader() as uow:
            for start in range(0, len(ids), 500):
                yield from uow.session.scalars(
                    select(Order).where(Order.id.in_(ids[start:start + 500])))

    def __call__(self) -> None:
        rows = self._read_rows()
        entries = _ledger_entries(self.emulator.ledger())
        changed = {oid for oid, r in rows.items() if self._rows.get(oid) != r}
        gone = self._rows.keys() - rows.keys()
        rids = {key[1] for key, amounts in entries.items() if self._entries.get(key) != amounts}
        rids |= {rid for _center, rid in self._entries.keys() - entries.keys()}
        if rids:  # the orders whose authorizations moved at the center
            owner = {row[9]: oid for oid in rows.keys() - changed for row in rows[oid]
                     if row[9] is not None}
            changed |= {owner[rid] for rid in rids if rid in owner}
        self._rows, self._entries = rows, entries
        expected: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
        for oid in gone:  # (an order removed: the center must hold nothing for it)
            expected.update(dict.fromkeys(self._auths.pop(oid, ()), _NOTHING))
        for order in self._load(sorted(changed)):
            mine = _expected(order)
            self._auths[order.id] = frozenset(mine)
            expected.update(mine)
        _compare(expected, entries, rids | expected.keys())
