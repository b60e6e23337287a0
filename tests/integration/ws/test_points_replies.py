"""A card + points payment as the merchant sees it: ``orderresult`` (every POST format and
SOAP) and ``resultbydate`` list its pay operations and the accrual with their means type, and
the result notifications carry both pay operations (SOAP) or one per operation (POST)."""

from __future__ import annotations

import dataclasses
import random
import uuid

import pytest
import requests

from assist_ws.domain.cards import parse_card
from assist_ws.domain.model import Right
from assist_ws.jobs.notifications import run_once
from assist_ws.notify import HttpNotificationSender
from assist_ws.services import admin
from assist_ws.services.notifications.outbox import NotifySettings
from assist_ws.services.orders import AuthorizationRequest, create_order

from ...merchant_endpoint import MerchantEndpoint, packet_reply
from .test_post_formats import parse

LOGIN, PASSWORD = "bonus_erp", "Bonus12345"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NS = "http://www.paysecure.ru/ws/"


@pytest.fixture
def endpoint():
    e = MerchantEndpoint().start()
    yield e
    e.stop()


@pytest.fixture
def sender(gw):
    """The gateway delivering to loopback; after the test, the points its payments took go
    back to the card (the emulator's cards live as long as the session)."""
    c = dataclasses.replace(gw, notifier=HttpNotificationSender(
        connect_timeout=1, timeout=3, allowed_ports=None, allow_private=True))
    c.paid = []  # type: ignore[attr-defined]
    _give_up_pending(gw, "left by another test")
    yield c
    for mid, bill in c.paid:
        gw.cancel(mid, bill)
    _give_up_pending(gw, "end of test")


def _give_up_pending(gw, why: str) -> None:
    """No pending notification counts in (or outlives) a test's delivery passes."""
    with gw.uow as uow:
        for n in uow.notifications.find(None, states=["pending"], limit=100000):
            n.give_up(gw.clock.now(), why)
        uow.commit()


def bonus_shop(c, url: str, protocol: str) -> int:
    mid = random.randint(300000, 2_000_000_000)
    admin.save_merchant(c.uow, mid, admin.MerchantSettings(
        name="Bonus shop", currencies=("RUB",), secret_word="s3cret",
        processing=(("RUB", "emulator-rub"),), bonus_program=True, accrual_rate="1",
        notify=NotifySettings(url=url, protocol=protocol, results="pay,accrual",
                              expected_reply="packet" if protocol == "soap" else None)),
        create=True, check_notify_url=c.notifier.check_url)
    admin.add_user(c.uow, mid, LOGIN, PASSWORD, [Right.MONITOR, Right.EXPORT], replace=True)
    return mid


def paid_with_points(c, mid) -> tuple[str, str]:
    number = "PTS-" + uuid.uuid4().hex[:10]
    order = create_order(c.uow, c.clock, AuthorizationRequest(
        str(mid), number, "1000.00", "RUB", max_points="300"))
    result = c.pay_by_card(order.bill_number, parse_card(
        "4276000000000009", "12", "2030", "TEST HOLDER", "123", c.clock.now()), points=300)
    assert result.order.state == "Approved"
    c.paid.append((mid, order.bill_number))
    return number, order.bill_number


def _ops(fmt: str, rows: list[dict]) -> list[tuple]:
    if fmt == "1":
        rows = [{("billnumber" if k == "operationbillnumber" else k): v for k, v in r.items()}
                for r in rows]
    else:
        [order] = rows
        rows = order["operation"]
    return [(r["billnumber"], r["operationtype"], r["meantypename"], r["amount"],
             r["operationstate"]) for r in rows]


def expected(bill: str) -> list[tuple]:
    return [(f"{bill}.1", "100", "VISA", "700.00", "Success"),
            (f"{bill}.2", "100", "SPASIBO", "300.00", "Success"),
            (f"{bill}.3", "500", "SPASIBO", "7.00", "Success")]


@pytest.mark.parametrize("fmt", ["1", "3", "5"])
def test_orderresult_lists_the_points_and_accrual(gw, server, sender, endpoint, fmt):
    mid = bonus_shop(sender, endpoint.url(), "post")
    number, bill = paid_with_points(sender, mid)
    r = requests.post(server.cfm("orderresult"), data={
        "Merchant_ID": str(mid), "Login": LOGIN, "Password": PASSWORD, "Format": fmt,
        "OrderNumber": number}, timeout=30)
    codes, rows = parse(fmt, r)
    assert codes == (0, 0)
    assert _ops(fmt, rows) == expected(bill)


def test_orderresult_over_soap_and_resultbydate(gw, server, sender, endpoint, zeep_clients):
    mid = bonus_shop(sender, endpoint.url(), "post")
    number, bill = paid_with_points(sender, mid)
    [order] = list(zeep_clients["orderresult"].service.orderresult(
        merchant_id=mid, login=LOGIN, password=PASSWORD, ordernumber=number) or [])
    got = [(o.billnumber, str(o.operationtype), o.meantypename, f"{o.amount:.2f}",
            o.operationstate) for o in order.operation]
    assert got == expected(bill)

    r = requests.post(server.cfm("resultbydate"), data={
        "Merchant_ID": str(mid), "Login": LOGIN, "Password": PASSWORD, "Format": "3"},
        timeout=30)
    codes, rows = parse("3", r, row="operation")
    assert codes == (0, 0)
    assert [(r["billnumber"], r["operationtype"], r["meantypename"], r["amount"])
            for r in rows if r["billnumber"].startswith(bill)] == [e[:4] for e in expected(bill)]


def test_post_notifications_one_per_pay_operation(gw, sender, endpoint):
    mid = bonus_shop(sender, endpoint.url(), "post")
    _number, bill = paid_with_points(sender, mid)
    assert run_once(sender) == 3
    got = [(r.form["operationtype"], r.form["meantypename"], r.form["amount"],
            r.form["orderstate"]) for r in endpoint.received]
    assert got == [("100", "VISA", "700.00", "Approved"),
                   ("100", "SPASIBO", "300.00", "Approved"),
                   ("500", "SPASIBO", "7.00", "Approved")]
    assert {r.form["billnumber"] for r in endpoint.received} == {bill}


def test_soap_notification_carries_both_pay_operations(gw, sender, endpoint):
    endpoint.default = packet_reply
    mid = bonus_shop(sender, endpoint.url(), "soap")
    _number, bill = paid_with_points(sender, mid)
    assert run_once(sender) == 2
    pay, accrual = endpoint.received
    push = pay.xml.find(f"{{{SOAP_ENV}}}Body/{{{NS}}}PushPaymentResult")
    assert [(op.findtext("billnumber"), op.findtext("operationtype"),
             op.findtext("meantypename"), op.findtext("amount"))
            for op in push.findall("order/operation")] == [
        (f"{bill}.1", "100", "VISA", "700.00"), (f"{bill}.2", "100", "SPASIBO", "300.00")]
    push = accrual.xml.find(f"{{{SOAP_ENV}}}Body/{{{NS}}}PushPaymentResult")
    assert [(op.findtext("billnumber"), op.findtext("operationtype"))
            for op in push.findall("order/operation")] == [(f"{bill}.3", "500")]
