"""The OpenAPI 3 document of the JSON interface: every merchant service and ``payrequest.cfm``,
their parameters, replies (``web.assist_json``) and refusals.

Served at ``/openapi.json`` and committed as ``wsdl/openapi.json`` (``scripts/regen-openapi``
writes it; a test keeps the two identical), so integrators generate JSON clients from it as
they generate SOAP clients from the WSDLs.  It names no server: paths are relative to where
it is served.  Each service takes a form (``Format=5``) or a JSON object of the same names;
every value is a string, in the request as in the reply.
"""

from __future__ import annotations

import json
from typing import Any

from .. import __version__
from ..services.notifications.merchant import REPLAY_FIELDS, UNDELIVERED_FIELDS
from ..services.merchant_services import SERVICES
from ..services.replies import RESULT_LINE_FIELDS
from . import assist_json as shapes
from .authrequest import PARAMETERS as AUTH_PARAMETERS

_AUTH = (("Merchant_ID", True, "The merchant's number."),
         ("Login", True, "The web services user's login."),
         ("Password", True, "The user's password (in the body, never in the URL)."))
_WINDOW = tuple((f"{end}{part}", False, f"The window's {end.lower()} (UTC): {part.lower()}.")
                for end in ("Start", "End") for part in ("Year", "Month", "Day", "Hour", "Min"))
_MONEY = (("Amount", False, "Part of the amount (with Currency); absent: all of it."),
          ("Currency", False, "The currency of Amount."),
          ("ClientIP", False, "The operator's IP address."),
          ("Language", False, "RU or EN."))
_CANCEL = _MONEY + (("CancelReason", False, "1 refused by the shop, 2 by the buyer, 3 fraud."),
                    ("Externalrefundid", False,
                     "The shop's id of this refund (10-100 of A-Z a-z 0-9 - _): a repeated "
                     "request with it answers the stored result."))
_BILL = (("Billnumber", True, "The payment's billnumber (short, or extended NNN.k)."),)

#: Each merchant service (``services.merchant_services``, by key): its summary, parameters
#: and reply schema.
DESCRIPTIONS: dict[str, tuple[str, tuple, str]] = {
    "orderstate": ("The state of an order number's latest payment attempt.",
                   _AUTH + (("Ordernumber", True, "The shop's order number."),) + _WINDOW,
                   "OrderStateReply"),
    "orderresult": ("An order number's payment attempts with operations, or one payment's by "
                    "Billnumber.",
                    _AUTH + (("Ordernumber", False, "The shop's order number (or Billnumber)."),
                             ("Billnumber", False, "One payment, whenever created (instead of "
                                                   "Ordernumber; the window does not apply)."),
                             ("Language", False, "RU or EN.")) + _WINDOW,
                    "OrderResultReply"),
    "charge": ("Confirm a two-stage payment, all of it or part.",
               _AUTH + _BILL + _MONEY + (("AutoDeposit", False, "1: release what is left of a "
                                                                "partial confirm."),),
               "ChargeReply"),
    "cancel": ("Cancel or refund a payment, all of it or part.", _AUTH + _BILL + _CANCEL,
               "CancelReply"),
    "wscancel": ("Cancel or refund a payment: the order with its cancel operation.",
                 _AUTH + _BILL + _CANCEL, "WsCancelReply"),
    "resultbydate": ("The merchant's operations created in a window.", _AUTH + _WINDOW + (
        ("Success", False, "0 all, 1 successful only, 2 the others."),), "ResultByDateReply"),
    "replay": ("Queue the merchant's result notifications again.",
               _AUTH + (("Billnumber", False, "Those of one payment."),
                        ("Ordernumber", False, "Those of one order number.")) + _WINDOW,
               "ReplayReply"),
    "undelivered": ("The merchant's notifications not delivered yet.", _AUTH + _WINDOW,
                    "UndeliveredReply"),
}

_PAYREQUEST_REQUIRED = ("Merchant_ID", "OrderNumber", "OrderAmount")
#: The authorization request's parameters (``web.authrequest``) and the checkvalue's.
_PAYREQUEST = tuple((name, name in _PAYREQUEST_REQUIRED, "") for name in dict.fromkeys(
    [wire for wire, _code in AUTH_PARAMETERS.values()]
    + ["CustomerNumber", "Disable3DS", "Checkvalue"]))

#: A refusal's statuses (``assist_json.STATUS``; 408 and 413 from ``serving.edge``) and what
#: each means.
ERRORS = {
    "400": "A parameter is missing, malformed or refused, or the order's state or amounts "
           "forbid the operation.",
    "401": "The login or password is wrong (7).",
    "403": "The user lacks the service's right (8), or the password was sent in the URL (19).",
    "404": "No such order for this merchant (10).",
    "408": "The request's body did not arrive in time (4).",
    "413": "The request's body is larger than the service takes (17).",
    "500": "Our own fault (2/1).",
    "503": "The processing center could not be reached (2).",
}


def _strings(names: tuple[str, ...] | list[str], **nested: dict) -> dict[str, Any]:
    """An object of these string fields (all always sent) and the nested schemas."""
    props: dict[str, Any] = {name: {"type": "string"} for name in names}
    props.update(nested)
    return {"type": "object", "properties": props, "required": list(props),
            "additionalProperties": False}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _wrapped(key: str, schema: dict) -> dict[str, Any]:
    return {"type": "object", "properties": {key: schema}, "required": [key],
            "additionalProperties": False}


def _list(items: str, schema: dict) -> dict[str, Any]:
    return {"type": "object", "properties": {items: {"type": "array", "items": schema}},
            "required": [items], "additionalProperties": False}


def _schemas() -> dict[str, Any]:
    order = _strings(shapes.ORDER, customer=_ref("Customer"),
                     operations={"type": "array", "items": _ref("Operation")})
    return {
        "Error": {"type": "object", "properties": {
            "firstcode": {"type": "integer"}, "secondcode": {"type": "integer"},
            "message": {"type": "string"}},
            "required": ["firstcode", "secondcode", "message"], "additionalProperties": False},
        "CheckData": _strings(shapes.CHECKDATA),
        "Customer": _strings(shapes.CUSTOMER),
        "Operation": _strings(shapes.OPERATION),
        "Order": order,
        "OrderResultOrder": dict(order, properties=dict(order["properties"],
                                                        checkdata=_ref("CheckData")),
                                 required=order["required"] + ["checkdata"]),
        "OrderState": _strings(shapes.ORDERSTATE, checkdata=_ref("CheckData")),
        "OperationOrder": _strings(shapes.CHARGE, customer=_ref("Customer")),
        "ResultLine": _strings(RESULT_LINE_FIELDS),
        "Notification": _strings(REPLAY_FIELDS),
        "UndeliveredNotification": _strings(UNDELIVERED_FIELDS),
        "OrderStateReply": _wrapped("orderstate", _ref("OrderState")),
        "OrderResultReply": _wrapped("orderresult", _list("orders", _ref("OrderResultOrder"))),
        "ChargeReply": _wrapped("charge", _ref("OperationOrder")),
        "CancelReply": _wrapped("cancel", _ref("OperationOrder")),
        "WsCancelReply": _wrapped("wscancel", {
            "type": "object", "properties": {"order": _ref("Order"),
                                             "checkdata": _ref("CheckData")},
            "required": ["order", "checkdata"], "additionalProperties": False}),
        "ResultByDateReply": _wrapped("resultbydate", _list("operations", _ref("ResultLine"))),
        "ReplayReply": _wrapped("replay", _list("notifications", _ref("Notification"))),
        "UndeliveredReply": _wrapped("undelivered",
                                     _list("notifications", _ref("UndeliveredNotification"))),
        "PayRequestReply": {
            "type": "object", "properties": {
                "URL": {"type": "string", "description": "The order's payment page."},
                "url": {"type": "string", "description": "The same."},
                "orderstate": {"type": "string", "description": "Decline when refused."},
                "expirationtime": {"type": "string", "description": "DD.MM.YYYY HH:MM:SS "
                                                                    "UTC: pay until then."},
                "billnumber": {"type": "string"}, "ordernumber": {"type": "string"},
                "firstcode": {"type": "integer"}, "secondcode": {"type": "integer"},
                "message": {"type": "string"}},
            "required": ["URL", "url", "orderstate", "expirationtime", "firstcode",
                         "secondcode"],
            "additionalProperties": False},
    }


def _request(name: str, parameters: tuple, form: bool = True
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the request body, its schemas by name): a JSON object ``<name>Request`` and, for the
    merchant services, a form ``<name>Form`` that must ask for ``Format=5``."""
    props = {p: dict({"type": "string"}, **({"description": d} if d else {}))
             for p, _req, d in parameters}
    required = [p for p, req, _d in parameters if req]
    schemas = {f"{name}Request": {"type": "object", "properties": props, "required": required}}
    if form:
        schemas[f"{name}Form"] = {
            "type": "object", "properties": dict(props, Format={
                "type": "string", "enum": ["5"], "description": "5: answer in JSON."}),
            "required": required + ["Format"]}
    else:
        schemas[f"{name}Form"] = schemas[f"{name}Request"]
    # Not marked required: a request without a body is answered too (a refusal), and
    # openapi-python-client 0.29 writes a client that cannot be imported for a required body
    # of two media types.
    body = {"content": {
        "application/json": {"schema": _ref(f"{name}Request")},
        "application/x-www-form-urlencoded": {"schema": _ref(f"{name}Form")}}}
    return body, schemas


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def document() -> dict[str, Any]:
    schemas = _schemas()
    paths: dict[str, Any] = {}
    for spec in SERVICES:
        summary, parameters, reply = DESCRIPTIONS[spec.key]
        body, more = _request(spec.key.capitalize(), parameters)
        schemas.update(more)
        responses = {"200": _json("The reply.", reply)}
        responses.update((code, _json(text, "Error")) for code, text in ERRORS.items())
        paths[spec.path + ".cfm"] = {"post": {"operationId": spec.key, "summary": summary,
                                              "requestBody": body, "responses": responses}}
    body, more = _request("Payrequest", _PAYREQUEST, form=False)
    schemas.update(more)
    paths["/pay/payrequest.cfm"] = {"post": {
        "operationId": "payrequest",
        "summary": "Create an order and get its payment page (a refusal is orderstate "
                   "Decline with firstcode/secondcode/message, HTTP 200 too).",
        "requestBody": body, "responses": {
            "200": _json("The payment page, or the refusal.", "PayRequestReply"),
            **{code: _json(ERRORS[code], "Error") for code in ("408", "413", "500")}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "assist-ws JSON interface", "version": __version__,
                 "description": "Assist's merchant web services in JSON (Format=5), with "
                                "refusals as HTTP statuses and {firstcode, secondcode, "
                                "message}."},
        "paths": paths,
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def document_bytes() -> bytes:
    """The document as served and committed."""
    return (json.dumps(document(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
