"""The demo merchant's history (``assist-ws demo --orders N``), on SQLite and PostgreSQL:
orders of every story over the last 90 days whose operations agree with their states as the
domain reads them, that settlement and hold expiry leave alone, that the cabinet's monitor
and report show, and that a second run does not add again."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from assist_ws.db import demo_history
from assist_ws.db.tables import operations, orders, transactions
from assist_ws.domain.model import OperationType, Right
from assist_ws.services import admin

from .test_cabinet import PASSWORD, Browser, text
from .test_cli import cli  # noqa: F401  (the fixture)

CENTERS = {"RUB": "emulator-rub", "USD": "emulator-usd"}


@pytest.fixture
def merchant(gw):
    """A merchant of its own; its history is removed afterwards, as no center knows it (the
    session's reconciliation with the emulator's ledger would miss it)."""
    merchant = random.randint(3_000_000, 2_000_000_000)
    yield merchant
    with gw.engine.begin() as conn:
        ids = select(orders.c.id).where(orders.c.merchant_id == merchant)
        ops = select(operations.c.id).where(operations.c.order_id.in_(ids))
        conn.execute(delete(transactions).where(transactions.c.operation_id.in_(ops)))
        conn.execute(delete(operations).where(operations.c.order_id.in_(ids)))
        conn.execute(delete(orders).where(orders.c.merchant_id == merchant))


def test_history_agrees_with_the_domain_and_is_left_alone(gw, merchant):
    admin.save_merchant(gw.uow, merchant, admin.MerchantSettings(
        name="History shop", currencies=("RUB", "USD"), two_stage=True,
        processing=tuple(CENTERS.items())), create=True)
    now = gw.clock.now()
    with gw.uow.reader() as r:
        due = {c: r.settlements.count_due(c, now + timedelta(days=1)) for c in CENTERS.values()}
        expiring = len(r.orders.holds_expired(now + timedelta(days=400), 10_000))
    assert demo_history.fill(gw.engine, merchant, 400, now, centers=CENTERS, seed=7) == 400
    assert demo_history.fill(gw.engine, merchant, 400, now, centers=CENTERS) == 0
    assert demo_history.fill(gw.engine, merchant, 410, now, centers=CENTERS) == 10
    with gw.engine.connect() as conn:
        bills = conn.execute(orders.select().with_only_columns(orders.c.bill_number).where(
            orders.c.merchant_id == merchant)).scalars().all()
    assert len(bills) == 410
    states: Counter = Counter()
    with gw.uow.reader() as r:
        for bill in bills:
            order = r.orders.get(bill)
            assert now - timedelta(days=90) <= order.created_at <= now
            by_type = {op.type: op for op in order.operations}
            pay = by_type.get(OperationType.PAY)
            states[order.state] += 1
            if order.state == "In Process":
                assert not order.operations
            elif order.state == "Declined":
                assert pay.state == "Declined" and pay.response_code.startswith("AS1")
            else:
                assert pay.state == "Success" and pay.amount == order.amount
                assert pay.means_number.startswith(("411111", "555555", "220000"))
                assert pay.authorization.state == "success"
                # Settled exactly when the state owes the merchant money; never in flight.
                assert order.settled() == (order.state in (
                    "Approved", "PartialDelayed", "PartialCanceled"))
                assert not order.settlement_open()
            if order.state == "Delayed":
                assert order.check_confirm(None).amount == order.amount  # confirmable
            if order.state == "PartialDelayed":
                assert by_type[OperationType.CONFIRM].amount < order.amount
            if order.state == "Canceled":
                assert by_type[OperationType.CANCEL].amount == order.amount
                assert [t.type for t in by_type[OperationType.CANCEL].transactions] == [
                    "reversal"]
            if order.state == "PartialCanceled":
                assert Decimal(0) < by_type[OperationType.CANCEL].amount < order.amount
        assert {s: r.settlements.count_due(s, now + timedelta(days=1))
                for s in CENTERS.values()} == due
        assert len(r.orders.holds_expired(now + timedelta(days=400), 10_000)) == expiring
    assert set(states) == {"Approved", "Delayed", "PartialDelayed", "Canceled",
                           "PartialCanceled", "Declined", "In Process"}

    # The cabinet shows them: the monitor over 90 days, and the report's days.
    admin.add_user(gw.uow, merchant, "history1", PASSWORD, [Right.MONITOR])
    b = Browser(gw)
    b.sign_in("history1", merchant=merchant)
    since = (now - timedelta(days=90)).date()
    page = text(b.get(f"/account/orders?from={since}&to={now.date()}&number=HIST-%25"))
    totals = re.findall(r"<tr><td>(RUB|USD)</td><td>([^<]+)</td><td class=\"num\">"
                        r"(\d+)</td>", page)
    assert {cur for cur, _state, _n in totals} == {"RUB", "USD"}
    assert sum(int(n) for _cur, _state, n in totals) == 410
    report = text(b.get(f"/account/reports?from={since}&to={now.date()}"))
    assert report.count('class="report-row"') > 30 and 'id="chart-RUB"' in report


def test_demo_orders_option(cli):  # noqa: F811
    first = cli("demo", "--emulator-url", "http://127.0.0.1:18081", "--orders", "120").stdout
    assert "120 orders added" in first
    again = cli("demo", "--emulator-url", "http://127.0.0.1:18081", "--orders", "120").stdout
    assert "0 orders added" in again
    refused = cli("demo", "--orders", "-5", ok=False)
    assert refused.returncode == 2 and "--orders" in refused.stderr
