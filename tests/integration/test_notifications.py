"""Result notifications end to end, on SQLite and PostgreSQL: real payments against the
emulator, the outbox written with the state change, delivery by ``jobs.notifications.run_once``
to a merchant endpoint over real HTTP, retries on a moved clock, replay, and two workers."""

from __future__ import annotations

import dataclasses
import os
import random
import re
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import text

from assist_ws.domain.cards import parse_card
from assist_ws.domain.checkvalue import result_checkvalue
from assist_ws.domain.errors import NotFound, ValidationError
from assist_ws.domain.model import Customer
from assist_ws.domain.states import OrderEvent
from assist_ws.jobs.notifications import run_once
from assist_ws.notify import HttpNotificationSender
from assist_ws.services import admin
from assist_ws.services.notifications import outbox
from assist_ws.services.notifications.outbox import NotifySettings
from assist_ws.services.notifications.queries import details, notifications_of
from assist_ws.services.orders import AuthorizationRequest, create_order
from assist_ws.services.payment import OrderTimedOut

from ..merchant_endpoint import Answer, MerchantEndpoint, packet_reply

SECRET = "notify-secret"
VISA = "4111111111111111"
DECLINED = "4000000000000002"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NS = "http://www.paysecure.ru/ws/"
WSDL = Path(__file__).resolve().parents[2] / "wsdl" / "pushpaymentresult.wsdl"


@pytest.fixture
def ngw(gw):
    """The gateway, delivering to any port on loopback with short timeouts.  Afterwards
    nothing of the test stays pending (so no other test delivers it)."""
    container = dataclasses.replace(gw, notifier=HttpNotificationSender(
        connect_timeout=1, timeout=3, allowed_ports=None, allow_private=True))
    yield container
    with gw.uow as uow:
        uow.session.execute(text("UPDATE notifications SET state = 'expired', "
                                 "next_attempt_at = NULL WHERE state = 'pending'"))
        uow.commit()


@pytest.fixture
def endpoint():
    e = MerchantEndpoint().start()
    yield e
    e.stop()


def make_shop(c, url: str, **notify) -> int:
    """A merchant of its own whose results go to ``url``."""
    mid = random.randint(300000, 2_000_000_000)
    admin.save_merchant(c.uow, mid, admin.MerchantSettings(
        name="Notified shop", currencies=("RUB",), two_stage=True, secret_word=SECRET,
        processing=(("RUB", "emulator-rub"),), notify=NotifySettings(url=url, **notify)),
        create=True, check_notify_url=c.notifier.check_url)
    return mid


def new_order(c, mid, amount="150.00", delay=False, number=None):
    return create_order(c.uow, c.clock, AuthorizationRequest(
        str(mid), number or "N-" + uuid.uuid4().hex[:10], amount, "RUB",
        delay="1" if delay else "0", comment="Books",
        customer=Customer(lastname="Ivanov", firstname="Ivan", email="ivan@example.com")))


def pay(c, mid, amount="150.00", delay=False, card=VISA, number=None):
    order = new_order(c, mid, amount, delay, number)
    c.pay_by_card(order.bill_number, parse_card(card, "12", "2030", "TEST HOLDER", "123",
                                                c.clock.now()))
    return order


def only(c, bill):
    [n] = notifications_of(c.uow, bill_number=bill)
    return n


def verifies(order_fields: dict, amount: str, currency: str, secret: str = SECRET) -> bool:
    return order_fields["checkvalue"] == result_checkvalue(
        secret, order_fields["merchant_id"], order_fields["ordernumber"], amount, currency,
        order_fields["orderstate"])


def push_schema() -> etree.XMLSchema:
    wsdl = etree.parse(str(WSDL))
    schema = wsdl.find(".//{http://www.w3.org/2001/XMLSchema}schema")
    return etree.XMLSchema(etree.fromstring(etree.tostring(schema)))


# -- what is sent -------------------------------------------------------------------------
def test_a_post_notification_carries_a_checkvalue_that_verifies(ngw, endpoint):
    mid = make_shop(ngw, endpoint.url())
    order = pay(ngw, mid)
    assert run_once(ngw) == 1
    [got] = endpoint.received
    f = got.form
    assert got.path == "/assist/result"
    assert got.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert list(f)[:3] == ["merchant_id", "ordernumber", "billnumber"]
    assert (f["merchant_id"], f["ordernumber"], f["billnumber"]) == (
        str(mid), order.order_number, order.bill_number)
    assert (f["orderstate"], f["operationtype"], f["responsecode"]) == ("Approved", "100",
                                                                         "AS000")
    assert (f["amount"], f["currency"], f["orderamount"], f["ordercurrency"]) == (
        "150.00", "RUB", "150.00", "RUB")
    assert f["meannumber"] == "411111******1111" and f["meantypename"] == "VISA"
    assert f["lastname"] == "Ivanov" and f["ordercomment"] == "Books" and f["approvalcode"]
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d", f["packetdate"])
    assert VISA not in got.body.decode() and "123" not in f["cardholder"]
    assert verifies(f, f["amount"], f["currency"])
    assert not verifies(f, f["amount"], f["currency"], secret="another word")
    assert f["notificationseq"] == "1" and f["notificationid"] == got.notification_id
    assert got.headers["x-assist-notification-seq"] == "1"
    view, journal, _ = details(ngw.uow, got.notification_id)
    assert view.state == "delivered" and view.attempts == 1
    assert [(a.verdict, a.http_status) for a in journal] == [("delivered", 200)]
    assert run_once(ngw) == 0


def test_a_soap_notification_carries_a_checkvalue_that_verifies(ngw, endpoint):
    endpoint.default = packet_reply
    mid = make_shop(ngw, endpoint.url(), protocol="soap", expected_reply="packet")
    order = pay(ngw, mid, "99.90")
    assert run_once(ngw) == 1
    [got] = endpoint.received
    assert got.headers["soapaction"] == f'"{NS}PushPaymentResult"'
    envelope = got.xml
    push = envelope.find(f"{{{SOAP_ENV}}}Body/{{{NS}}}PushPaymentResult")
    push_schema().assertValid(push)  # what wsdl/pushpaymentresult.wsdl promises merchants
    o = {el.tag: el.text or "" for el in push.find("order") if el.tag != "operation"}
    [op] = push.findall("order/operation")
    assert o["billnumber"] == order.bill_number and o["orderstate"] == "Approved"
    assert op.findtext("billnumber") == order.bill_number + ".1"
    assert op.findtext("operationtype") == "100" and op.findtext("operationstate") == "Success"
    assert verifies(o, op.findtext("amount"), op.findtext("currency"))
    header = envelope.find(f"{{{SOAP_ENV}}}Header/{{{NS}}}notification")
    assert header.findtext("notificationid") == got.notification_id
    assert header.findtext("notificationseq") == "1"
    assert only(ngw, order.bill_number).state == "delivered"


def test_settings_choose_which_results_are_sent(ngw, endpoint):
    mid = make_shop(ngw, endpoint.url(), results="pay,cancel", only_success=True)
    declined = pay(ngw, mid, card=DECLINED)
    held = pay(ngw, mid, "300.00", delay=True)
    ngw.confirm(mid, held.bill_number)          # confirm results are not asked for
    ngw.cancel(mid, held.bill_number)
    assert run_once(ngw) == 2
    assert [(r.form["billnumber"], r.form["operationtype"], r.form["orderstate"])
            for r in endpoint.received] == [(held.bill_number, "100", "Delayed"),
                                            (held.bill_number, "300", "Canceled")]
    assert [r.form["notificationseq"] for r in endpoint.received] == ["1", "2"]
    assert notifications_of(ngw.uow, bill_number=declined.bill_number) == []

    admin.save_merchant(ngw.uow, mid, admin.MerchantSettings(
        notify=NotifySettings(only_success=False)), create=False)
    again = pay(ngw, mid, card=DECLINED)
    assert run_once(ngw) == 1
    f = endpoint.received[-1].form
    assert (f["billnumber"], f["orderstate"], f["responsecode"]) == (
        again.bill_number, "Declined", "AS100")


def test_an_order_closed_by_timeout_is_notified(ngw, endpoint):
    mid = make_shop(ngw, endpoint.url())
    order = new_order(ngw, mid)
    ngw.clock.move(minutes=25)
    with pytest.raises(OrderTimedOut):
        ngw.pay_by_card(order.bill_number, parse_card(VISA, "12", "2030", "TEST HOLDER", "123",
                                                      ngw.clock.now()))
    assert run_once(ngw) == 1
    f = endpoint.received[0].form
    assert (f["orderstate"], f["operationtype"], f["amount"]) == ("Timeout", "100", "150.00")
    assert verifies(f, f["amount"], f["currency"])


# -- never lost ---------------------------------------------------------------------------
def test_the_outbox_row_is_written_with_the_state_change(ngw, endpoint, monkeypatch):
    mid = make_shop(ngw, endpoint.url(), results="pay,confirm")
    order = pay(ngw, mid, delay=True)
    # No worker ran: the notification waits in the outbox, written by the payment's commit.
    n = only(ngw, order.bill_number)
    assert (n.state, n.attempts, n.order_state, n.kind) == ("pending", 0, "Delayed", "pay")

    # If the outbox cannot be written, the state change is not written either.
    def broken(*args, **kw):
        raise RuntimeError("disk full")
    monkeypatch.setattr(outbox, "content_of", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        ngw.confirm(mid, order.bill_number)
    monkeypatch.undo()
    with ngw.uow.reader() as uow:
        assert uow.orders.get(order.bill_number).state == "Delayed"
    assert len(notifications_of(ngw.uow, bill_number=order.bill_number)) == 1

    ngw.confirm(mid, order.bill_number)
    assert run_once(ngw) == 2
    assert [r.form["orderstate"] for r in endpoint.received] == ["Delayed", "Approved"]


def test_results_undone_by_a_rollback_are_not_notified(ngw, endpoint):
    mid = make_shop(ngw, endpoint.url())
    order = new_order(ngw, mid)
    with ngw.uow as uow:
        uow.orders.get(order.bill_number, lock=True).apply(OrderEvent.BUYER_TIMEOUT,
                                                           ngw.clock.now())
        uow.rollback()
        uow.commit()
    with ngw.uow.reader() as uow:
        assert uow.orders.get(order.bill_number).state == "In Process"
    assert notifications_of(ngw.uow, bill_number=order.bill_number) == []


def test_a_worker_killed_while_sending_loses_nothing(ngw, endpoint, tmp_path):
    mid = make_shop(ngw, endpoint.url())
    order = pay(ngw, mid)
    endpoint.hold = threading.Event()  # the merchant does not answer the first try
    code = (
        "from assist_ws.bootstrap import build\n"
        "from assist_ws.config import Settings\n"
        "from assist_ws.jobs.notifications import run_once\n"
        f"c = build(Settings(database_url={ngw.settings.database_url!r}, notify_ports='*', "
        f"notify_allow_private=True, secret_key='x', var_dir={str(tmp_path)!r}))\n"
        "run_once(c)\n")
    worker = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    try:
        assert endpoint.arrived.wait(30), worker.stderr.read().decode()
    finally:
        worker.kill()
        worker.wait()
    endpoint.hold.set()
    n = only(ngw, order.bill_number)
    assert n.state == "pending" and n.attempts == 0  # claimed, never recorded

    assert run_once(ngw) == 0  # the dead worker's claim still holds
    ngw.clock.move(minutes=11)  # ... until its lease ends
    assert run_once(ngw) == 1
    assert endpoint.ids() == [n.notification_id] * 2  # the same id: the merchant drops one
    assert only(ngw, order.bill_number).state == "delivered"


# -- retries ------------------------------------------------------------------------------
def test_three_500s_then_200_is_delivered_on_the_fourth_try(ngw, endpoint):
    endpoint.script = [Answer(500, b"oops")] * 3
    mid = make_shop(ngw, endpoint.url())
    order = pay(ngw, mid)
    gaps = []
    for _ in range(3):
        assert run_once(ngw) == 1
        assert run_once(ngw) == 0  # not again at once
        n = only(ngw, order.bill_number)
        gaps.append(n.next_attempt_at - ngw.clock.now())
        ngw.clock.move(hours=1)
    assert gaps[0] < gaps[1] < gaps[2]  # growing intervals
    assert run_once(ngw) == 1
    n = only(ngw, order.bill_number)
    assert n.state == "delivered" and n.attempts == 4
    _, journal, _ = details(ngw.uow, n.notification_id)
    assert [a.number for a in journal] == [1, 2, 3, 4]
    assert [(a.verdict, a.http_status) for a in journal] == [("failed", 500)] * 3 + [
        ("delivered", 200)]
    assert journal[0].reply_excerpt == "oops" and journal[0].url == endpoint.url()
    assert all(a.duration_ms >= 0 and a.started_at for a in journal)
    assert endpoint.ids() == [n.notification_id] * 4
    assert len({r.body for r in endpoint.received}) == 1  # the same content every time


def test_an_endpoint_down_for_an_hour_gets_the_notification_once_it_is_up(ngw):
    endpoint = MerchantEndpoint()  # not listening yet
    mid = make_shop(ngw, endpoint.url())
    order = pay(ngw, mid)
    tries = 0
    for _ in range(12):
        tries += run_once(ngw)
        ngw.clock.move(minutes=5)
    assert tries >= 5
    n = only(ngw, order.bill_number)
    assert n.state == "pending" and "refused" in n.last_error
    endpoint.start()
    try:
        ngw.clock.move(hours=1)
        assert run_once(ngw) == 1
        assert endpoint.ids() == [n.notification_id]
        assert endpoint.received[0].form["orderstate"] == "Approved"
        assert only(ngw, order.bill_number).state == "delivered"
    finally:
        endpoint.stop()


def test_a_url_refused_when_connecting_is_a_failed_try_journaled_and_retried(ngw, endpoint):
    # Set while private addresses were allowed; the worker now allows none: it refuses the
    # address (not the URL, which passes as written) when it resolves the host.
    mid = make_shop(ngw, endpoint.url(host="localhost"))
    order = pay(ngw, mid)
    strict = dataclasses.replace(ngw, notifier=HttpNotificationSender(
        connect_timeout=1, timeout=3, allowed_ports=None, allow_private=False))
    assert run_once(strict) == 1
    n = only(ngw, order.bill_number)
    assert n.state == "pending" and n.next_attempt_at > ngw.clock.now()
    assert "resolves to" in n.last_error and "public addresses only" in n.last_error
    _, journal, _ = details(ngw.uow, n.notification_id)
    assert [(a.verdict, a.http_status, a.url) for a in journal] == [
        ("failed", None, endpoint.url(host="localhost"))]
    assert journal[0].error == n.last_error and endpoint.received == []
    for _ in range(20):  # 20 x 4 h: past the 3 days, as any URL not allowed
        ngw.clock.move(hours=4)
        run_once(strict)
    assert only(ngw, order.bill_number).state == "expired" and endpoint.received == []


def test_a_later_notification_never_overtakes_an_earlier_one(ngw, endpoint):
    endpoint.script = [Answer(503)]
    mid = make_shop(ngw, endpoint.url(), results="pay,confirm")
    order = pay(ngw, mid, delay=True)
    ngw.confirm(mid, order.bill_number)
    assert run_once(ngw) == 1  # #1 fails; #2 waits for it
    assert run_once(ngw) == 0
    ngw.clock.move(minutes=5)
    assert run_once(ngw) == 2
    assert [r.form["notificationseq"] for r in endpoint.received] == ["1", "1", "2"]


def test_a_merchant_refusal_is_not_retried_and_is_listed(ngw, endpoint):
    endpoint.default = lambda r: packet_reply(r, "5", "143")
    mid = make_shop(ngw, endpoint.url(), expected_reply="packet")
    order = pay(ngw, mid)
    assert run_once(ngw) == 1
    ngw.clock.move(hours=2)
    assert run_once(ngw) == 0
    [n] = ngw.undelivered_notifications(mid)
    assert n.bill_number == order.bill_number and n.state == "rejected"
    assert "firstcode=5 secondcode=143" in n.last_error


def test_after_the_retry_period_it_expires_and_can_be_replayed(ngw, endpoint):
    endpoint.default = Answer(500)
    mid = make_shop(ngw, endpoint.url())
    order = pay(ngw, mid)
    for _ in range(20):  # 20 x 4 h: past the 3 days
        run_once(ngw)
        ngw.clock.move(hours=4)
    n = only(ngw, order.bill_number)
    assert n.state == "expired" and n.attempts >= 18
    assert [u.notification_id for u in ngw.undelivered_notifications(mid)] == [
        n.notification_id]
    endpoint.default = Answer(200)
    assert ngw.replay_notifications(mid, bill_number=order.bill_number).count == 1
    assert run_once(ngw) == 1
    assert only(ngw, order.bill_number).state == "delivered"
    assert ngw.undelivered_notifications(mid) == []


# -- replay -------------------------------------------------------------------------------
def test_replay_by_order_sends_the_same_content_with_the_same_id(ngw, endpoint):
    mid = make_shop(ngw, endpoint.url(), results="pay,confirm")
    order = pay(ngw, mid, delay=True)
    ngw.confirm(mid, order.bill_number)
    assert run_once(ngw) == 2
    first = list(endpoint.received)
    assert [r.form["orderstate"] for r in first] == ["Delayed", "Approved"]

    ngw.clock.move(minutes=30)
    result = ngw.replay_notifications(mid, order_number=order.order_number)
    assert result.count == 2 and {n.state for n in result.notifications} == {"pending"}
    assert run_once(ngw) == 2
    again = endpoint.received[2:]
    assert [r.notification_id for r in again] == [r.notification_id for r in first]
    assert [r.body for r in again] == [r.body for r in first]
    for n in notifications_of(ngw.uow, order_number=order.order_number):
        assert (n.state, n.attempts, n.replays) == ("delivered", 2, 1)


def test_replay_by_date_range_and_its_limits(ngw, endpoint):
    mid = make_shop(ngw, endpoint.url())
    a = pay(ngw, mid)
    ngw.clock.move(days=2)
    b = pay(ngw, mid)
    assert run_once(ngw) == 2
    now = ngw.clock.now()
    with pytest.raises(ValidationError) as info:  # more than the limit: nothing replayed
        ngw.replay_notifications(mid, since=now - timedelta(days=3), until=now, limit=1)
    assert info.value.codes == (17, 4)
    result = ngw.replay_notifications(mid, since=now - timedelta(hours=1), until=now)
    assert [n.bill_number for n in result.notifications] == [b.bill_number]
    assert run_once(ngw) == 1 and endpoint.received[-1].form["billnumber"] == b.bill_number
    with pytest.raises(ValidationError):
        ngw.replay_notifications(mid)  # nothing chosen
    with pytest.raises(ValidationError):
        ngw.replay_notifications(mid, bill_number=a.bill_number,
                                 order_number=a.order_number)
    with pytest.raises(NotFound):
        ngw.replay_notifications(123, bill_number=a.bill_number)
    # another merchant's billnumber replays nothing
    other = make_shop(ngw, endpoint.url())
    assert ngw.replay_notifications(other, bill_number=a.bill_number).count == 0


def test_replay_and_list_from_the_command_line(ngw, endpoint, tmp_path):
    endpoint.script = [Answer(500)]
    mid = make_shop(ngw, endpoint.url())
    order = pay(ngw, mid)
    assert run_once(ngw) == 1
    env = dict(os.environ, ASSIST_DATABASE_URL=ngw.settings.database_url,
               ASSIST_VAR_DIR=str(tmp_path), ASSIST_SECRET_KEY="x")

    def cli(*args):
        proc = subprocess.run([sys.executable, "-m", "assist_ws.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        return proc.stdout
    n = only(ngw, order.bill_number)
    listing = cli("notify", "list", "--merchant", str(mid))
    assert n.notification_id in listing and "pending" in listing and "HTTP 500" in listing
    out = cli("notify", "show", n.notification_id)
    assert '"bill_number": "%s"' % order.bill_number in out and "try 1" in out
    ngw.clock.move(minutes=1)
    assert run_once(ngw) == 1  # delivered now
    assert cli("notify", "list", "--merchant", str(mid)).strip() == ""
    out = cli("notify", "replay", "--merchant", str(mid), "--bill", order.bill_number)
    assert "1 notification(s) queued again" in out
    assert run_once(ngw) == 1
    assert endpoint.ids() == [n.notification_id] * 3


# -- several workers ----------------------------------------------------------------------
def test_two_workers_deliver_each_notification_once(ngw, endpoint):
    endpoint.default = Answer(200, delay=0.05)
    mid = make_shop(ngw, endpoint.url())
    bills = [pay(ngw, mid, f"{10 + i}.00").bill_number for i in range(12)]
    worker = dataclasses.replace(ngw, notify_policy=dataclasses.replace(
        ngw.notify_policy, batch_size=3, concurrency=2))
    start = threading.Barrier(2)
    tries = [0, 0]
    errors = []

    def work(i):
        try:
            start.wait()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                made = run_once(worker)
                tries[i] += made
                if made == 0 and not ngw.undelivered_notifications(mid):
                    return
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    expected = {only(ngw, b).notification_id for b in bills}
    assert sorted(endpoint.ids()) == sorted(expected)  # each once
    assert sum(tries) == 12 and all(t > 0 for t in tries)
    assert all(only(ngw, b).attempts == 1 for b in bills)
