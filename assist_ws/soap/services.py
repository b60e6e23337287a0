"""The merchant web services in SOAP 1.1 (document/literal wrapped), one Spyne application
per Assist path, and their WSDLs.

Each ``@rpc`` method does three things: wire values to use-case arguments, one call of
``MerchantApi`` (for the notification services, of ``services.notifications.merchant`` with
it), the answer to wire fields (``services.replies`` decides them; for notifications,
``notifications.merchant``).  The ``MerchantApi`` is found on the application
(``ctx.app.api``).  Spyne parses and checks requests, dispatches them, answers faults and
describes everything in the WSDL; the replies are written by ``streaming`` (several times
faster than Spyne's element trees, and streamed for results by date): the method leaves its
reply in the WSGI environ under ``REPLY_KEY`` (``STREAM_KEY`` for results by date) and
``dispatch`` writes it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

import spyne.const
from lxml import etree
from spyne import ServiceBase, rpc
from spyne.interface.wsdl import Wsdl11

from .. import compat
from ..domain.text import xml_fit
from ..services.notifications import merchant as notices
from ..services import replies
from ..services.auth import Credentials
from ..services.merchant_api import MerchantApi
from .faults import AssistApplication, AssistSoap11
from .wire import (NS, WINDOW, AssistFault, BillNumber, CancelReason, ClientIp,
                   ExternalRefundId, Language, Login, M, MerchantId, OperationOrders,
                   OptionalAmount, OptionalCurrency, OptionalFlag, OrderNumber, OrderResultResult,
                   OrderStateResult, Password, ResultByDateResult, Success, WSCancelOrder)
from .wire import OptionalBillNumber, OptionalOrderNumber, ReplayResult, UndeliveredResult

STREAM_KEY = "assist_ws.soap.stream"
#: Where an operation leaves its reply for ``dispatch`` to write (see ``streaming``):
#: (response element name, content).
REPLY_KEY = "assist_ws.soap.reply"

# Spyne runs a full ``gc.collect()`` after a request at most once a second (to close file
# attachments, which these services do not take).  In a gateway process that is ~100 ms of
# a request's time, every second: the p99.  Python's own collector is enough.
spyne.const.MIN_GC_INTERVAL = float("inf")
_SOAP_HTTP = "http://schemas.xmlsoap.org/soap/http"
_PLACEHOLDER = "urn:assist-ws:location"


def _api(ctx) -> MerchantApi:
    return ctx.app.api


def _creds(ctx, merchant_id, login, password) -> Credentials:
    """The credentials of the request, with the address of the client that sent them."""
    return Credentials(None if merchant_id is None else str(merchant_id), login, password,
                       ctx.transport.req_env.get("REMOTE_ADDR"))


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _window(values: dict[str, Any]) -> dict[str, Any]:
    return {name: values.get(name) for name, _t in WINDOW}


def _reply(ctx, response: str, content: dict) -> None:
    """Leave the reply for ``dispatch`` to write.  Spyne answers an empty body (given as its
    out string, Spyne writes no reply of its own), discarded."""
    ctx.transport.req_env[REPLY_KEY] = (response, content)
    ctx.out_string = [b""]


_W = [t for _n, t in WINDOW]
_T = {"_throws": [AssistFault]}


class OrderStateService(ServiceBase):
    __service_name__ = "OrderStateService"

    @rpc(OrderNumber, MerchantId, Login, Password, *_W,
         _returns=OrderStateResult.customize(**M), _out_variable_name="orderstate", **_T)
    def orderstate(ctx, ordernumber, merchant_id, login, password, startyear, startmonth,
                   startday, starthour, startmin, endyear, endmonth, endday, endhour, endmin):
        """The payment attempts of an order number: billnumber, amount, state."""
        answer = _api(ctx).order_state(_creds(ctx, merchant_id, login, password), ordernumber,
                                       _window(locals()))
        _reply(ctx, "orderstateResponse", {"orderstate": {"order": [
            replies.order_state(o, cv, answer.packet_date)
            for o, cv in zip(answer.orders, answer.checkvalues)]}})


class OrderResultService(ServiceBase):
    __service_name__ = "OrderResultService"

    @rpc(OrderNumber, MerchantId, Login, Password, *_W, Language,
         _returns=OrderResultResult.customize(**M), _out_variable_name="orderresult", **_T)
    def orderresult(ctx, ordernumber, merchant_id, login, password, startyear, startmonth,
                    startday, starthour, startmin, endyear, endmonth, endday, endhour, endmin,
                    language):
        """The payment attempts of an order number with their operations."""
        answer = _api(ctx).order_result(_creds(ctx, merchant_id, login, password), ordernumber,
                                        _window(locals()), language=language)
        _reply(ctx, "orderresultResponse", {"orderresult": {"order": [
            replies.order_result(o, cv, answer.packet_date)
            for o, cv in zip(answer.orders, answer.checkvalues)]}})


class ChargeService(ServiceBase):
    __service_name__ = "ChargeService"

    @rpc(BillNumber, MerchantId, Login, Password, OptionalAmount, OptionalCurrency, ClientIp,
         Language, OptionalFlag,
         _returns=OperationOrders.customize(**M), _out_variable_name="orders", **_T)
    def charge(ctx, billnumber, merchant_id, login, password, amount, currency, clientip,
               language, autodeposit):
        """Confirm a two-stage payment, all of it or Amount; never twice."""
        answer = _api(ctx).confirm(_creds(ctx, merchant_id, login, password), billnumber,
                                   _amount(amount), currency, auto_deposit=autodeposit,
                                   client_ip=clientip, language=language)
        _operation_orders(ctx, "chargeResponse", answer)


def _operation_orders(ctx, response: str, answer) -> None:
    _reply(ctx, response, {"orders": {"order": [replies.operation_order(
        answer.orders[0], answer.operation, answer.checkvalues[0], answer.packet_date)]}})


_CANCEL_ARGS = (BillNumber, MerchantId, Login, Password, OptionalAmount, OptionalCurrency,
                CancelReason, Language, ClientIp, ExternalRefundId)


class CancelService(ServiceBase):
    __service_name__ = "CancelService"

    @rpc(*_CANCEL_ARGS, _returns=OperationOrders.customize(**M), _out_variable_name="orders",
         **_T)
    def cancel(ctx, billnumber, merchant_id, login, password, amount, currency, cancelreason,
               language, clientip, externalrefundid):
        """Cancel (reverse or refund) all that is left of a payment, or Amount."""
        answer = _api(ctx).cancel(_creds(ctx, merchant_id, login, password), billnumber,
                                  _amount(amount), currency, reason=cancelreason,
                                  external_id=externalrefundid, client_ip=clientip,
                                  language=language)
        _operation_orders(ctx, "cancelResponse", answer)


class WSCancelService(ServiceBase):
    __service_name__ = "WSCancelService"

    @rpc(*_CANCEL_ARGS, _returns=WSCancelOrder.customize(**M), _out_variable_name="order",
         _in_message_name="WSCancelRequestParams", _out_message_name="WSCancelResponseParams",
         **_T)
    def wscancel(ctx, billnumber, merchant_id, login, password, amount, currency,
                 cancelreason, language, clientip, externalrefundid):
        """Cancel with a result per operation; Externalrefundid makes it idempotent."""
        answer = _api(ctx).cancel(_creds(ctx, merchant_id, login, password), billnumber,
                                  _amount(amount), currency, reason=cancelreason,
                                  external_id=externalrefundid, client_ip=clientip,
                                  language=language)
        _reply(ctx, "WSCancelResponseParams", {"order": replies.wscancel_order(
            answer.orders[0], answer.operation, answer.checkvalues[0], answer.packet_date)})


class ResultByDateService(ServiceBase):
    __service_name__ = "ResultByDateService"

    @rpc(MerchantId, Login, Password, *_W, Success,
         _returns=ResultByDateResult.customize(**M), _out_variable_name="resultbydate", **_T)
    def resultbydate(ctx, merchant_id, login, password, startyear, startmonth, startday,
                     starthour, startmin, endyear, endmonth, endday, endhour, endmin, success):
        """The merchant's operations in a window (default: the last 3 hours), streamed."""
        stream = _api(ctx).results_by_date(_creds(ctx, merchant_id, login, password),
                                           _window(locals()), success=success)
        ctx.transport.req_env[STREAM_KEY] = stream
        ctx.out_string = [b""]


class ReplayService(ServiceBase):
    __service_name__ = "ReplayService"

    @rpc(MerchantId, Login, Password, OptionalBillNumber, OptionalOrderNumber, *_W,
         _returns=ReplayResult.customize(**M), _out_variable_name="replay", **_T)
    def replay(ctx, merchant_id, login, password, billnumber, ordernumber, startyear,
               startmonth, startday, starthour, startmin, endyear, endmonth, endday, endhour,
               endmin):
        """Send again, unchanged and with the same ids, the result notifications of a
        billnumber, of an order number, or made in a window."""
        lines = notices.replay(_api(ctx), _creds(ctx, merchant_id, login, password), billnumber,
                               ordernumber, _window(locals()))
        _reply(ctx, "replayResponse", {"replay": {"notification": [
            notices.replay_row(line) for line in lines]}})


class UndeliveredService(ServiceBase):
    __service_name__ = "UndeliveredService"

    @rpc(MerchantId, Login, Password, *_W,
         _returns=UndeliveredResult.customize(**M), _out_variable_name="undelivered", **_T)
    def undelivered(ctx, merchant_id, login, password, startyear, startmonth, startday,
                    starthour, startmin, endyear, endmonth, endday, endhour, endmin):
        """The result notifications made in a window (default: the last 3 days) and not
        delivered: pending, rejected or expired, with their tries."""
        lines = notices.undelivered(_api(ctx), _creds(ctx, merchant_id, login, password),
                                    _window(locals()))
        _reply(ctx, "undeliveredResponse", {"undelivered": {"notification": [
            notices.undelivered_row(line) for line in lines]}})


@dataclass(frozen=True)
class ServiceSpec:
    """One merchant web service: its path (without ``.cfm``), Spyne service, application
    name, the Format a form POST gets by default, and the request element's name."""

    path: str
    service: type
    name: str
    default_format: str
    operation: str


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("/orderstate/orderstate", OrderStateService, "OrderState", "4", "orderstate"),
    ServiceSpec("/orderresult/orderresult", OrderResultService, "OrderResult", "4",
                "orderresult"),
    ServiceSpec("/charge/charge", ChargeService, "Charge", "1", "charge"),
    ServiceSpec("/cancel/cancel", CancelService, "Cancel", "4", "cancel"),
    ServiceSpec("/cancel/wscancel", WSCancelService, "WSCancel", "4", "WSCancelRequestParams"),
    ServiceSpec("/resultbydate/resultbydate", ResultByDateService, "ResultByDate", "1",
                "resultbydate"),
    ServiceSpec("/notification/replay", ReplayService, "NotificationReplay", "1", "replay"),
    ServiceSpec("/notification/undelivered", UndeliveredService, "UndeliveredNotifications",
                "1", "undelivered"),
)
BY_PATH = {s.path: s for s in SERVICES}


def make_application(spec: ServiceSpec, api: MerchantApi | None) -> AssistApplication:
    app = AssistApplication([spec.service], tns=NS, name=spec.name,
                            in_protocol=AssistSoap11(), out_protocol=AssistSoap11())
    app.transport = _SOAP_HTTP
    app.api = api
    return app


def request_fields(app: AssistApplication) -> dict[str, type]:
    """The request element's children, in order: name -> Spyne type."""
    method = next(iter(app.interface.service_method_map.values()))[0]
    return dict(method.in_message._type_info)


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


def _template(spec: ServiceSpec) -> bytes:
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
