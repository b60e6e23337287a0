"""The wire form of notifications: Assist's fields in order, the checkvalue, the SOAP packet
against the committed ``wsdl/pushpaymentresult.wsdl``, and how replies are judged."""

from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from lxml import etree

from assist_ws.domain.checkvalue import result_checkvalue
from assist_ws.domain.notifications import ExpectedReply, PushNotice, Verdict
from assist_ws.notify.wire import (POST_FIELDS, judge, post_body, post_fields, request_of,
                                   soap_envelope)

WSDL = Path(__file__).resolve().parents[2] / "wsdl" / "pushpaymentresult.wsdl"
NS = "{http://www.paysecure.ru/ws/}"
WHEN = datetime(2026, 11, 27, 10, 30, 5, tzinfo=timezone.utc)

ORDER = {"merchant_id": 100001, "order_number": "A-1", "bill_number": "1234567890123456",
         "test_mode": True, "comment": "Книги & <co>", "amount": "5000.00", "currency": "RUB",
         "lastname": "Иванов", "firstname": "Иван", "middlename": None,
         "email": "ivan@example.com", "client_ip": "10.1.2.3",
         "created_at": "2026-11-27T10:29:00+00:00", "state": "Approved",
         "state_reason": None}
CARD = {"number": 1, "bill_number": "1234567890123456.1", "type": 100, "state": "Success",
        "amount": "3740.85", "currency": "RUB", "rate": None, "means": "card",
        "means_type": "VISA", "means_number": "411111******1111", "cardholder": "TEST HOLDER",
        "card_expiry": "12/2030", "response_code": "AS000", "message": "Authorization "
        "successfully completed", "approval_code": "A1B2C3", "processing_name": "emulator-rub",
        "client_ip": None, "finished_at": "2026-11-27T10:30:00+00:00", "slip": None}
POINTS = dict(CARD, number=2, bill_number="1234567890123456.2", amount="1259.15",
              means="points", means_type=None, means_number=None, approval_code=None)


def notice(ops=(CARD,), kind="pay"):
    return PushNotice("f" * 32, 2, WHEN, {"kind": kind, "success": True, "order": ORDER,
                                          "operations": list(ops)})


def schema():
    wsdl = etree.parse(str(WSDL))
    return etree.XMLSchema(etree.fromstring(etree.tostring(
        wsdl.find(".//{http://www.w3.org/2001/XMLSchema}schema"))))


def test_post_fields_are_assists_in_order_and_verify():
    fields = post_fields(notice(), "secret")
    assert [name for name, _ in fields] == list(POST_FIELDS)
    f = dict(fields)
    assert (f["billnumber"], f["amount"], f["orderamount"], f["operationtype"]) == (
        "1234567890123456", "3740.85", "5000.00", "100")
    assert (f["testmode"], f["meantype_id"], f["meantypename"], f["rate"]) == ("1", "1", "VISA",
                                                                               "1")
    assert (f["orderdate"], f["operationdate"], f["packetdate"]) == (
        "27.11.2026 10:29:00", "27.11.2026 10:30:00", "27.11.2026 10:30:05")
    assert f["clientip"] == "10.1.2.3" and f["middlename"] == "" and f["signature"] == ""
    assert f["checkvalue"] == result_checkvalue("secret", "100001", "A-1", "3740.85", "RUB",
                                                "Approved")
    assert (f["notificationid"], f["notificationseq"]) == ("f" * 32, "2")
    assert dict(parse_qsl(post_body(notice(), "secret").decode(),
                          keep_blank_values=True)) == f  # UTF-8 round trip
    assert post_fields(notice(), None)[-3] == ("checkvalue", "")  # no secret word: none


def test_a_result_without_an_operation_uses_the_orders_figures():
    f = dict(post_fields(notice((), kind="cancel"), "secret"))
    assert (f["amount"], f["operationtype"], f["orderstate"]) == ("5000.00", "300", "Approved")
    assert f["checkvalue"] == result_checkvalue("secret", "100001", "A-1", "5000.00", "RUB",
                                                "Approved")


@pytest.mark.parametrize("ops", [(CARD,), (CARD, POINTS), ()])
def test_the_soap_packet_is_valid_against_the_committed_wsdl(ops):
    env = etree.fromstring(soap_envelope(notice(ops), "secret"))
    push = env.find(f".//{NS}PushPaymentResult")
    schema().assertValid(push)
    order = push.find("order")
    assert [op.findtext("billnumber") for op in order.findall("operation")] == [
        o["bill_number"] for o in ops]
    amount = ops[0]["amount"] if ops else "5000.00"
    assert order.findtext("checkvalue") == result_checkvalue(
        "secret", "100001", "A-1", amount, "RUB", "Approved")
    assert order.findtext("ordercomment") == "Книги & <co>"
    assert env.findtext(f".//{NS}notification/notificationid") == "f" * 32


def test_the_soap_packet_is_well_formed_whatever_the_order_holds():
    # An order written before control characters were refused in requests.
    order = dict(ORDER, order_number="A\x01-1", comment="tea\x02", lastname="\x1b[31m")
    op = dict(CARD, message="done\x0b")
    content = {"kind": "pay", "success": True, "order": order, "operations": [op]}
    body, _ = request_of(PushNotice("f" * 32, 1, WHEN, content), "soap", "secret")
    push = etree.fromstring(body).find(f".//{NS}PushPaymentResult")
    schema().assertValid(push)
    assert push.findtext("order/ordernumber") == "A\ufffd-1"
    assert push.findtext("order/ordercomment") == "tea\ufffd"
    assert push.findtext("order/operation/message") == "done\ufffd"


def test_request_headers_carry_the_id_and_sequence():
    body, headers = request_of(notice(), "soap", "s")
    assert headers["SOAPAction"] == '"http://www.paysecure.ru/ws/PushPaymentResult"'
    assert headers["X-Assist-Notification-Id"] == "f" * 32
    assert headers["X-Assist-Notification-Seq"] == "2" and body.startswith(b"<?xml")
    _, headers = request_of(notice(), "post", "s")
    assert headers["Content-Type"].startswith("application/x-www-form-urlencoded")


def packet(first="0", second="0", bill="1234567890123456", date="27.11.2026 10:30:05"):
    return (f'<pushpaymentresult firstcode="{first}" secondcode="{second}"><order><billnumber>'
            f'{bill}</billnumber><packetdate>{date}</packetdate></order></pushpaymentresult>'
            ).encode()


@pytest.mark.parametrize("body,verdict,words", [
    (packet(), Verdict.DELIVERED, None),
    (packet(bill="1234567890123456.1"), Verdict.DELIVERED, None),
    (b'<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
     b'<s:Body><R xmlns="urn:x">' + packet() + b'</R></s:Body></s:Envelope>',
     Verdict.DELIVERED, None),
    (b'<PushPaymentResult><firstcode>0</firstcode><secondcode>0</secondcode><order>'
     b'<billnumber>1234567890123456</billnumber><packetdate>27.11.2026 10:30:05</packetdate>'
     b'</order></PushPaymentResult>', Verdict.DELIVERED, None),
    (packet("5", "143"), Verdict.REJECTED, "firstcode=5 secondcode=143"),
    (packet(bill="9999999999999999"), Verdict.FAILED, "echo"),
    (packet(date="27.11.2026 10:30"), Verdict.FAILED, "echo"),
    (b'<pushpaymentresult/>', Verdict.FAILED, "no firstcode"),
    (b"OK", Verdict.FAILED, "not XML"),
    (b"<html><body>thanks</body></html>", Verdict.FAILED, "no pushpaymentresult"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "0">]><pushpaymentresult firstcode="&e;" '
     b'secondcode="0"/>', Verdict.FAILED, "DTD"),
])
def test_packet_replies(body, verdict, words):
    got, error = judge(ExpectedReply.PACKET, 200, body, False, notice())
    assert got is verdict
    assert (error is None) if words is None else (words in error)


def test_plain_replies():
    assert judge(ExpectedReply.HTTP200, 200, b"", False, notice()) == (Verdict.DELIVERED, None)
    assert judge(ExpectedReply.HTTP200, 302, b"", False, notice()) == (Verdict.FAILED, "HTTP 302")
    assert judge(ExpectedReply.PACKET, 500, packet(), False, notice())[0] is Verdict.FAILED
    assert judge(ExpectedReply.PACKET, 200, packet(), True, notice())[0] is Verdict.FAILED
