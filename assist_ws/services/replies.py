"""The fields of the web services' replies, in Assist's order, as Python values:
``Money`` for amounts, aware UTC ``datetime`` for times, ``int`` for codes and flags, ``str``
or ``None`` (absent) for the rest.

The SOAP face and the POST formats both build their replies from these dictionaries, so the
two faces cannot drift apart; each edge writes the values as text by the one table here
(``POST_TEXT``, ``SOAP_TEXT``: they differ in times only), and sends a long reply in pieces
of about ``CHUNK`` bytes (``chunked``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator
from xml.sax.saxutils import escape

from ..domain.cards import auth_required
from ..domain.model import OperationState
from ..domain.money import EXPONENTS, Money
from ..domain.records import OperationLine
from ..domain.text import xml_fit

#: Assist's ``meantype_id`` for the brands whose number is known (notification examples).
MEANTYPE_IDS = {"VISA": 1, "MasterCard": 2}
_OPEN = (OperationState.IN_PROCESS.value, OperationState.UNKNOWN.value)

Fields = dict[str, Any]


def _t(moment: datetime | None) -> datetime | None:
    return moment.replace(microsecond=0) if moment is not None else None


def _order_money(order) -> Money:
    return Money(order.amount, order.currency)


def _op_money(op) -> Money:
    return Money(op.amount, op.currency)


def _response_code(op) -> str | None:
    """``AS300`` ("in process, wait") for an operation whose outcome is still open."""
    return op.response_code or ("AS300" if op.state in _OPEN else None)


def order_state(order, checkvalue: str, packet: datetime) -> Fields:
    return {
        "ordernumber": order.order_number, "billnumber": order.bill_number,
        "orderamount": _order_money(order), "ordercurrency": order.currency,
        "orderstate": order.state, "packetdate": _t(packet), "signature": "",
        "checkvalue": checkvalue,
    }


def result_operation(op) -> Fields:
    return {
        "billnumber": op.bill_number, "operationtype": op.type, "operationstate": op.state,
        "amount": _op_money(op), "currency": op.currency, "clientip": op.client_ip,
        "ipaddress": None, "meantype_id": MEANTYPE_IDS.get(op.means_type or ""),
        "meantypename": op.means_type, "meansubtype": None, "meannumber": op.means_number,
        "cardholder": op.cardholder, "cardexpirationdate": op.card_expiry, "issuebank": None,
        "bankcountry": None, "responsecode": _response_code(op), "message": op.message,
        "customermessage": op.message, "recommendation": None,
        "approvalcode": op.approval_code, "protocoltypename": None,
        "processingname": op.processing_name, "operationdate": _t(op.created_at),
        "authresult": op.auth_result, "authrequired": auth_required(op.auth_result),
        "rrn": None, "extrrn": None, "slipno": None,
    }


def order_result(order, checkvalue: str, packet: datetime) -> Fields:
    return {
        "ordernumber": order.order_number, "billnumber": order.bill_number,
        "testmode": int(bool(order.test_mode)), "ordercomment": order.comment,
        "orderamount": _order_money(order), "ordercurrency": order.currency,
        "firstname": order.firstname, "lastname": order.lastname,
        "middlename": order.middlename, "email": order.email,
        "orderdate": _t(order.created_at), "orderstate": order.state,
        "packetdate": _t(packet), "signature": "", "checkvalue": checkvalue,
        "operation": [result_operation(op) for op in order.operations],
    }


def operation_order(order, op, checkvalue: str, packet: datetime) -> Fields:
    """The reply of charge and cancel (``result/orders/order``)."""
    return {
        "ordernumber": order.order_number, "responsecode": _response_code(op),
        "recommendation": None, "message": op.message, "ordercomment": order.comment,
        "orderdate": _t(order.created_at), "amount": _op_money(op), "currency": op.currency,
        "meantypename": op.means_type, "meannumber": op.means_number,
        "lastname": order.lastname, "firstname": order.firstname,
        "middlename": order.middlename, "issuebank": None, "email": order.email,
        "bankcountry": None, "rate": op.rate, "approvalcode": op.approval_code,
        "meansubtype": None, "cardholder": op.cardholder, "cardexpirationdate": op.card_expiry,
        "ipaddress": op.client_ip, "protocoltypename": None,
        "testmode": int(bool(order.test_mode)), "customermessage": op.message,
        "orderstate": order.state, "processingname": op.processing_name,
        "operationtype": op.type, "billnumber": op.bill_number,
        "orderamount": _order_money(order), "ordercurrency": order.currency, "slipno": None,
        "packetdate": _t(packet), "signature": "", "checkvalue": checkvalue,
    }


def wscancel_order(order, op, checkvalue: str, packet: datetime) -> Fields:
    """The reply of wscancel: the order, its customer and the cancel operation."""
    operation = {
        "billnumber": op.bill_number, "operationtype": op.type, "operationstate": op.state,
        "amount": _op_money(op), "currency": op.currency, "ipaddress": op.client_ip,
        "meantype_id": MEANTYPE_IDS.get(op.means_type or ""), "meansubtype": None,
        "meannumber": op.means_number, "cardholder": op.cardholder,
        "cardexpirationdate": op.card_expiry, "issuebank": None, "bankcountry": None,
        "responsecode": _response_code(op), "message": op.message,
        "customermessage": op.message, "recommendation": None,
        "approvalcode": op.approval_code, "protocoltypename": None,
        "processingname": op.processing_name, "operationdate": _t(op.created_at),
    }
    return {
        "billnumber": order.bill_number, "ordernumber": order.order_number,
        "testmode": int(bool(order.test_mode)), "ordercomment": order.comment,
        "orderamount": _order_money(order), "ordercurrency": order.currency, "rate": op.rate,
        "orderdate": _t(order.created_at), "orderstate": order.state,
        "packetdate": _t(packet), "checkvalue": checkvalue,
        "customer": {"firstname": order.firstname, "lastname": order.lastname,
                     "middlename": order.middlename, "email": order.email},
        "operation": [operation],
    }


#: The fields of a results-by-date row, in order.
RESULT_LINE_FIELDS = (
    "ordernumber", "billnumber", "testmode", "orderdate", "orderamount", "ordercurrency",
    "orderstate", "operationtype", "operationstate", "amount", "currency", "rate",
    "meantypename", "meannumber", "cardholder", "approvalcode", "responsecode", "message",
    "processingname", "operationdate", "clientip", "firstname", "lastname", "middlename",
    "email")


def _wire_amount(amount, currency: str) -> str:
    """``Money(amount, currency).wire`` without building Money (a million times over)."""
    return format(amount, _AMOUNT_FORMATS.get(currency) or f".{EXPONENTS[currency]}f")


_AMOUNT_FORMATS = {cur: f".{exp}f" for cur, exp in EXPONENTS.items()}


def result_line(line: OperationLine) -> tuple:
    """A results-by-date row as a tuple in ``RESULT_LINE_FIELDS`` order.  Cheap, as it runs a
    million times for a big window: amounts are already wire text here, and times keep
    their microseconds (every edge writes them to the second)."""
    (number, bill, test, created, amount, currency, state, op_type, op_state, op_amount,
     op_currency, rate, means_type, means_number, cardholder, approval, response, message,
     processing, op_created, client_ip, firstname, lastname, middlename, email, _id) = line
    return (number, bill, 1 if test else 0, created, _wire_amount(amount, currency), currency,
            state, op_type, op_state, _wire_amount(op_amount, op_currency), op_currency, rate,
            means_type, means_number, cardholder, approval,
            response or ("AS300" if op_state in _OPEN else None), message, processing,
            op_created, client_ip, firstname, lastname, middlename, email)


# -- values as text --------------------------------------------------------------------------
def _long(d: datetime) -> str:
    return (f"{d.day:02d}.{d.month:02d}.{d.year:04d} {d.hour:02d}:{d.minute:02d}:"
            f"{d.second:02d}")


_TEXT: dict[type, Callable[[Any], str]] = {
    str: str.__str__, int: str, type(None): lambda v: "", Decimal: lambda v: format(v, "f"),
    bool: lambda v: "1" if v else "0", Money: lambda v: v.wire}
#: A value as the POST formats write it, by its type (times ``DD.MM.YYYY HH:MM:SS``, UTC)...
POST_TEXT = {**_TEXT, datetime: _long}
#: ... and as SOAP writes it (times as XML Schema writes them, to the second).
SOAP_TEXT = {**_TEXT, datetime: lambda d: d.isoformat(timespec="seconds")}


def text(value: Any, table: dict[type, Callable[[Any], str]] = POST_TEXT) -> str:
    """``value`` as text by ``table`` (a subclass, such as a ``str`` enum, as its base)."""
    write = table.get(type(value))
    if write is None:
        write = next((table[t] for t in type(value).__mro__ if t in table), str)
    return write(value)


def xml_text(value: str) -> str:
    """Text as XML holds it: escaped, and never a character XML cannot hold (a row written
    before such values were refused has U+FFFD in their place)."""
    if "&" in value or "<" in value or ">" in value:
        return escape(xml_fit(value))
    return xml_fit(value)


#: About how many bytes a streamed reply sends at a time.
CHUNK = 64 * 1024


def chunked(pieces: Iterable[str], size: int = CHUNK) -> Iterator[bytes]:
    """The pieces of a reply joined, and encoded, into chunks of about ``size``."""
    buf: list[str] = []
    length = 0
    for piece in pieces:
        buf.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(buf).encode("utf-8")
            buf, length = [], 0
    if buf:
        yield "".join(buf).encode("utf-8")
