"""The merchant web services, listed once: the SOAP face (``soap/``) and the POST formats
(``web.merchant``) both read this list, so a service, its path or its fields cannot differ
between them.

Each entry names the service's path (without ``.cfm``), its SOAP request element and
application name, the ``Format`` a form POST gets by default, its request fields (the SOAP
elements' names, in order), how the request becomes a call of ``MerchantApi`` (or of the
notification services), how the answer becomes reply rows (``services.replies``; ``None``
for results by date, which stream), and the names the XML replies give those rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Mapping

from . import replies
from .auth import Credentials
from .merchant_api import WINDOW_FIELDS, Answer, MerchantApi
from .notifications import merchant as notices

_AUTH = ("merchant_id", "login", "password")
_CANCEL = ("billnumber", *_AUTH, "amount", "currency", "cancelreason", "language", "clientip",
           "externalrefundid")


class Params:
    """A request's parameters by their lower-case names, read as text (``None`` when absent),
    and the address of the client that sent them."""

    def __init__(self, values: Mapping[str, Any], client: str | None = None):
        self.values = {str(k).lower(): v for k, v in values.items()}
        self.client = client

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        return format(value, "f") if isinstance(value, Decimal) else str(value)

    def creds(self) -> Credentials:
        return Credentials(self.get("merchant_id"), self.get("login"), self.get("password"),
                           self.client)

    def window(self) -> dict[str, Any]:
        return {name: self.get(name) for name in WINDOW_FIELDS}


def _rows(build: Callable) -> Callable[[Answer], list[replies.Fields]]:
    """The reply rows of an answer: one per order, or the order with its operation."""
    def rows(answer: Answer) -> list[replies.Fields]:
        if answer.operation is not None:
            return [build(answer.orders[0], answer.operation, answer.checkvalues[0],
                          answer.packet_date)]
        return [build(o, cv, answer.packet_date)
                for o, cv in zip(answer.orders, answer.checkvalues)]
    return rows


def _cancel(api: MerchantApi, p: Params) -> Answer:
    return api.cancel(p.creds(), p.get("billnumber"), p.get("amount"), p.get("currency"),
                      reason=p.get("cancelreason"), external_id=p.get("externalrefundid"),
                      client_ip=p.get("clientip"), language=p.get("language"))


@dataclass(frozen=True)
class MerchantService:
    """One merchant web service (see the module doc).  ``row``: the element (XML) of a reply
    row; ``wrapper``: the element around the rows in an XML reply; ``short``: the reply's
    ``packetdate`` to the minute in the POST formats; ``columns``: the CSV header, when it
    is fixed (written even for no rows)."""

    key: str
    path: str
    operation: str
    name: str
    default_format: str
    fields: tuple[str, ...]
    call: Callable[[MerchantApi, Params], Any]
    rows: Callable[[Any], list[replies.Fields]] | None
    row: str = "order"
    wrapper: str | None = None
    short: bool = False
    columns: tuple[str, ...] | None = None


SERVICES: tuple[MerchantService, ...] = (
    MerchantService(
        "orderstate", "/orderstate/orderstate", "orderstate", "OrderState", "4",
        ("ordernumber", *_AUTH, *WINDOW_FIELDS),
        lambda api, p: api.order_state(p.creds(), p.get("ordernumber"), p.window()),
        _rows(replies.order_state), short=True),
    MerchantService(
        "orderresult", "/orderresult/orderresult", "orderresult", "OrderResult", "4",
        ("ordernumber", *_AUTH, *WINDOW_FIELDS, "language"),
        lambda api, p: api.order_result(p.creds(), p.get("ordernumber"), p.window(),
                                        language=p.get("language"),
                                        bill_number=p.get("billnumber")),
        _rows(replies.order_result), short=True),
    MerchantService(
        "charge", "/charge/charge", "charge", "Charge", "1",
        ("billnumber", *_AUTH, "amount", "currency", "clientip", "language", "autodeposit"),
        lambda api, p: api.confirm(p.creds(), p.get("billnumber"), p.get("amount"),
                                   p.get("currency"), auto_deposit=p.get("autodeposit"),
                                   client_ip=p.get("clientip"), language=p.get("language")),
        _rows(replies.operation_order), wrapper="orders"),
    MerchantService("cancel", "/cancel/cancel", "cancel", "Cancel", "4", _CANCEL, _cancel,
                    _rows(replies.operation_order), wrapper="orders"),
    MerchantService("wscancel", "/cancel/wscancel", "WSCancelRequestParams", "WSCancel", "4",
                    _CANCEL, _cancel, _rows(replies.wscancel_order)),
    MerchantService(
        "resultbydate", "/resultbydate/resultbydate", "resultbydate", "ResultByDate", "1",
        (*_AUTH, *WINDOW_FIELDS, "success"),
        lambda api, p: api.results_by_date(p.creds(), p.window(), success=p.get("success")),
        None, row="operation", columns=replies.RESULT_LINE_FIELDS),
    MerchantService(
        "replay", "/notification/replay", "replay", "NotificationReplay", "1",
        (*_AUTH, "billnumber", "ordernumber", *WINDOW_FIELDS),
        lambda api, p: notices.replay(api, p.creds(), p.get("billnumber"),
                                      p.get("ordernumber"), p.window()),
        lambda lines: [notices.replay_row(line) for line in lines], row="notification",
        columns=notices.REPLAY_FIELDS),
    MerchantService(
        "undelivered", "/notification/undelivered", "undelivered", "UndeliveredNotifications",
        "1", (*_AUTH, *WINDOW_FIELDS),
        lambda api, p: notices.undelivered(api, p.creds(), p.window()),
        lambda lines: [notices.undelivered_row(line) for line in lines], row="notification",
        columns=notices.UNDELIVERED_FIELDS),
)
BY_PATH = {s.path: s for s in SERVICES}
BY_KEY = {s.key: s for s in SERVICES}
