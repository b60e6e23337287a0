"""The merchant's web services for result notifications, each behind the merchant user's
login with the ``monitor`` right and only ever for that user's own merchant: **replay** the
notifications of an order (its billnumber, short or extended), of an order number (all its
payment attempts) or created in a window, and list those **undelivered** (pending, rejected,
expired) in a window, with their last try.

Both faces (SOAP in ``soap/``, the POST formats in ``web/``) call ``replay`` and
``undelivered`` with the values as received and answer the rows of ``replay_row`` and
``undelivered_row``.  What to replay is checked by ``queries.replay_request``, the window by
``parse_window``.  Refused here: a merchant without a notification URL, or with one the
sender would refuse, cannot replay (15/154: nothing would be sent); a billnumber or order
number that is not the merchant's is 10/201; more than ``LIMIT`` notifications is 17/4.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping

from ...domain.errors import NotFound, OperationProhibited, Second, ValidationError
from ...domain.model import Right
from ..auth import Credentials, authenticate
from ..merchant_api import ORDER_QUERY_SPAN, WINDOW_FIELDS, MerchantApi, parse_window
from . import queries
from .queries import NotificationView, given

#: At most this many notifications are replayed or listed by one request.
LIMIT = queries.REPLAY_LIMIT

#: The fields of a replay reply's row, in order.
REPLAY_FIELDS = ("notificationid", "notificationseq", "billnumber", "ordernumber",
                 "operationbillnumber", "operationtype", "operationstate", "orderstate",
                 "createdate", "state")
#: The fields of an undelivered-notifications row, in order.
UNDELIVERED_FIELDS = REPLAY_FIELDS + ("attempts", "lasttrydate", "lasthttpstatus",
                                      "nexttrydate", "lasterror")

_TICK = timedelta(microseconds=1)


def replay(api: MerchantApi, creds: Credentials, bill_number=None, order_number=None,
           window_parts: Mapping[str, Any] | None = None) -> tuple[NotificationView, ...]:
    """Queue again, unchanged and with the same ids, the merchant's notifications of one
    billnumber, of one order number, or created in a window (``Start*``/``End*``: a start
    alone runs to now, an end alone starts 3 days before it).  Returns what was queued
    again (now ``pending``), oldest first."""
    principal = authenticate(api.uow, api.clock, api.cache, creds, Right.MONITOR)
    parts = window_parts or {}

    def window() -> tuple[datetime, datetime]:
        w = parse_window(parts, api.clock.now(), ORDER_QUERY_SPAN)
        return w.start, w.end - _TICK

    windowed = any(given(parts.get(name)) is not None for name in WINDOW_FIELDS)
    request = queries.replay_request(bill_number, order_number,
                                     window=window if windowed else None)
    merchant_id = principal.merchant_id
    with api.uow.reader() as r:
        merchant = r.merchants.get(merchant_id)
        url = merchant.notify_url if merchant is not None else None
    if not url:
        raise OperationProhibited(f"merchant {merchant_id} has no notification URL: "
                                  f"nothing would be sent", Second.URL)
    try:
        api.check_notify_url(url)
    except ValidationError as exc:
        raise OperationProhibited(f"the notification URL is refused ({exc.message}): "
                                  f"nothing would be sent", Second.URL) from None
    result = queries.replay(api.uow, api.clock, merchant_id, request, limit=LIMIT)
    bill, number = request.bill_number, request.order_number
    if result.count == 0 and (bill is not None or number is not None):
        with api.uow.reader() as r:
            known = r.orders.get(bill, merchant_id=merchant_id) is not None if bill else \
                bool(r.orders.by_order_number(merchant_id, number or ""))
        if not known:  # unknown, or another merchant's: not found either way
            raise NotFound(f"order {bill or number} not found", Second.ORDER)
    return result.notifications


def undelivered(api: MerchantApi, creds: Credentials,
                window_parts: Mapping[str, Any] | None = None
                ) -> tuple[NotificationView, ...]:
    """The merchant's notifications created in a window (default: the last 3 days) and not
    delivered — pending (being retried, or not yet tried), rejected by the merchant's
    server, or expired — oldest first, each with its latest try."""
    principal = authenticate(api.uow, api.clock, api.cache, creds, Right.MONITOR)
    window = parse_window(window_parts or {}, api.clock.now(), ORDER_QUERY_SPAN)
    found = queries.undelivered(api.uow, principal.merchant_id, since=window.start,
                                until=window.end - _TICK, limit=LIMIT + 1)
    if len(found) > LIMIT:
        raise ValidationError(f"more than {LIMIT} undelivered notifications in the window; "
                              f"choose a shorter one", Second.INTERVAL, firstcode=17)
    return tuple(found)


# -- the reply rows ----------------------------------------------------------------------
def _t(moment: datetime | None) -> datetime | None:
    return moment.replace(microsecond=0) if moment is not None else None


def replay_row(n: NotificationView) -> dict[str, Any]:
    """A notification as both faces answer it (``REPLAY_FIELDS``; ``None``: absent)."""
    return {
        "notificationid": n.notification_id, "notificationseq": n.sequence,
        "billnumber": n.bill_number, "ordernumber": n.order_number,
        "operationbillnumber": None if n.operation_number is None
        else f"{n.bill_number}.{n.operation_number}",
        "operationtype": n.operation_type, "operationstate": n.operation_state,
        "orderstate": n.order_state, "createdate": _t(n.created_at), "state": n.state,
    }


def undelivered_row(n: NotificationView) -> dict[str, Any]:
    """``replay_row`` and the delivery so far (``UNDELIVERED_FIELDS``)."""
    a = n.last_attempt
    row = replay_row(n)
    row.update({
        "attempts": n.attempts, "lasttrydate": _t(a.started_at) if a else None,
        "lasthttpstatus": a.http_status if a else None, "nexttrydate": _t(n.next_attempt_at),
        "lasterror": n.last_error,
    })
    return row
