"""Assist's JSON interface (``Format=5``, or a JSON request body): each reply in the shape
Assist's own JSON clients read, and each refusal with an HTTP status a JSON client acts on.

Every reply is one object under the service's key, every value a string (absent values
``""``), built from the same field dictionaries as the XML and CSV replies
(``services.replies``):

* ``{"orderstate": {ordernumber, billnumber, orderamount, ordercurrency, orderstate,
  checkdata}}`` -- one object: the latest attempt of the order number (the others are in
  ``orderresult``);
* ``{"orderresult": {"orders": [order, ...]}}``, each order with ``customer``, ``checkdata``
  and ``operations``;
* ``{"charge": {...}}`` and ``{"cancel": {...}}``: the order and the operation made, flat,
  with ``customer``;
* ``{"wscancel": {"order": order, "checkdata": {...}}}``;
* ``{"resultbydate": {"operations": [...]}}`` (streamed), ``{"replay": {"notifications":
  [...]}}``, ``{"undelivered": {"notifications": [...]}}``.

``checkdata`` is ``{packetdate, signature, checkvalue}``.  A refusal is ``{"firstcode",
"secondcode", "message"}`` (codes as numbers) with the status of ``status_of``.
"""

from __future__ import annotations

import json
from typing import Any

from .formats import flat

#: HTTP status of a refusal by its ``firstcode``: 400 a request the client must change,
#: 401 authentication failed, 403 a right missing or the password in the URL, 404 nothing
#: found (another merchant's order included: it is not found for this merchant), 503 the
#: processing center could not be reached.  Our own faults are 500 (``wsgi.failure_reply``).
STATUS = {7: 401, 8: 403, 19: 403, 10: 404, 2: 503}
STATUS_TEXT = {400: "400 Bad Request", 401: "401 Unauthorized", 403: "403 Forbidden",
               404: "404 Not Found", 500: "500 Internal Server Error",
               503: "503 Service Unavailable"}

#: The fields of each shape, in order.
CUSTOMER = ("firstname", "lastname", "middlename", "email", "ipaddress")
CHECKDATA = ("packetdate", "signature", "checkvalue")
ORDERSTATE = ("ordernumber", "billnumber", "orderamount", "ordercurrency", "orderstate")
ORDER = ("billnumber", "ordernumber", "testmode", "ordercomment", "orderamount",
         "ordercurrency", "orderdate", "orderstate", "rate")
OPERATION = ("billnumber", "operationtype", "operationstate", "amount", "currency",
             "ipaddress", "meantype_id", "meantypename", "meansubtype", "meannumber",
             "cardholder", "cardexpirationdate", "issuebank", "bankcountry", "responsecode",
             "message", "customermessage", "recommendation", "approvalcode",
             "protocoltypename", "processingname", "operationdate", "slipno", "authresult",
             "authrequired")
CHARGE = ("billnumber", "ordernumber", "orderstate", "orderamount", "ordercurrency",
          "orderdate", "ordercomment", "operationtype", "amount", "currency", "rate",
          "testmode", "packetdate", "signature", "checkvalue", "responsecode", "message",
          "customermessage", "recommendation", "approvalcode", "processingname",
          "protocoltypename", "meantypename", "meannumber", "cardholder",
          "cardexpirationdate", "issuebank", "bankcountry", "slipno")


def status_of(firstcode: int) -> int:
    return STATUS.get(firstcode, 400)


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def error(firstcode: int, secondcode: int, message: str) -> tuple[str, bytes]:
    """(HTTP status line, body) of a refusal."""
    body = dumps({"firstcode": firstcode, "secondcode": secondcode, "message": message})
    return STATUS_TEXT[status_of(firstcode)], body


def _pick(row: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: row.get(name) for name in names}


def _customer(row: dict[str, Any]) -> dict[str, Any]:
    nested = dict(row.get("customer") or {})
    nested.update((k, row[k]) for k in CUSTOMER if k in row and k not in nested)
    nested.setdefault("ipaddress", row.get("ipaddress"))
    return _pick(nested, CUSTOMER)


def _operation(op: dict[str, Any]) -> dict[str, Any]:
    fields = _pick(op, OPERATION)
    if fields["ipaddress"] is None:
        fields["ipaddress"] = op.get("clientip")
    return fields


def _order(row: dict[str, Any]) -> dict[str, Any]:
    order = _pick(row, ORDER)
    order["customer"] = _customer(row)
    order["operations"] = [_operation(op) for op in row.get("operation", ())]
    return order


def orderstate(rows: list[dict], short: bool) -> bytes:
    """The latest attempt (the rows are oldest first)."""
    row = rows[-1]
    return dumps({"orderstate": flat(dict(_pick(row, ORDERSTATE),
                                          checkdata=_pick(row, CHECKDATA)), short)})


def orderresult(rows: list[dict], short: bool) -> bytes:
    orders = [dict(_order(row), checkdata=_pick(row, CHECKDATA)) for row in rows]
    return dumps({"orderresult": {"orders": [flat(o, short) for o in orders]}})


def operation_reply(key: str, row: dict[str, Any]) -> bytes:
    """Charge and cancel: ``{key: {...}}``."""
    doc = dict(_pick(row, CHARGE), customer=_customer(row))
    return dumps({key: flat(doc, False)})


def wscancel(row: dict[str, Any]) -> bytes:
    doc = {"order": _order(row), "checkdata": _pick(row, CHECKDATA)}
    return dumps({"wscancel": flat(doc, False)})


def listing(key: str, items: str, rows: list[dict]) -> bytes:
    """``{key: {items: [...]}}`` of rows already text."""
    return dumps({key: {items: rows}})
