"""The wire form of result notifications: Assist's field names, the form POST,
the SOAP ``PushPaymentResult`` envelope, the ``checkvalue``, and the judgement of the
merchant's reply.

The content of a notification is kept in our own names (``services.notifications.outbox``); this is
the one place that knows Assist's.  ``wsdl/pushpaymentresult.wsdl`` describes the SOAP form
for merchants who generate their server from a WSDL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from lxml import etree

from ..domain.cards import auth_required
from ..domain.checkvalue import result_checkvalue
from ..domain.notifications import ExpectedReply, PushNotice, Verdict
from ..domain.text import xml_fit

NS = "http://www.paysecure.ru/ws/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ACTION = NS + "PushPaymentResult"

#: operationtype of a result without an operation (a buyer timeout, an expired hold).
TYPE_OF_KIND = {"pay": "100", "confirm": "200", "cancel": "300", "accrual": "500",
                "accrual-cancel": "510"}

#: meantype_id of the card brands (Assist's Cardtype numbering).
MEANTYPE_ID = {"VISA": "1", "MasterCard": "2", "DCL": "3", "JCB": "4", "AMEX": "5"}

#: The form fields of a POST notification, in Assist's order, and ours
#: (the notification's id and its sequence number in the order) after them.
POST_FIELDS = (
    "merchant_id", "ordernumber", "billnumber", "testmode", "ordercomment", "orderamount",
    "ordercurrency", "amount", "currency", "rate", "firstname", "lastname", "middlename",
    "email", "clientip", "ipaddress", "meantype_id", "meantypename", "meansubtype",
    "meannumber", "cardholder", "cardexpirationdate", "issuebank", "bankcountry", "orderdate",
    "orderstate", "responsecode", "message", "customermessage", "recommendation",
    "approvalcode", "protocoltypename", "processingname", "operationtype", "operationdate",
    "authresult", "authrequired", "slipno", "packetdate", "signature", "checkvalue",
    "notificationid", "notificationseq",
)

#: The order element of the SOAP packet (as orderresult's, with merchant_id first).
ORDER_FIELDS = (
    "merchant_id", "ordernumber", "billnumber", "testmode", "ordercomment", "orderamount",
    "ordercurrency", "firstname", "lastname", "middlename", "email", "orderdate",
    "orderstate", "packetdate", "signature", "checkvalue",
)

#: An operation element of the SOAP packet.
OPERATION_FIELDS = (
    "billnumber", "operationtype", "operationstate", "amount", "currency", "rate", "clientip",
    "ipaddress", "meantype_id", "meantypename", "meansubtype", "meannumber", "cardholder",
    "cardexpirationdate", "issuebank", "bankcountry", "responsecode", "message",
    "customermessage", "recommendation", "approvalcode", "protocoltypename",
    "processingname", "operationdate", "authresult", "authrequired", "slipno",
)

NOTIFICATION_ID_HEADER = "X-Assist-Notification-Id"
NOTIFICATION_SEQ_HEADER = "X-Assist-Notification-Seq"


def wire_date(value: str | datetime | None) -> str:
    """``DD.MM.YYYY HH:MM:SS``, UTC."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%d.%m.%Y %H:%M:%S")


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _order_values(notice: PushNotice) -> dict[str, str]:
    o = notice.content["order"]
    return {
        "merchant_id": _s(o["merchant_id"]),
        "ordernumber": _s(o["order_number"]),
        "billnumber": _s(o["bill_number"]),
        "testmode": "1" if o.get("test_mode") else "0",
        "ordercomment": _s(o.get("comment")),
        "orderamount": _s(o["amount"]),
        "ordercurrency": _s(o["currency"]),
        "firstname": _s(o.get("firstname")),
        "lastname": _s(o.get("lastname")),
        "middlename": _s(o.get("middlename")),
        "email": _s(o.get("email")),
        "orderdate": wire_date(o.get("created_at")),
        "orderstate": _s(o["state"]),
        "packetdate": wire_date(notice.packet_date),
        "signature": "",
    }


def _operation_values(notice: PushNotice, op: dict | None) -> dict[str, str]:
    o = notice.content["order"]
    if op is None:  # an order closed without an operation: the order's own figures
        return {"billnumber": _s(o["bill_number"]),
                "operationtype": TYPE_OF_KIND.get(notice.content["kind"], ""),
                "operationstate": "", "amount": _s(o["amount"]), "currency": _s(o["currency"]),
                "rate": "1", "clientip": _s(o.get("client_ip")),
                "ipaddress": _s(o.get("client_ip")), "message": _s(o.get("state_reason")),
                "customermessage": _s(o.get("state_reason")),
                "operationdate": wire_date(notice.packet_date)}
    brand = op.get("means_type") or ""
    return {
        "billnumber": _s(op["bill_number"]),
        "operationtype": _s(op["type"]),
        "operationstate": _s(op["state"]),
        "amount": _s(op["amount"]),
        "currency": _s(op["currency"]),
        "rate": _s(op.get("rate") or "1"),
        "clientip": _s(op.get("client_ip") or o.get("client_ip")),
        "ipaddress": _s(op.get("client_ip") or o.get("client_ip")),
        "meantype_id": MEANTYPE_ID.get(brand, ""),
        "meantypename": _s(brand),
        "meannumber": _s(op.get("means_number")),
        "cardholder": _s(op.get("cardholder")),
        "cardexpirationdate": _s(op.get("card_expiry")),
        "responsecode": _s(op.get("response_code")),
        "message": _s(op.get("message")),
        "customermessage": _s(op.get("message")),
        "approvalcode": _s(op.get("approval_code")),
        "processingname": _s(op.get("processing_name")),
        "operationdate": wire_date(op.get("finished_at")),
        "authresult": _s(op.get("auth_result")),
        "authrequired": _s(auth_required(op.get("auth_result"))),
        "slipno": _s(op.get("slip")),
    }


def _checkvalue(secret: str | None, order: dict[str, str], op: dict[str, str]) -> str:
    """X = merchant_id + ordernumber + amount + currency + orderstate, the
    amount and currency of the (first) operation, exactly as sent."""
    if not secret:
        return ""
    return result_checkvalue(secret, order["merchant_id"], order["ordernumber"], op["amount"],
                             op["currency"], order["orderstate"])


def post_fields(notice: PushNotice, secret: str | None) -> list[tuple[str, str]]:
    """The form fields of a POST notification, in order."""
    ops = notice.content.get("operations") or []
    order = _order_values(notice)
    op = _operation_values(notice, ops[0] if ops else None)
    # The order's fields win where the names meet: billnumber is the order's (operationtype
    # says which operation the result is about).
    values = {**op, **order}
    values["checkvalue"] = _checkvalue(secret, order, op)
    values["notificationid"] = notice.notification_id
    values["notificationseq"] = str(notice.sequence)
    return [(name, values.get(name, "")) for name in POST_FIELDS]


def post_body(notice: PushNotice, secret: str | None) -> bytes:
    return urlencode(post_fields(notice, secret), encoding="utf-8").encode("ascii")


def soap_envelope(notice: PushNotice, secret: str | None) -> bytes:
    """The SOAP 1.1 ``ws:PushPaymentResult`` request: ``order`` with its operations; the
    notification's id and sequence in a SOAP header a server may ignore."""
    ops = notice.content.get("operations") or []
    order = _order_values(notice)
    op_values = [_operation_values(notice, op) for op in ops]
    order["checkvalue"] = _checkvalue(secret, order, op_values[0] if op_values
                                      else _operation_values(notice, None))
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soapenv": SOAP_ENV, "ws": NS})
    header = etree.SubElement(env, f"{{{SOAP_ENV}}}Header")
    info = etree.SubElement(header, f"{{{NS}}}notification")
    etree.SubElement(info, "notificationid").text = notice.notification_id
    etree.SubElement(info, "notificationseq").text = str(notice.sequence)
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    push = etree.SubElement(body, f"{{{NS}}}PushPaymentResult")
    order_el = etree.SubElement(push, "order")
    # A value XML cannot hold (in an order written before such values were refused) is sent
    # with U+FFFD in its place: the envelope is well-formed whatever the order holds.
    for name in ORDER_FIELDS:
        etree.SubElement(order_el, name).text = xml_fit(order.get(name, ""))
    for values in op_values:
        op_el = etree.SubElement(order_el, "operation")
        for name in OPERATION_FIELDS:
            etree.SubElement(op_el, name).text = xml_fit(values.get(name, ""))
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def request_of(notice: PushNotice, protocol: str, secret: str | None
               ) -> tuple[bytes, dict[str, str]]:
    """The body and headers of the HTTP request for ``protocol`` (post or soap)."""
    headers = {NOTIFICATION_ID_HEADER: notice.notification_id,
               NOTIFICATION_SEQ_HEADER: str(notice.sequence)}
    if protocol == "soap":
        headers.update({"Content-Type": "text/xml; charset=utf-8",
                        "SOAPAction": f'"{SOAP_ACTION}"'})
        return soap_envelope(notice, secret), headers
    headers["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8"
    return post_body(notice, secret), headers


# -- the merchant's reply -------------------------------------------------------------------
def _local(tag: Any) -> str:
    return etree.QName(tag).localname.lower() if isinstance(tag, str) else ""


def judge(expected: ExpectedReply, status: int, body: bytes, truncated: bool,
          notice: PushNotice) -> tuple[Verdict, str | None]:
    """Whether a reply counts as delivered under the merchant's expected-reply setting:
    any 2xx; or, for ``packet``, a 2xx whose body carries ``<pushpaymentresult
    firstcode="0" secondcode="0">`` echoing the billnumber and packetdate.  Non-zero codes
    are the merchant's refusal (not retried, as Assist does)."""
    if not 200 <= status < 300:
        return Verdict.FAILED, f"HTTP {status}"
    if expected is not ExpectedReply.PACKET:
        return Verdict.DELIVERED, None
    if truncated:
        return Verdict.FAILED, "the reply is larger than the size limit"
    head = body[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in body.lower():
        return Verdict.FAILED, "a reply with a DTD or entities is refused"
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                 huge_tree=False)
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        return Verdict.FAILED, f"the reply is not XML: {exc}"[:200]
    packet = next((el for el in root.iter() if _local(el.tag) == "pushpaymentresult"), None)
    if packet is None:
        return Verdict.FAILED, "the reply has no pushpaymentresult packet"
    codes = {}
    for name in ("firstcode", "secondcode"):
        value = packet.get(name)
        if value is None:
            child = next((el for el in packet.iter() if _local(el.tag) == name), None)
            value = child.text if child is not None else None
        codes[name] = (value or "").strip()
    if codes["firstcode"] != "0" or codes["secondcode"] != "0":
        if not codes["firstcode"] or not codes["secondcode"]:
            return Verdict.FAILED, "the reply's packet has no firstcode/secondcode"
        return Verdict.REJECTED, (f"the merchant answered firstcode={codes['firstcode']} "
                                  f"secondcode={codes['secondcode']}")
    echoed = {_local(el.tag): (el.text or "").strip() for el in packet.iter()
              if _local(el.tag) in ("billnumber", "packetdate")}
    bill = notice.content["order"]["bill_number"]
    if echoed.get("billnumber", "").split(".")[0] != bill or \
            echoed.get("packetdate") != wire_date(notice.packet_date):
        return Verdict.FAILED, "the reply does not echo the billnumber and packetdate sent"
    return Verdict.DELIVERED, None
