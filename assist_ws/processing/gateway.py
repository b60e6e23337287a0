"""``SoapProcessingGateway``: the ``ProcessingGateway`` port over the SOAP contract of
``wsdl/processing.wsdl`` (served by each center at ``<url>?wsdl``).

``Authorize`` and ``Settle`` are written and read with lxml (``authorize_wire``,
``settlement_wire``: they are the calls the payment page and the settlement worker make by
the thousand); every other operation is written and read by a Zeep client built from the
center's WSDL.  All of them go through one ``CenterTransport`` and end in one place
(``_failure``): no connection (or no WSDL) is a DECLINED ``AS998`` that never arrived; a SOAP
fault a DECLINED ``AS998`` that did; no answer or a broken one is UNKNOWN, never a success.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from lxml import etree
from zeep import Client, Settings
from zeep.exceptions import Error as ZeepError
from zeep.proxy import ServiceProxy

from ..domain.cards import CardData
from ..domain.model import ProcessingCenter
from ..domain.money import Money
from ..domain.ports import Outcome, ProcessingReply, SettlementAnswer
from ..domain.settlement import SettlementItem
from . import authorize_wire, settlement_wire
from .transport import CenterTransport, NoAnswer, NotSent, ZeepTransport
from .wire import BrokenAnswer, CenterFault, outcome

log = logging.getLogger(__name__)

SYSTEM_ERROR = "AS998"


@dataclass(frozen=True)
class Timeouts:
    """Seconds: ``connect`` to open a connection, ``read`` to wait for an answer,
    ``batch_read`` for a settlement batch, ``wsdl`` to load a center's WSDL."""

    connect: float = 5.0
    read: float = 20.0
    batch_read: float = 120.0
    wsdl: float = 10.0


class WsdlUnavailable(Exception):
    """The center's WSDL could not be loaded: nothing was sent."""


#: What a call to a center may fail with; ``_failure`` tells what each means.
FAILURES = (WsdlUnavailable, NotSent, CenterFault, NoAnswer, BrokenAnswer, ZeepError,
            etree.LxmlError, ValueError, TypeError)


def _address(center: ProcessingCenter) -> str:
    return center.url.split("?", 1)[0]


def _zeep_operation(operation: str, *fields: str) -> Callable[..., ProcessingReply]:
    """A method of the port that sends ``operation`` through Zeep: its arguments after the
    center and the request id are the operation's ``fields`` (an amount goes as its
    ``Decimal``)."""

    def method(self: SoapProcessingGateway, center: ProcessingCenter, request_id: str,
               *values: object, **named: object) -> ProcessingReply:
        params = {name: value.amount if isinstance(value, Money) else value
                  for name, value in {**dict(zip(fields, values)), **named}.items()}
        try:
            return _reply(getattr(self._service(center), operation)(request_id=request_id,
                                                                     **params), request_id)
        except FAILURES as exc:
            return self._failure(center, operation, exc)

    return method


class SoapProcessingGateway:
    """Shared by the threads of a process: one ``CenterTransport`` keeping up to
    ``connections`` connections alive per center (as many as requests a process answers at
    once), and one Zeep client per center, built on first use."""

    def __init__(self, timeouts: Timeouts = Timeouts(), connections: int = 10):
        self.timeouts = timeouts
        self._http = CenterTransport(timeouts.connect, connections)
        self._services: dict[str, ServiceProxy] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def _service(self, center: ProcessingCenter) -> ServiceProxy:
        service = self._services.get(center.url)
        if service is not None:
            return service
        with self._lock:  # one lock per center: a center whose WSDL is slow holds no other
            lock = self._locks.setdefault(center.url, threading.Lock())
        with lock:
            service = self._services.get(center.url)
            if service is None:
                transport = ZeepTransport(self._http, self.timeouts.read, self.timeouts.wsdl)
                try:
                    client = Client(center.url, transport=transport,
                                    settings=Settings(strict=True, xml_huge_tree=False))
                    service = client.create_service(next(iter(client.wsdl.bindings)),
                                                    _address(center))
                except Exception as exc:  # noqa: BLE001 - whatever it is, nothing was sent
                    raise WsdlUnavailable(f"{type(exc).__name__}: {exc}") from None
                self._services[center.url] = service
        return service

    def _failure(self, center: ProcessingCenter, operation: str,
                 exc: Exception) -> ProcessingReply:
        """The reply a failed call means (see the module doc)."""
        if isinstance(exc, (WsdlUnavailable, NotSent)):
            log.warning("processing center %s unreachable: %s", center.name, exc)
            what = "unavailable" if isinstance(exc, WsdlUnavailable) else "unreachable"
            return ProcessingReply(Outcome.DECLINED, SYSTEM_ERROR,
                                   f"processing center {center.name} {what}", delivered=False)
        if isinstance(exc, CenterFault):
            log.warning("processing center %s: %s fault %s: %s", center.name, operation,
                        exc.code, exc.message)
            return ProcessingReply(Outcome.DECLINED, SYSTEM_ERROR,
                                   f"processing center error: {exc.message}")
        if isinstance(exc, NoAnswer):
            log.warning("processing center %s: %s outcome unknown: %s", center.name,
                        operation, exc)
            return ProcessingReply(Outcome.UNKNOWN, None, f"no answer from {center.name}: {exc}")
        log.warning("processing center %s: broken %s answer: %s", center.name, operation, exc)
        return ProcessingReply(Outcome.UNKNOWN, None, f"broken answer from {center.name}")

    # -- the port -------------------------------------------------------------------------
    def authorize(self, center: ProcessingCenter, request_id: str, card: CardData,
                  amount: Money, skip_authentication: bool = False) -> ProcessingReply:
        body = authorize_wire.request_body(request_id, card, amount, skip_authentication)
        try:
            status, content = self._http.post(_address(center), body,
                                              authorize_wire.SOAP_ACTION, self.timeouts.read)
            return authorize_wire.parse_answer(content, request_id, status)
        except FAILURES as exc:
            return self._failure(center, "Authorize", exc)

    def complete_authorization(self, center: ProcessingCenter, request_id: str,
                               authentication_result: str) -> ProcessingReply:
        """``CompleteAuthorization`` after 3-D Secure; a fault (the center does not take the
        result) is NOT_FOUND: nothing was done."""
        try:
            return _reply(self._service(center).CompleteAuthorization(
                request_id=request_id, authentication_result=authentication_result),
                request_id)
        except CenterFault as exc:
            log.warning("processing center %s: CompleteAuthorization refused: %s %s",
                        center.name, exc.code, exc.message)
            return ProcessingReply(Outcome.NOT_FOUND, SYSTEM_ERROR, exc.message)
        except FAILURES as exc:
            return self._failure(center, "CompleteAuthorization", exc)

    def settle(self, center: ProcessingCenter, batch_id: str,
               items: Sequence[SettlementItem]) -> SettlementAnswer:
        """One ``Settle`` request for the whole batch."""
        body = settlement_wire.request_body(batch_id, items)
        try:
            status, content = self._http.post(_address(center), body,
                                              settlement_wire.SOAP_ACTION,
                                              self.timeouts.batch_read)
            return SettlementAnswer(settlement_wire.parse_answer(content, batch_id, status))
        except FAILURES as exc:
            return SettlementAnswer({}, self._failure(center, "Settle", exc))

    reverse = _zeep_operation("Reverse", "authorization_request_id", "amount")
    refund = _zeep_operation("Refund", "authorization_request_id", "amount")

    def status(self, center: ProcessingCenter, request_id: str) -> ProcessingReply:
        """A failed status query says nothing about the transaction: UNKNOWN."""
        try:
            return _reply(self._service(center).TransactionStatus(request_id=request_id),
                          request_id)
        except FAILURES as exc:
            failure = self._failure(center, "TransactionStatus", exc)
            return ProcessingReply(Outcome.UNKNOWN, None, failure.message,
                                   delivered=failure.delivered)

    def points_balance(self, center: ProcessingCenter, card_number: str) -> int | None:
        """None when the card is in no bonus program or the center did not say."""
        try:
            answer = self._service(center).PointsBalance(card_number=card_number)
        except FAILURES as exc:
            self._failure(center, "PointsBalance", exc)
            return None
        return int(answer.points) if getattr(answer, "enrolled", False) else None

    pay_with_points = _zeep_operation("PayWithPoints", "card_number", "points")
    accrue_points = _zeep_operation("AccruePoints", "authorization_request_id", "points")
    cancel_accrual = _zeep_operation("CancelAccrual", "accrual_request_id", "points")
    return_points = _zeep_operation("ReturnPoints", "payment_request_id", "points")


def _reply(answer: Any, request_id: str) -> ProcessingReply:
    """The reply from a result Zeep read; ``BrokenAnswer`` when it is for another request."""
    if getattr(answer, "request_id", None) != request_id:
        raise BrokenAnswer("the answer is for another request")
    return ProcessingReply(
        outcome=outcome(answer.status), response_code=getattr(answer, "response_code", None),
        message=getattr(answer, "message", None),
        approval_code=getattr(answer, "approval_code", None),
        reference=getattr(answer, "reference", None), request_id=request_id,
        kind=getattr(answer, "kind", None), eci=getattr(answer, "eci", None),
        auth_result=getattr(answer, "auth_result", None))
