"""The notification services — ``/notification/replay.cfm`` and
``/notification/undelivered.cfm`` — against the running server on SQLite and PostgreSQL:
every operation and refusal through a Zeep client generated from the served WSDLs, what a
replay makes the worker send (the same content, the same id), and the POST formats parsed
back field by field."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
from lxml import etree

from assist_ws.services import admin
from assist_ws.services.notifications.outbox import NotifySettings
from assist_ws.services.notifications.queries import details, notifications_of
from assist_ws.services.orders import AuthorizationRequest, create_order
from assist_ws.soap.wire import NS

from ...merchant_endpoint import Answer, packet_reply
from .conftest import creds, paid_order
from .test_post_formats import parse
from .test_soap_zeep import items, refused

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
REPLAY_FIELDS = ["notificationid", "notificationseq", "billnumber", "ordernumber",
                 "operationbillnumber", "operationtype", "operationstate", "orderstate",
                 "createdate", "state"]
UNDELIVERED_FIELDS = REPLAY_FIELDS + ["attempts", "lasttrydate", "lasthttpstatus",
                                      "nexttrydate", "lasterror"]


def the(gw, bill: str):
    [n] = notifications_of(gw.uow, bill_number=bill)
    return n


def window(moment: datetime, prefix: str) -> dict:
    return {f"{prefix}year": moment.year, f"{prefix}month": moment.month,
            f"{prefix}day": moment.day, f"{prefix}hour": moment.hour,
            f"{prefix}min": moment.minute}


def utc(moment: datetime) -> datetime:
    assert moment.utcoffset() == timedelta(0)
    return moment.astimezone(timezone.utc)


def wire(moment: datetime | None) -> str:
    return moment.strftime("%d.%m.%Y %H:%M:%S") if moment is not None else ""


def merchant_server(shops, *, reject=(), fail=()):
    """Merchant A expects the packet; its server rejects the billnumbers of ``reject`` (5/143),
    answers HTTP 500 for those of ``fail`` and accepts the rest."""
    admin.save_merchant(shops.worker.uow, shops.a, admin.MerchantSettings(
        notify=NotifySettings(expected_reply="packet")), create=False,
        check_notify_url=shops.worker.notifier.check_url)

    def answer(received):
        bill = received.form["billnumber"]
        if bill in reject:
            return packet_reply(received, "5", "143")
        if bill in fail:
            return Answer(500, b"down for maintenance")
        return packet_reply(received)
    shops.endpoint.default = answer


# -- replay ------------------------------------------------------------------------------------
def test_replay_by_billnumber_sends_the_same_notification_again(gw, shops, zeep_clients):
    replay = zeep_clients["replay"].service.replay
    number, bill = paid_order(gw, "120.00", merchant=shops.a)
    assert shops.deliver() == 1
    [first] = shops.endpoint.received
    n = the(gw, bill)
    assert n.state == "delivered"

    [row] = items(replay(billnumber=bill, **shops.creds()))
    assert (row.notificationid, row.notificationseq, row.billnumber, row.ordernumber) == (
        n.notification_id, 1, bill, number)
    assert (row.operationbillnumber, row.operationtype, row.operationstate) == (
        f"{bill}.1", 100, "Success")
    assert (row.orderstate, row.state) == ("Approved", "pending")
    assert utc(row.createdate) == n.created_at.replace(microsecond=0)
    assert (the(gw, bill).state, the(gw, bill).replays) == ("pending", 1)

    assert shops.deliver() == 1
    again = shops.endpoint.received[1]
    assert again.notification_id == first.notification_id == n.notification_id
    assert again.body == first.body           # unchanged: same packetdate, same checkvalue
    assert the(gw, bill).state == "delivered"

    # An extended billnumber names its order: the same notification.
    [row] = items(replay(billnumber=f"{bill}.1", **shops.creds()))
    assert row.notificationid == n.notification_id
    assert shops.deliver() == 1 and shops.endpoint.ids() == [n.notification_id] * 3


def test_replay_by_order_number_takes_every_result_of_every_attempt(gw, shops, zeep_clients):
    replay = zeep_clients["replay"].service.replay
    number, declined = paid_order(gw, "50.00", card="4000000000000002", merchant=shops.a)
    _, held = paid_order(gw, "50.00", delay=True, number=number, merchant=shops.a)
    gw.confirm(shops.a, held, None)
    assert shops.deliver() == 3
    rows = items(replay(ordernumber=number, **shops.creds()))
    assert [(r.billnumber, r.notificationseq, r.operationtype, r.operationstate, r.orderstate)
            for r in rows] == [(declined, 1, 100, "Declined", "Declined"),
                               (held, 1, 100, "Success", "Delayed"),
                               (held, 2, 200, "Success", "Approved")]
    assert {r.state for r in rows} == {"pending"}
    assert shops.deliver() == 3
    assert sorted(shops.endpoint.ids()[3:]) == sorted(r.notificationid for r in rows)


def test_replay_of_a_window_is_the_merchants_own_only(gw, shops, zeep_clients):
    replay = zeep_clients["replay"].service.replay
    _, old = paid_order(gw, "10.00", merchant=shops.a)
    gw.clock.move(days=2)
    _, new = paid_order(gw, "11.00", merchant=shops.a)
    _, theirs = paid_order(gw, "12.00", merchant=shops.b)
    assert shops.deliver() == 3
    now = gw.clock.now()
    rows = items(replay(**window(now - timedelta(hours=1), "start"), **shops.creds()))
    assert [r.billnumber for r in rows] == [new]
    rows = items(replay(**window(now - timedelta(days=3), "start"),
                        **window(now - timedelta(days=1), "end"), **shops.creds()))
    assert [r.billnumber for r in rows] == [old]
    assert items(replay(startyear=2020, startmonth=1, startday=1, endyear=2020, endmonth=1,
                        endday=2, **shops.creds())) == []
    assert (the(gw, theirs).state, the(gw, theirs).replays) == ("delivered", 0)
    assert shops.deliver() == 2
    assert sorted(r.form["billnumber"] for r in shops.endpoint.received[3:]) == sorted(
        [new, old])


def test_replay_refusals_change_nothing(gw, shops, zeep_clients):
    replay = zeep_clients["replay"].service.replay
    number, bill = paid_order(gw, "30.00", merchant=shops.a)
    their_number, theirs = paid_order(gw, "31.00", merchant=shops.b)
    assert shops.deliver() == 2
    assert refused(replay, billnumber=bill, merchant_id=shops.a, login="notify_erp",
                   password="Wrong1234") == (7, 141)
    assert refused(replay, billnumber=bill, **shops.creds("notify_confirm")) == (8, 350)
    # B's user naming merchant A does not get in; A's user finds nothing of B's.
    assert refused(replay, billnumber=bill, merchant_id=shops.a, login="other_notify",
                   password="Other12345") == (7, 141)
    assert refused(replay, billnumber=theirs, **shops.creds()) == (10, 201)
    assert refused(replay, ordernumber=their_number, **shops.creds()) == (10, 201)
    assert refused(replay, billnumber="1234567890123456", **shops.creds()) == (10, 201)
    assert refused(replay, ordernumber="NO-SUCH-ORDER", **shops.creds()) == (10, 201)
    # What to replay: exactly one of a billnumber, an order number and a window.
    assert refused(replay, **shops.creds()) == (3, 0)
    assert refused(replay, billnumber=bill, ordernumber=number, **shops.creds()) == (5, 0)
    assert refused(replay, ordernumber=number, startyear=2026, startmonth=1, startday=1,
                   **shops.creds()) == (5, 0)
    # Dates: impossible, incomplete, or a window ending before it starts.
    assert refused(replay, startyear=2030, startmonth=2, startday=30,
                   **shops.creds()) == (4, 129)
    assert refused(replay, startyear=2030, startmonth=2, **shops.creds()) == (4, 129)
    assert refused(replay, endyear=2030, endmonth=2, endday=30, **shops.creds()) == (4, 130)
    assert refused(replay, startyear=2026, startmonth=2, startday=2, endyear=2026,
                   endmonth=2, endday=1, **shops.creds()) == (5, 129)
    # A merchant without a notification URL has nothing to replay to.
    day = gw.clock.now() - timedelta(days=1)
    assert refused(replay, **window(day, "start"), **creds()) == (15, 154)
    for b in (bill, theirs):
        assert (the(gw, b).state, the(gw, b).replays) == ("delivered", 0)
    assert shops.deliver() == 0


def test_replay_of_a_known_order_without_notifications_is_empty(gw, shops, zeep_clients):
    order = create_order(gw.uow, gw.clock, AuthorizationRequest(
        str(shops.a), "UNPAID-" + str(shops.a), "5.00", "RUB"))
    replay = zeep_clients["replay"].service.replay
    assert items(replay(billnumber=order.bill_number, **shops.creds())) == []
    assert items(replay(ordernumber=order.order_number, **shops.creds())) == []


# -- undelivered -------------------------------------------------------------------------------
def test_undelivered_lists_pending_rejected_and_expired_with_their_tries(gw, shops,
                                                                         zeep_clients):
    undelivered = zeep_clients["undelivered"].service.undelivered
    reject, fail = set(), set()
    merchant_server(shops, reject=reject, fail=fail)
    start = gw.clock.now()
    _, expired = paid_order(gw, "21.00", merchant=shops.a)
    fail.add(expired)
    for _ in range(20):           # 20 x 4 h: past the 3 days of retries
        shops.deliver()
        gw.clock.move(hours=4)
    assert the(gw, expired).state == "expired"
    _, rejected = paid_order(gw, "22.00", merchant=shops.a)
    _, failing = paid_order(gw, "23.00", merchant=shops.a)
    _, delivered = paid_order(gw, "24.00", merchant=shops.a)
    _, theirs = paid_order(gw, "25.00", merchant=shops.b)
    reject.add(rejected)
    fail.update({failing, theirs})
    assert shops.deliver() == 4
    assert the(gw, delivered).state == "delivered"
    _, untried = paid_order(gw, "26.00", merchant=shops.a)
    now = gw.clock.now()

    rows = {r.billnumber: r for r in items(undelivered(**shops.creds()))}  # the last 3 days
    assert list(rows) == [rejected, failing, untried]
    r = rows[rejected]
    assert (r.state, r.attempts, r.lasthttpstatus, r.nexttrydate) == ("rejected", 1, 200, None)
    assert "firstcode=5 secondcode=143" in r.lasterror
    r = rows[failing]
    assert (r.state, r.attempts, r.lasthttpstatus, r.lasterror) == ("pending", 1, 500,
                                                                    "HTTP 500")
    assert utc(r.lasttrydate) <= now < utc(r.nexttrydate) <= now + timedelta(minutes=1)
    assert (r.notificationid, r.notificationseq) == (the(gw, failing).notification_id, 1)
    assert (r.operationbillnumber, r.operationtype, r.operationstate, r.orderstate) == (
        f"{failing}.1", 100, "Success", "Approved")
    r = rows[untried]
    assert (r.state, r.attempts, r.lasttrydate, r.lasthttpstatus, r.lasterror) == (
        "pending", 0, None, None, None)
    assert utc(r.nexttrydate) <= now

    rows = items(undelivered(**window(start - timedelta(minutes=1), "start"), **shops.creds()))
    assert [r.billnumber for r in rows] == [expired, rejected, failing, untried]
    r = rows[0]
    assert (r.state, r.lasthttpstatus, r.nexttrydate, r.lasterror) == ("expired", 500, None,
                                                                        "HTTP 500")
    assert r.attempts == len(shops.endpoint.ids()) - 4 >= 18
    assert [r.billnumber for r in items(undelivered(**shops.creds("other_notify")))] == [
        theirs]
    assert items(undelivered(**window(start - timedelta(days=2), "start"),
                             **window(start - timedelta(days=1), "end"),
                             **shops.creds())) == []
    # A replay takes a notification off the list until its next try fails.
    replay = zeep_clients["replay"].service.replay
    [again] = items(replay(billnumber=rejected, **shops.creds()))
    assert again.state == "pending"
    [listed] = [r for r in items(undelivered(**shops.creds())) if r.billnumber == rejected]
    assert (listed.state, listed.attempts) == ("pending", 1)
    assert utc(listed.nexttrydate) <= gw.clock.now()


def test_undelivered_refusals(gw, shops, zeep_clients):
    undelivered = zeep_clients["undelivered"].service.undelivered
    assert refused(undelivered, merchant_id=shops.a, login="notify_erp",
                   password="Wrong1234") == (7, 141)
    assert refused(undelivered, **shops.creds("notify_confirm")) == (8, 350)
    assert refused(undelivered, merchant_id=shops.a, login="other_notify",
                   password="Other12345") == (7, 141)
    assert refused(undelivered, startyear=2030, startmonth=2, startday=30,
                   **shops.creds()) == (4, 129)
    assert refused(undelivered, endyear=2030, endmonth=2, endday=30,
                   **shops.creds()) == (4, 130)
    assert refused(undelivered, startyear=2026, startmonth=2, startday=2, endyear=2026,
                   endmonth=2, endday=1, **shops.creds()) == (5, 129)


def test_more_than_the_limit_is_refused_and_changes_nothing(gw, shops, zeep_clients,
                                                            monkeypatch):
    from assist_ws.services.notifications import merchant as merchant_notifications
    shops.endpoint.default = Answer(500)
    bills = [paid_order(gw, f"{i}.00", merchant=shops.a)[1] for i in (1, 2)]
    monkeypatch.setattr(merchant_notifications, "LIMIT", 1)
    day = window(gw.clock.now() - timedelta(days=1), "start")
    assert refused(zeep_clients["replay"].service.replay, **day, **shops.creds()) == (17, 4)
    assert refused(zeep_clients["undelivered"].service.undelivered,
                   **shops.creds()) == (17, 4)
    assert [the(gw, b).replays for b in bills] == [0, 0]
    monkeypatch.setattr(merchant_notifications, "LIMIT", 2)
    assert len(items(zeep_clients["undelivered"].service.undelivered(**shops.creds()))) == 2
    assert len(items(zeep_clients["replay"].service.replay(**day, **shops.creds()))) == 2


# -- the POST formats --------------------------------------------------------------------------
def post(server, shops, name: str, fmt: str | None, login: str = "notify_erp", **fields):
    """A POST; a JSON refusal has the status of its kind (checked by ``parse``), every other
    reply HTTP 200."""
    c = shops.creds(login)
    data = {"Merchant_ID": str(c["merchant_id"]), "Login": login, "Password": c["password"],
            **fields}
    if fmt is not None:
        data["Format"] = fmt
    r = requests.post(f"{server.url}/notification/{name}.cfm", data=data, timeout=30)
    assert r.status_code == 200 or (fmt == "5" and "firstcode" in r.json()), r.text
    return r


@pytest.mark.parametrize("fmt", ["1", "3", "5"])
def test_replay_formats(gw, server, shops, fmt):
    number, bill = paid_order(gw, "64.00", delay=True, merchant=shops.a)
    gw.confirm(shops.a, bill, None)
    assert shops.deliver() == 2
    codes, rows = parse(fmt, post(server, shops, "replay", fmt, OrderNumber=number),
                        row="notification")
    assert codes == (0, 0)
    pay, confirm = notifications_of(gw.uow, bill_number=bill)
    assert rows == [
        {"notificationid": pay.notification_id, "notificationseq": "1", "billnumber": bill,
         "ordernumber": number, "operationbillnumber": f"{bill}.1", "operationtype": "100",
         "operationstate": "Success", "orderstate": "Delayed",
         "createdate": wire(pay.created_at), "state": "pending"},
        {"notificationid": confirm.notification_id, "notificationseq": "2",
         "billnumber": bill, "ordernumber": number, "operationbillnumber": f"{bill}.2",
         "operationtype": "200", "operationstate": "Success", "orderstate": "Approved",
         "createdate": wire(confirm.created_at), "state": "pending"}]
    assert all(list(row) == REPLAY_FIELDS for row in rows)
    assert shops.deliver() == 2


@pytest.mark.parametrize("fmt", ["1", "3", "5"])
def test_undelivered_formats(gw, server, shops, fmt):
    shops.endpoint.default = Answer(500, b"down")
    number, failing = paid_order(gw, "65.00", merchant=shops.a)
    assert shops.deliver() == 1
    _, untried = paid_order(gw, "66.00", merchant=shops.a)
    codes, rows = parse(fmt, post(server, shops, "undelivered", fmt), row="notification")
    assert codes == (0, 0)
    n, u = the(gw, failing), the(gw, untried)
    [attempt] = details(gw.uow, n.notification_id)[1]
    assert rows[0] == {
        "notificationid": n.notification_id, "notificationseq": "1", "billnumber": failing,
        "ordernumber": number, "operationbillnumber": f"{failing}.1", "operationtype": "100",
        "operationstate": "Success", "orderstate": "Approved",
        "createdate": wire(n.created_at), "state": "pending", "attempts": "1",
        "lasttrydate": wire(attempt.started_at), "lasthttpstatus": "500",
        "nexttrydate": wire(n.next_attempt_at), "lasterror": "HTTP 500"}
    assert rows[1]["billnumber"] == untried and rows[1]["state"] == "pending"
    assert (rows[1]["attempts"], rows[1]["lasttrydate"], rows[1]["lasthttpstatus"],
            rows[1]["lasterror"]) == ("0", "", "", "")
    assert rows[1]["nexttrydate"] == wire(u.next_attempt_at)
    assert len(rows) == 2 and all(list(row) == UNDELIVERED_FIELDS for row in rows)


@pytest.mark.parametrize("fmt", ["1", "3", "5"])
def test_notification_errors_in_every_format(gw, server, shops, fmt):
    _, theirs = paid_order(gw, "67.00", merchant=shops.b)
    for fields, expected in [({"Billnumber": theirs}, (10, 201)),
                             ({"Billnumber": "12ab"}, (4, 143)),
                             ({}, (3, 0)),
                             ({"Billnumber": theirs, "Ordernumber": "X"}, (5, 0)),
                             ({"StartYear": "2030", "StartMonth": "2", "StartDay": "30"},
                              (4, 129))]:
        codes, _ = parse(fmt, post(server, shops, "replay", fmt, **fields))
        assert codes == expected, fields
    codes, _ = parse(fmt, post(server, shops, "undelivered", fmt, login="notify_confirm"))
    assert codes == (8, 350)
    assert the(gw, theirs).replays == 0


def test_csv_is_the_default_and_has_its_header_when_empty(gw, server, shops):
    r = post(server, shops, "replay", None, StartYear="2020", StartMonth="1", StartDay="1",
             EndYear="2020", EndMonth="1", EndDay="2")
    assert r.headers["Content-Type"].startswith("text/csv")
    assert r.text == ";".join(REPLAY_FIELDS) + "\r\n"
    r = post(server, shops, "undelivered", None, Header="0")
    assert r.headers["Content-Type"].startswith("text/csv") and r.text == ""
    r = post(server, shops, "undelivered", None, Delimiter=",")
    assert r.text == ",".join(UNDELIVERED_FIELDS) + "\r\n"


def test_format_4_and_json_bodies(gw, server, shops):
    _, bill = paid_order(gw, "68.00", merchant=shops.a)
    assert shops.deliver() == 1
    r = post(server, shops, "replay", "4", Billnumber=bill)
    body = etree.fromstring(r.content).find(f"{{{SOAP_ENV}}}Body")
    [n] = body.findall(f"{{{NS}}}replayResponse/{{{NS}}}replay/{{{NS}}}notification")
    assert n.findtext(f"{{{NS}}}billnumber") == bill
    assert n.findtext(f"{{{NS}}}notificationid") == the(gw, bill).notification_id
    assert n.findtext(f"{{{NS}}}state") == "pending"
    c = shops.creds()
    r = requests.post(f"{server.url}/notification/undelivered.cfm", json={
        "Merchant_ID": c["merchant_id"], "Login": c["login"], "Password": c["password"]},
        timeout=30)
    codes, rows = parse("5", r, row="notification")
    assert codes == (0, 0) and [row["billnumber"] for row in rows] == [bill]
    r = requests.post(f"{server.url}/notification/replay.cfm", data={
        "Merchant_ID": str(c["merchant_id"]), "Login": c["login"], "Password": "Wrong1234",
        "Billnumber": bill, "Format": "4"}, timeout=30)
    assert r.status_code == 500
    detail = etree.fromstring(r.content).find(f".//{{{NS}}}AssistFault")
    assert (detail.findtext(f"{{{NS}}}firstcode"), detail.findtext(f"{{{NS}}}secondcode")) \
        == ("7", "141")
    assert shops.deliver() == 1
