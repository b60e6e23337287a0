"""The merchant web services in SOAP 1.1 (document/literal wrapped), one Spyne application
per service of ``services.merchant_services``, and their WSDLs.

Each service's operation is declared here with its wire types (``wire``); its method only
turns the request's values into the registry's call (``MerchantApi``, found on the
application as ``ctx.app.api``; the client's address is the context's ``udc``) and returns
the reply rows (``services.replies``; for results by date, the stream).  Spyne checks
requests, dispatches them, answers faults and describes everything in the WSDL;
``dispatch`` writes the replies (``streaming``).
"""

from __future__ import annotations

import threading
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree
from spyne import ServiceBase, rpc
from spyne.interface.wsdl import Wsdl11

from .. import compat
from ..domain.text import xml_fit
from ..services.merchant_api import MerchantApi
from ..services.merchant_services import BY_PATH, SERVICES, MerchantService, Params
from .faults import AssistApplication, AssistSoap11
from .wire import (NS, WINDOW, AssistFault, BillNumber, CancelReason, ClientIp,
                   ExternalRefundId, Language, Login, M, MerchantId, OperationOrders,
                   OptionalAmount, OptionalBillNumber, OptionalCurrency, OptionalFlag,
                   OptionalOrderNumber, OrderNumber, OrderResultResult, OrderStateResult,
                   Password, ReplayResult, ResultByDateResult, Success, UndeliveredResult,
                   WSCancelOrder)

__all__ = ["SERVICES", "BY_PATH", "make_application", "request_fields", "reply_names",
           "wsdl_document", "committed_name"]

SOAP_HTTP = "http://schemas.xmlsoap.org/soap/http"
_PLACEHOLDER = "urn:assist-ws:location"
#: The wire type of each request field (by default; ``_OPERATIONS`` may say otherwise).
_TYPES = {"ordernumber": OrderNumber, "billnumber": BillNumber, "merchant_id": MerchantId,
          "login": Login, "password": Password, "amount": OptionalAmount,
          "currency": OptionalCurrency, "clientip": ClientIp, "language": Language,
          "autodeposit": OptionalFlag, "cancelreason": CancelReason,
          "externalrefundid": ExternalRefundId, "success": Success, **dict(WINDOW)}
_OPTIONAL_NUMBERS = {"billnumber": OptionalBillNumber, "ordernumber": OptionalOrderNumber}

#: Service key -> (Spyne service name, reply type, reply element, documentation, more of
#: ``rpc``'s options).
_OPERATIONS: dict[str, tuple[str, Any, str, str, dict]] = {
    "orderstate": ("OrderStateService", OrderStateResult, "orderstate",
                   "The payment attempts of an order number: billnumber, amount, state.", {}),
    "orderresult": ("OrderResultService", OrderResultResult, "orderresult",
                    "The payment attempts of an order number with their operations.", {}),
    "charge": ("ChargeService", OperationOrders, "orders",
               "Confirm a two-stage payment, all of it or Amount; never twice.", {}),
    "cancel": ("CancelService", OperationOrders, "orders",
               "Cancel (reverse or refund) all that is left of a payment, or Amount.", {}),
    "wscancel": ("WSCancelService", WSCancelOrder, "order",
                 "Cancel with a result per operation; Externalrefundid makes it idempotent.",
                 {"_in_message_name": "WSCancelRequestParams",
                  "_out_message_name": "WSCancelResponseParams"}),
    "resultbydate": ("ResultByDateService", ResultByDateResult, "resultbydate",
                     "The merchant's operations in a window (default: the last 3 hours), "
                     "streamed.", {}),
    "replay": ("ReplayService", ReplayResult, "replay",
               "Send again, unchanged and with the same ids, the result notifications of a\n"
               "billnumber, of an order number, or made in a window.",
               {"types": _OPTIONAL_NUMBERS}),
    "undelivered": ("UndeliveredService", UndeliveredResult, "undelivered",
                    "The result notifications made in a window (default: the last 3 days) "
                    "and not\ndelivered: pending, rejected or expired, with their "
                    "tries.", {}),
}


def _service(spec: MerchantService) -> type:
    """The Spyne service of ``spec``: one operation, named as the service's key."""
    name, returns, result, doc, options = _OPERATIONS[spec.key]
    options = dict(options)
    types = dict(_TYPES, **options.pop("types", {}))

    def method(ctx, *values):
        answer = spec.call(ctx.app.api, Params(dict(zip(spec.fields, values)), ctx.udc))
        return answer if spec.rows is None else spec.rows(answer)

    method.__name__, method.__doc__ = spec.key, doc
    operation = rpc(*[types[f] for f in spec.fields], _args=spec.fields,
                    _returns=returns.customize(**M), _out_variable_name=result,
                    _throws=[AssistFault], **options)(method)
    return type(name, (ServiceBase,), {"__service_name__": name, spec.key: operation})


_CLASSES = {spec.path: _service(spec) for spec in SERVICES}


def make_application(spec: MerchantService, api: MerchantApi | None) -> AssistApplication:
    app = AssistApplication([_CLASSES[spec.path]], tns=NS, name=spec.name,
                            in_protocol=AssistSoap11(), out_protocol=AssistSoap11())
    app.transport = SOAP_HTTP
    app.api = api
    return app


def _method(app: AssistApplication):
    return next(iter(app.interface.service_method_map.values()))[0]


def request_fields(app: AssistApplication) -> dict[str, type]:
    """The request element's children, in order: name -> Spyne type."""
    return dict(_method(app).in_message._type_info)


def reply_names(app: AssistApplication) -> tuple[str, str]:
    """The reply element's name and its child's (the result: ``orderstate``, ``orders``)."""
    out = _method(app).out_message
    return out.get_type_name(), next(iter(out._type_info))


# -- WSDL ------------------------------------------------------------------------------------
_XS = "{http://www.w3.org/2001/XMLSchema}"
_WSDL = "{http://schemas.xmlsoap.org/wsdl/}"
_SOAP = "{http://schemas.xmlsoap.org/wsdl/soap/}"
_ORDER = {f"{_XS}import": 0, f"{_XS}simpleType": 1, f"{_XS}complexType": 2, f"{_XS}element": 3}
_templates: dict[str, bytes] = {}
_lock = threading.Lock()


def _canonical(root) -> None:
    """Stable output: Spyne orders schema declarations by object ids; sort them by kind and
    name, name each SOAPAction as Assist does (``http://www.paysecure.ru/ws/<op>``), and
    write the documentation as every Python reads it (``compat.clean_documentation``)."""
    compat.clean_documentation(root)
    for schema in root.iter(f"{_XS}schema"):
        children = sorted(schema, key=lambda el: (_ORDER.get(el.tag, 9), el.get("name") or ""))
        for el in children:
            schema.remove(el)
        for el in children:
            el.tail = None
            schema.append(el)
    for op in root.iter(f"{_SOAP}operation"):
        if op.get("soapAction"):
            op.set("soapAction", NS + op.get("soapAction"))


def _template(spec: MerchantService) -> bytes:
    with _lock:
        found = _templates.get(spec.path)
        if found is None:
            doc = Wsdl11(make_application(spec, None).interface)
            doc.build_interface_document(_PLACEHOLDER)
            root = etree.fromstring(doc.get_interface_document())
            _canonical(root)
            found = etree.tostring(root, pretty_print=True, xml_declaration=True,
                                   encoding="UTF-8")
            _templates[spec.path] = found
        return found


def wsdl_document(path: str, location: str) -> bytes:
    """The WSDL of the service at ``path`` (e.g. ``/orderstate/orderstate``), its
    ``soap:address`` set to ``location``."""
    template = _template(BY_PATH[path])
    return template.replace(_PLACEHOLDER.encode(),
                            escape(xml_fit(location), {'"': "&quot;"}).encode("utf-8"))


def committed_name(path: str) -> str:
    """The file under ``wsdl/`` holding the committed copy: ``orderstate.wsdl`` …"""
    return path.rsplit("/", 1)[-1] + ".wsdl"
