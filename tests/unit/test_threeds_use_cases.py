"""Recording the center's "authentication required": the payment waits for the buyer at an
ACS of the center's own origin (never another), with a return nonce, and the resolver leaves
it alone until the buyer's deadline."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from assist_ws.domain.model import (OperationType, Order, ProcessingCenter, Transaction,
                                    TransactionType)
from assist_ws.domain.money import Money
from assist_ws.domain.ports import Outcome, ProcessingReply
from assist_ws.services.authentication import awaiting, record_authorization

NOW = datetime(2026, 12, 8, 5, 0, tzinfo=timezone.utc)
CENTER = ProcessingCenter("emulator-rub", "http://127.0.0.1:8081/emulator-rub?wsdl", "RUB")


def paying():
    order = Order(100001, "A-1", Money(Decimal("10.00"), "RUB"), NOW)
    op = order.add_operation(OperationType.PAY, order.money, NOW)
    tx = op.add_transaction(Transaction(TransactionType.AUTHORIZATION, CENTER.name,
                                        Decimal("10.00"), "RUB", NOW))
    tx.mark_sent(NOW)
    return order, op, tx


def required(url="http://127.0.0.1:8081/acs", auth_id="abc"):
    return ProcessingReply(Outcome.AUTHENTICATE, "AS110", "3-D Secure authentication required",
                           acs_url=url, authentication_id=auth_id)


def test_the_payment_waits_for_the_buyer_at_the_centers_acs():
    order, op, tx = paying()
    deadline = NOW + timedelta(minutes=20)
    record_authorization(order, op, tx, required(), NOW, deadline, CENTER)
    assert awaiting(order) is op and op.acs_nonce and op.acs_url.endswith("/acs")
    assert order.state == "In Process" and tx.state == "sent"
    assert tx.next_attempt_at == deadline


@pytest.mark.parametrize("url, auth_id", [
    ("https://evil.example/acs", "abc"),       # another origin
    ("http://127.0.0.1:9999/acs", "abc"),      # another port
    ("javascript:alert(1)", "abc"),
    ("http://127.0.0.1:8081/acs", ""),         # no id for the ACS
    ("http://127.0.0.1:8081/" + "a" * 600, "abc"),
])
def test_an_acs_anywhere_else_declines_the_payment(url, auth_id):
    order, op, tx = paying()
    record_authorization(order, op, tx, required(url, auth_id), NOW, NOW, CENTER)
    assert awaiting(order) is None and op.acs_url is None
    assert order.state == "Declined" and op.state == "Declined"


def test_an_outcome_records_the_3ds_result():
    order, op, tx = paying()
    reply = ProcessingReply(Outcome.SUCCESS, "AS000", "approved", approval_code="A1B2C3",
                            eci="05", auth_result="Y")
    record_authorization(order, op, tx, reply, NOW, NOW, CENTER)
    assert order.state == "Approved" and (op.eci, op.auth_result) == ("05", "Y")
