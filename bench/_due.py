"""Due settlements in bulk, for the settle benchmark and the many-workers tests.

``seed_due_payments`` writes ``n`` one-stage card payments approved at ``approved_at``
straight into the gateway's tables with a few SQL statements (PostgreSQL generates the rows
itself; SQLite gets them from Python), and ``import_authorizations`` records the matching
authorizations in the emulator's ledger file.  Billnumbers are ``PREFIX`` + a 10-digit
counter; each authorization's request id is ``auth-`` + its billnumber, so both sides are
derived from ``(prefix, n)`` without holding a million ids in memory.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from decimal import Decimal
from typing import Iterator

from sqlalchemy import text
from sqlalchemy.engine import Engine

AUTH_PREFIX = "auth-"


def new_prefix() -> str:
    """Six digits (first one not 0) that make this run's billnumbers unique."""
    return str(100000 + secrets.randbelow(900000))


def bill_numbers(prefix: str, n: int) -> Iterator[str]:
    for i in range(n):
        yield f"{prefix}{i:010d}"


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def seed_due_payments(engine: Engine, n: int, *, prefix: str, merchant_id: int,
                      center: str, currency: str = "RUB", amount: Decimal = Decimal("100.00"),
                      approved_at: datetime, chunk: int = 200_000) -> None:
    """``n`` Approved one-stage orders at ``center`` with a successful card payment and its
    authorization, due for settlement since ``approved_at``."""
    when = _naive(approved_at)
    params = {"mid": merchant_id, "cur": currency, "amt": str(amount), "center": center,
              "at": when, "prefix": prefix, "auth": AUTH_PREFIX}
    lo, hi = f"{prefix}{0:010d}", f"{prefix}{n - 1:010d}"
    with engine.begin() as conn:
        pg = conn.dialect.name == "postgresql"
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            if pg:
                conn.execute(text(
                    "INSERT INTO orders (bill_number, merchant_id, order_number, amount, "
                    "currency, delay, language, state, payment_means, test_mode, center, "
                    "hold_expires_at, created_at, updated_at) "
                    "SELECT :prefix || lpad(g::text, 10, '0'), :mid, 'BENCH-' || g, "
                    "CAST(:amt AS numeric), :cur, false, 'RU', 'Approved', '[\"card\"]', false, "
                    ":center, CAST(:at AS timestamp) + interval '7 days', :at, :at "
                    "FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g"),
                    dict(params, lo=start, hi=stop - 1))
            else:
                conn.execute(text(
                    "INSERT INTO orders (bill_number, merchant_id, order_number, amount, "
                    "currency, delay, language, state, payment_means, test_mode, center, "
                    "hold_expires_at, created_at, updated_at) VALUES (:bill, :mid, :num, "
                    ":amt, :cur, 0, 'RU', 'Approved', '[\"card\"]', 0, :center, :at, :at, :at)"),
                    [dict(params, bill=f"{prefix}{g:010d}", num=f"BENCH-{g}")
                     for g in range(start, stop)])
        conn.execute(text(
            "INSERT INTO operations (order_id, number, type, state, amount, currency, means, "
            "means_type, means_number, response_code, approval_code, message, "
            "processing_name, auto_deposit, created_at, finished_at) "
            "SELECT id, 1, 100, 'Success', amount, currency, 'card', 'VISA', "
            "'411111******1111', 'AS000', 'BENCH1', 'Authorization successfully completed', "
            ":center, false, :at, :at FROM orders WHERE bill_number BETWEEN :lo AND :hi"),
            dict(params, lo=lo, hi=hi))
        conn.execute(text(
            "INSERT INTO transactions (operation_id, request_id, type, state, center, amount, "
            "currency, response_code, attempts, created_at, sent_at, finished_at) "
            "SELECT op.id, :auth || o.bill_number, 'authorization', 'success', :center, "
            "op.amount, op.currency, 'AS000', 1, :at, :at, :at "
            "FROM operations op JOIN orders o ON o.id = op.order_id "
            "WHERE o.bill_number BETWEEN :lo AND :hi"), dict(params, lo=lo, hi=hi))
        if pg:
            conn.execute(text("ANALYZE orders; ANALYZE operations; ANALYZE transactions"))


def import_authorizations(ledger_path: str, center_name: str, n: int, *, prefix: str,
                          amount: Decimal = Decimal("100.00"), centers=None) -> int:
    """Record the seeded payments' authorizations in the emulator's ledger file (the
    emulator may be running: the ledger is SQLite in WAL mode)."""
    from assist_ws.emulator import DEFAULT_CENTERS
    from assist_ws.emulator.ledger import Ledger
    center = next(c for c in (centers or DEFAULT_CENTERS) if c.name == center_name)
    ledger = Ledger(ledger_path)
    try:
        return ledger.import_authorizations(
            center, ((AUTH_PREFIX + bill, amount, "411111******1111")
                     for bill in bill_numbers(prefix, n)))
    finally:
        ledger.close()
