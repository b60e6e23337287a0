"""The Spyne SOAP service of the emulated processing centers and its WSDL.

:class:`ProcessingService` declares the operations (Authorize, Reverse,
Settle, Refund, TransactionStatus, the points operations and Reconcile) on top
of the types in ``contract.py``. One Spyne :class:`~spyne.Application` serves
every center: the WSGI router puts the center, the ledger and the late delay
into the WSGI environ under :data:`ENV_KEY`, and each operation reads them
from there. :func:`wsdl_document` renders the published WSDL for a given
``soap:address`` location.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace
from decimal import Decimal as D

from lxml import etree
from spyne import Application, Fault, ServiceBase, rpc
from spyne.interface.wsdl import Wsdl11
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from .. import compat
from .config import Center
from .contract import (
    APP_NAME, SERVICE_NAME, TNS, Amount, AuthorizeResult, CardNumber, Cardholder,
    CurrencyCode, Cvc, LedgerAuthorization, Month, OperationResult, OptionalAmount, OptionalFlag,
    Points, PointsBalanceResult, ReconcileResult, RequestId, SettleResult, Text,
    SettlementItems, StatusResult, Year,
)
from .acs import acs_url
from .ledger import Ledger, LedgerError

__all__ = ["ENV_KEY", "CenterBinding", "ProcessingService", "application",
           "wsgi_application", "wsdl_document"]

#: WSGI environ key carrying the :class:`CenterBinding` of the request.
ENV_KEY = "assist_ws.emulator.binding"
#: Largest SOAP request accepted (a Settle batch of many thousands of items).
MAX_REQUEST_BYTES = 64 * 1024 * 1024
_SOAP_HTTP = "http://schemas.xmlsoap.org/soap/http"
_PLACEHOLDER = "urn:assist-ws:processing:location"

# Spyne logs every fault it answers (client faults with tracebacks); without
# a handler Python would print them to stderr. The host may still configure
# the "spyne" logger (it propagates to the root logger).
logging.getLogger("spyne").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class CenterBinding:
    """What an operation needs to know about the center it runs for."""

    center: Center
    ledger: Ledger
    late_seconds: float


def _binding(ctx) -> CenterBinding:
    env = getattr(ctx.transport, "req_env", None) or {}
    binding = env.get(ENV_KEY)
    if binding is None:
        raise Fault("Server.NotConfigured", "no processing center bound to this request")
    return binding


def _call(fn, *args):
    try:
        return fn(*args)
    except LedgerError as exc:
        raise Fault(faultcode=exc.code, faultstring=exc.message) from None


def _mandatory(result_type):
    """The result element of a response is always present."""
    return result_type.customize(min_occurs=1, nillable=False)


def _dec(value: str | None) -> D | None:
    return None if value is None else D(value)


def _acs_url(ctx) -> str:
    env = getattr(ctx.transport, "req_env", None) or {}
    return acs_url(env)


def _authorize_result(answer: dict, acs: str | None) -> AuthorizeResult:
    return AuthorizeResult(
        request_id=answer["request_id"], status=answer["status"],
        response_code=answer["response_code"], message=answer["message"],
        approval_code=answer.get("approval_code"), reference=answer.get("reference"),
        amount=D(answer["amount"]), currency=answer["currency"],
        acs_url=acs if answer.get("authentication_id") else None,
        authentication_id=answer.get("authentication_id"), eci=answer.get("eci"),
        auth_result=answer.get("auth_result"))


def _operation_result(answer: dict) -> OperationResult:
    return OperationResult(request_id=answer["request_id"], status=answer["status"],
                           response_code=answer["response_code"], message=answer["message"],
                           reference=answer.get("reference"))


class ProcessingService(ServiceBase):
    """Operations of one processing center (document/literal wrapped)."""

    __service_name__ = SERVICE_NAME

    @rpc(RequestId, CardNumber, Month, Year, Cardholder, Cvc, Amount, CurrencyCode,
         OptionalFlag, _returns=_mandatory(AuthorizeResult))
    def Authorize(ctx, request_id, card_number, expire_month, expire_year, cardholder,
                  cvc, amount, currency, skip_authentication):
        """Authorize a card payment: hold the amount on the card (a card enrolled in 3-D
        Secure: the buyer authenticates at ``acs_url`` first, unless
        ``skip_authentication``)."""
        b = _binding(ctx)
        answer, late = _call(b.ledger.authorize, b.center, request_id, card_number,
                             expire_month, expire_year, cardholder, cvc, amount, currency,
                             bool(skip_authentication))
        if late and b.late_seconds > 0:
            time.sleep(b.late_seconds)
        return _authorize_result(answer, _acs_url(ctx))

    @rpc(RequestId, Text, _returns=_mandatory(AuthorizeResult))
    def CompleteAuthorization(ctx, request_id, authentication_result):
        """Finish an Authorize that answered ``authentication_required`` with the result
        the ACS signed for the buyer's return: held (approved) or declined."""
        b = _binding(ctx)
        return _authorize_result(_call(b.ledger.complete_authorization, b.center, request_id,
                                       authentication_result), None)

    @rpc(RequestId, RequestId, OptionalAmount, _returns=_mandatory(OperationResult))
    def Reverse(ctx, request_id, authorization_request_id, amount):
        """Release the whole remaining hold, or part of it, of an authorization."""
        b = _binding(ctx)
        return _operation_result(_call(b.ledger.reverse, b.center, request_id,
                                       authorization_request_id, amount))

    @rpc(RequestId, SettlementItems, _returns=_mandatory(SettleResult))
    def Settle(ctx, batch_id, items):
        """Settle a batch; each item settles its amount and releases the rest of the hold."""
        b = _binding(ctx)
        triples = [(i.request_id, i.authorization_request_id, i.amount)
                   for i in (items or ())]
        answers = _call(b.ledger.settle, b.center, batch_id, triples)
        # Spyne serializes items by attribute access; plain namespaces are much
        # cheaper to build than SettlementItemResult instances in big batches.
        return SettleResult(batch_id=batch_id, items=[
            SimpleNamespace(request_id=a["request_id"], status=a["status"],
                            response_code=a["response_code"], message=a["message"])
            for a in answers])

    @rpc(RequestId, RequestId, Amount, _returns=_mandatory(OperationResult))
    def Refund(ctx, request_id, authorization_request_id, amount):
        """Refund up to what was settled and not yet refunded."""
        b = _binding(ctx)
        return _operation_result(_call(b.ledger.refund, b.center, request_id,
                                       authorization_request_id, amount))

    @rpc(RequestId, _returns=_mandatory(StatusResult))
    def TransactionStatus(ctx, request_id):
        """The stored outcome of a request id (not_found if never answered)."""
        b = _binding(ctx)
        s = _call(b.ledger.status, b.center, request_id)
        return StatusResult(request_id=s["request_id"], status=s["status"], kind=s["kind"],
                            response_code=s["response_code"], reference=s["reference"],
                            amount=_dec(s["amount"]), currency=s["currency"])

    @rpc(CardNumber, _returns=_mandatory(PointsBalanceResult))
    def PointsBalance(ctx, card_number):
        """Bonus-program enrollment and points balance of a card."""
        b = _binding(ctx)
        r = _call(b.ledger.points_balance, card_number)
        return PointsBalanceResult(enrolled=r["enrolled"], points=r["points"])

    @rpc(RequestId, CardNumber, Points, _returns=_mandatory(OperationResult))
    def PayWithPoints(ctx, request_id, card_number, points):
        """Pay with bonus points of an enrolled card."""
        b = _binding(ctx)
        return _operation_result(_call(b.ledger.pay_with_points, b.center, request_id,
                                       card_number, points))

    @rpc(RequestId, RequestId, Points, _returns=_mandatory(OperationResult))
    def AccruePoints(ctx, request_id, authorization_request_id, points):
        """Add bonus points to the enrolled card of an earlier authorization."""
        b = _binding(ctx)
        return _operation_result(_call(b.ledger.accrue_points, b.center, request_id,
                                       authorization_request_id, points))

    @rpc(RequestId, RequestId, Points, _returns=_mandatory(OperationResult))
    def CancelAccrual(ctx, request_id, accrual_request_id, points):
        """Cancel up to what is left of an earlier AccruePoints."""
        b = _binding(ctx)
        return _operation_result(_call(b.ledger.cancel_accrual, b.center, request_id,
                                       accrual_request_id, points))

    @rpc(RequestId, RequestId, Points, _returns=_mandatory(OperationResult))
    def ReturnPoints(ctx, request_id, payment_request_id, points):
        """Return up to what is left of an earlier PayWithPoints."""
        b = _binding(ctx)
        return _operation_result(_call(b.ledger.return_points, b.center, request_id,
                                       payment_request_id, points))

    @rpc(_returns=_mandatory(ReconcileResult))
    def Reconcile(ctx):
        """Every authorization of this center with its held, settled and refunded amounts."""
        b = _binding(ctx)
        rows = _call(b.ledger.reconcile, b.center)
        return ReconcileResult(authorizations=[
            LedgerAuthorization(request_id=r["request_id"], reference=r["reference"],
                                card=r["card"], amount=D(r["amount"]),
                                currency=r["currency"], held=D(r["held"]),
                                settled=D(r["settled"]), refunded=D(r["refunded"]))
            for r in rows])


_lock = threading.Lock()
_app: Application | None = None
_wsgi: WsgiApplication | None = None
_template: bytes | None = None


def application() -> Application:
    """The (single, shared) Spyne application of all centers."""
    global _app
    with _lock:
        if _app is None:
            _app = Application([ProcessingService], tns=TNS, name=APP_NAME,
                               in_protocol=Soap11(validator="lxml"),
                               out_protocol=Soap11())
            _app.transport = _SOAP_HTTP
        return _app


def wsgi_application() -> WsgiApplication:
    """The Spyne WSGI application answering SOAP POSTs of every center."""
    global _wsgi
    app = application()
    with _lock:
        if _wsgi is None:
            _wsgi = WsgiApplication(app, max_content_length=MAX_REQUEST_BYTES)
        return _wsgi


_XS = "{http://www.w3.org/2001/XMLSchema}"
_SCHEMA_ORDER = {f"{_XS}import": 0, f"{_XS}simpleType": 1, f"{_XS}complexType": 2,
                 f"{_XS}element": 3}


def _canonicalize(root) -> None:
    """Sort the global declarations of each embedded schema by kind and name.

    Spyne emits them in an order that depends on object ids (it iterates sets
    of classes), which would make the published WSDL differ between runs. The
    documentation is written as every Python reads it
    (``compat.clean_documentation``).
    """
    compat.clean_documentation(root)
    for schema in root.iter(f"{_XS}schema"):
        children = list(schema)
        children.sort(key=lambda el: (_SCHEMA_ORDER.get(el.tag, 9), el.get("name") or "",
                                      el.get("namespace") or ""))
        tail = schema[-1].tail if len(schema) else None
        for el in children:
            schema.remove(el)
        for el in children:
            el.tail = None
            schema.append(el)
        if len(schema):
            schema[-1].tail = tail


def _wsdl_template() -> bytes:
    global _template
    app = application()
    with _lock:
        if _template is None:
            doc = Wsdl11(app.interface)
            doc.build_interface_document(_PLACEHOLDER)
            root = etree.fromstring(doc.get_interface_document())
            _canonicalize(root)
            _template = etree.tostring(root, pretty_print=True, xml_declaration=True,
                                       encoding="UTF-8")
        return _template


def wsdl_document(center_name: str = "emulator-rub",
                  location: str = "http://127.0.0.1:8081/emulator-rub") -> bytes:
    """The WSDL served at ``<location>?wsdl`` (UTF-8 bytes).

    The document is the same for every center except ``soap:address
    location``; ``center_name`` is accepted for clarity and not otherwise used.
    """
    del center_name
    root = etree.fromstring(_wsdl_template())
    found = 0
    for el in root.iter():
        if el.get("location") == _PLACEHOLDER:
            el.set("location", location)
            found += 1
    if found != 1:  # pragma: no cover - guards against a Spyne change
        raise RuntimeError(f"expected one soap:address in the WSDL, found {found}")
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")
