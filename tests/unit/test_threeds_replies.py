"""3-D Secure in what merchants read: ``authresult`` and ``authrequired`` as Assist's replies
and notifications carry them, from the pay operation's recorded result."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from assist_ws.domain.cards import auth_required
from assist_ws.domain.model import OperationType, Order
from assist_ws.domain.money import Money
from assist_ws.notify.wire import post_fields
from assist_ws.services.replies import result_operation
from assist_ws.services.results import OperationView

from .test_notify_wire import CARD, notice

NOW = datetime(2026, 12, 8, 5, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("result, required", [("Y", "1"), ("N", "1"), ("A", "1"),
                                              ("U", "0"), (None, None), ("", None)])
def test_authrequired_follows_the_authentication_result(result, required):
    assert auth_required(result) == required


def test_orderresult_shows_the_pay_operations_3ds_result():
    order = Order(100001, "A-1", Money(Decimal("10.00"), "RUB"), NOW)
    op = order.add_operation(OperationType.PAY, order.money, NOW)
    op.eci, op.auth_result = "05", "Y"
    fields = result_operation(OperationView.of(order, op))
    assert (fields["authresult"], fields["authrequired"]) == ("Y", "1")
    op.auth_result = None  # a card that never met 3-D Secure: both empty, as before
    fields = result_operation(OperationView.of(order, op))
    assert (fields["authresult"], fields["authrequired"]) == (None, None)


def test_the_notification_carries_the_3ds_result():
    sent = dict(post_fields(notice([dict(CARD, auth_result="N")]), None))
    assert (sent["authresult"], sent["authrequired"]) == ("N", "1")
    sent = dict(post_fields(notice([CARD]), None))
    assert (sent["authresult"], sent["authrequired"]) == ("", "")
