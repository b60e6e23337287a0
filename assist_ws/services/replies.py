"""The fields of the web services' replies, in Assist's order, as Python values:
``Money`` for amounts, aware UTC ``datetime`` for times, ``int`` for codes and flags, ``str``
or ``None`` (absent) for the rest.

The SOAP face and the POST formats both build their replies from these dictionaries, so the
two faces cannot drift apart; turning values into wire text happens only at the edges.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.cards import auth_required
from ..domain.model import OperationState
from ..domain.money import EXPONENTS, Money
from ..domain.records import OperationLine

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
