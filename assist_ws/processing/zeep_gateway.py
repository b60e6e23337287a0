"""``ZeepProcessingGateway``: talks to processing centers through the contract of
``wsdl/processing.wsdl`` (served by each center at ``<url>?wsdl``)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Sequence

import requests
from lxml import etree
from requests.adapters import HTTPAdapter
from zeep import Client, Settings
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import Fault
from zeep.transports import Transport

from ..domain.cards import CardData
from ..domain.model import ProcessingCenter
from ..domain.money import Money
from ..domain.ports import Outcome, ProcessingReply, SettlementAnswer, SettlementItem
from . import authorize_wire, redaction, settlement_wire
from .soap_post import NoAnswer, NotSent, SoapPoster

log = logging.getLogger(__name__)
redaction.install()  # Zeep's DEBUG log of envelopes must not show card data

SYSTEM_ERROR = "AS998"

_STATUS = {
    "approved": Outcome.SUCCESS,
    "success": Outcome.SUCCESS,
    "declined": Outcome.DECLINED,
    "not_found": Outcome.NOT_FOUND,
    "in_progress": Outcome.IN_PROGRESS,
}


@dataclass(frozen=True)
class Timeouts:
    """Seconds: ``connect`` to open a connection, ``read`` to wait for an answer,
    ``batch_read`` for a settlement batch, ``wsdl`` to load a center's WSDL."""

    connect: float = 5.0
    read: float = 20.0
    batch_read: float = 120.0
    wsdl: float = 10.0


def _not_sent(exc: BaseException) -> bool:
    """True when the request certainly never reached the center (no connection was made)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = repr(exc)
        return any(s in text for s in ("NewConnectionError", "Connection refused",
                                       "Name or service not known", "No route to host"))
    return False


class ZeepProcessingGateway:
    """One Zeep client per center (and per timeout profile), built on first use; shared by
    the threads of a process, with up to ``connections`` kept-alive connections to each
    center (as many as requests a process answers at once)."""

    def __init__(self, timeouts: Timeouts = Timeouts(), connections: int = 10):
        self.timeouts, self.connections = timeouts, connections
        self._clients: dict[tuple[str, bool], object] = {}
        self._locks: dict[tuple[str, bool], threading.Lock] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        #: Authorize goes on the wire without Zeep (``authorize_wire``) through this.
        self._poster = SoapPoster(timeouts.connect, timeouts.read, connections)

    # -- plumbing -------------------------------------------------------------------------
    def _service(self, center: ProcessingCenter, batch: bool = False):
        key = (center.url, batch)
        service = self._clients.get(key)
        if service is not None:
            return service
        with self._lock:  # one lock per client: a center whose WSDL is slow holds no other
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            service = self._clients.get(key)
            if service is None:
                read = self.timeouts.batch_read if batch else self.timeouts.read
                transport = Transport(timeout=self.timeouts.wsdl,
                                      operation_timeout=(self.timeouts.connect, read))
                adapter = HTTPAdapter(pool_connections=1,
                                      pool_maxsize=self.connections)
                transport.session.mount("http://", adapter)
                transport.session.mount("https://", adapter)
                client = Client(center.url, transport=transport,
                                settings=Settings(strict=True, xml_huge_tree=False))
                binding = next(iter(client.wsdl.bindings))
                address = center.url.split("?", 1)[0]
                service = client.create_service(binding, address)
                self._clients[key] = service
        return service

    def _call(self, center: ProcessingCenter, operation: str, *, batch: bool = False, **params):
        """Call ``operation``; return (answer, None) or (None, ProcessingReply for a failure)."""
        try:
            service = self._service(center, batch)
        except Exception as exc:  # WSDL not loadable: nothing was sent
            log.warning("processing center %s: WSDL not loadable: %s", center.name, exc)
            return None, ProcessingReply(Outcome.DECLINED, SYSTEM_ERROR,
                                         f"processing center {center.name} unavailable",
                                         delivered=False)
        try:
            return getattr(service, operation)(**params), None
        except Fault as fault:
            log.warning("processing center %s: %s fault: %s", center.name, operation, fault.message)
            return None, ProcessingReply(Outcome.DECLINED, SYSTEM_ERROR,
                                         f"processing center error: {fault.message}")
        except requests.exceptions.RequestException as exc:
            if _not_sent(exc):
                log.warning("processing center %s unreachable: %s", center.name, exc)
                return None, ProcessingReply(Outcome.DECLINED, SYSTEM_ERROR,
                                             f"processing center {center.name} unreachable",
                                             delivered=False)
            log.warning("processing center %s: %s outcome unknown: %s", center.name, operation,
                        type(exc).__name__)
            return None, ProcessingReply(Outcome.UNKNOWN, None,
                                         f"no answer from {center.name}: {type(exc).__name__}")
        except (ZeepError, etree.LxmlError, ValueError, TypeError) as exc:
            log.warning("processing center %s: %s broken answer: %s", center.name, operation, exc)
            return None, ProcessingReply(Outcome.UNKNOWN, None,
                                         f"broken answer from {center.name}")

    @staticmethod
    def _reply(answer, request_id: str | None = None) -> ProcessingReply:
        outcome = _STATUS.get(getattr(answer, "status", None) or "", Outcome.UNKNOWN)
        return ProcessingReply(
            outcome=outcome,
            response_code=getattr(answer, "response_code", None),
            message=getattr(answer, "message", None),
            approval_code=getattr(answer, "approval_code", None),
            reference=getattr(answer, "reference", None),
            request_id=getattr(answer, "request_id", None) or request_id,
            kind=getattr(answer, "kind", None),
        )

    def _simple(self, center, operation, request_id, **params) -> ProcessingReply:
        answer, failure = self._call(center, operation, request_id=request_id, **params)
        return failure or self._reply(answer, request_id)

    # -- the port -------------------------------------------------------------------------
    def authorize(self, center: ProcessingCenter, request_id: str, card: CardData,
                  amount: Money) -> ProcessingReply:
        """``Authorize``, written and read by ``authorize_wire`` and posted by ``SoapPoster``
        (through Zeep and requests it cost more than the rest of the payment's request)."""
        body = authorize_wire.request_body(request_id, card, amount)
        try:
            status, content = self._poster.post(center.url.split("?", 1)[0], body,
                                                  authorize_wire.SOAP_ACTION)
        except NotSent as exc:
            log.warning("processing center %s unreachable: %s", center.name, exc)
            return ProcessingReply(Outcome.DECLINED, SYSTEM_ERROR,
                                   f"processing center {center.name} unreachable",
                                   delivered=False)
        except NoAnswer as exc:
            log.warning("processing center %s: Authorize outcome unknown: %s", center.name, exc)
            return ProcessingReply(Outcome.UNKNOWN, None, f"no answer from {center.name}: {exc}")
        fault = settlement_wire.parse_fault(content)
        if fault is not None:
            log.warning("processing center %s: Authorize fault: %s", center.name, fault.message)
            return ProcessingReply(Outcome.DECLINED, SYSTEM_ERROR,
                                   f"processing center error: {fault.message}")
        try:
            if status != 200:
                raise settlement_wire.BrokenAnswer(f"HTTP {status}")
            return authorize_wire.parse_answer(content, request_id)
        except settlement_wire.BrokenAnswer as exc:
            log.warning("processing center %s: broken Authorize answer: %s", center.name, exc)
            return ProcessingReply(Outcome.UNKNOWN, None, f"broken answer from {center.name}")

    def reverse(self, center, request_id, authorization_request_id, amount):
        return self._simple(center, "Reverse", request_id,
                            authorization_request_id=authorization_request_id,
                            amount=amount.amount if amount is not None else None)

    def refund(self, center, request_id, authorization_request_id, amount):
        return self._simple(center, "Refund", request_id,
                            authorization_request_id=authorization_request_id,
                            amount=amount.amount)

    def status(self, center, request_id):
        answer, failure = self._call(center, "TransactionStatus", request_id=request_id)
        if failure is not None:  # a failed status query says nothing about the transaction
            return ProcessingReply(Outcome.UNKNOWN, None, failure.message,
                                   delivered=failure.delivered)
        return self._reply(answer, request_id)

    def settle(self, center: ProcessingCenter, batch_id: str,
               items: Sequence[SettlementItem]) -> SettlementAnswer:
        """One ``Settle`` request for the whole batch, written and read by
        ``settlement_wire`` (a batch is too big for Zeep's per-element objects)."""
        address = center.url.split("?", 1)[0]
        body = settlement_wire.request_body(batch_id, items)
        try:
            response = self._session().post(
                address, data=body, headers={"Content-Type": settlement_wire.CONTENT_TYPE,
                                             "SOAPAction": settlement_wire.SOAP_ACTION},
                timeout=(self.timeouts.connect, self.timeouts.batch_read))
        except requests.exceptions.RequestException as exc:
            if _not_sent(exc):
                log.warning("processing center %s unreachable: %s", center.name, exc)
                return SettlementAnswer({}, ProcessingReply(
                    Outcome.DECLINED, SYSTEM_ERROR,
                    f"processing center {center.name} unreachable", delivered=False))
            log.warning("processing center %s: Settle outcome unknown: %s", center.name,
                        type(exc).__name__)
            return SettlementAnswer({}, ProcessingReply(
                Outcome.UNKNOWN, None, f"no answer from {center.name}: {type(exc).__name__}"))
        fault = settlement_wire.parse_fault(response.content)
        if fault is not None:
            log.warning("processing center %s: Settle fault %s: %s", center.name, fault.code,
                        fault.message)
            return SettlementAnswer({}, ProcessingReply(
                Outcome.DECLINED, SYSTEM_ERROR, f"processing center error: {fault.message}"))
        try:
            if response.status_code != 200:
                raise settlement_wire.BrokenAnswer(f"HTTP {response.status_code}")
            return SettlementAnswer(settlement_wire.parse_answer(response.content, batch_id))
        except settlement_wire.BrokenAnswer as exc:
            log.warning("processing center %s: broken Settle answer: %s", center.name, exc)
            return SettlementAnswer({}, ProcessingReply(
                Outcome.UNKNOWN, None, f"broken answer from {center.name}"))

    def _session(self) -> requests.Session:
        """A keep-alive HTTP session per thread (sessions are not shared across threads)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def points_balance(self, center, card_number):
        answer, failure = self._call(center, "PointsBalance", card_number=card_number)
        if failure is not None or not answer.enrolled:
            return None
        return int(answer.points)

    def pay_with_points(self, center, request_id, card_number, points):
        return self._simple(center, "PayWithPoints", request_id, card_number=card_number,
                            points=points)

    def accrue_points(self, center, request_id, card_number, points):
        return self._simple(center, "AccruePoints", request_id, card_number=card_number,
                            points=points)

    def cancel_accrual(self, center, request_id, accrual_request_id, points):
        return self._simple(center, "CancelAccrual", request_id,
                            accrual_request_id=accrual_request_id, points=points)

    def return_points(self, center, request_id, payment_request_id, points):
        return self._simple(center, "ReturnPoints", request_id,
                            payment_request_id=payment_request_id, points=points)


__all__ = ["ZeepProcessingGateway", "Timeouts"]
