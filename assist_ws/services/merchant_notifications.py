"""The merchant's web services for result notifications: **replay** the notifications of
an order (its billnumber, short or extended), of an order number (all its payment attempts)
or created in a window, and list those **undelivered** (pending, rejected, expired) in a
window with their last try — each behind the merchant user's login with the ``monitor``
right, and only ever for that user's own merchant.

Both faces (SOAP in ``soap/``, the POST formats in ``web/``) call ``replay`` and
``undelivered`` with the values as received and build their replies from the same field
dictionaries (``replay_row``, ``undelivered_row``), as ``services.replies`` does for the
order services; every refusal happens here, with Assist's codes:

* nothing chosen to replay is 3/0; more than one of billnumber, order number and window is
  5/0; a malformed billnumber 4/143, order number 4/107, dates 4/129, 4/130, 5/129;
* a merchant without a notification URL, or whose URL the sender would refuse (a port it
  does not use, a host that is or resolves to a non-public address), cannot replay (15/154:
  nothing would be sent);
* a billnumber or order number that is not the merchant's (unknown, or another merchant's)
  is 10/201 and replays nothing;
* more than ``LIMIT`` notifications in one request is 17/4 (choose a shorter window).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from ..domain.errors import (AssistError, NotFound, OperationProhibited, Second,
                             ValidationError, malformed)
from ..domain.model import Right
from ..domain.notifications import UNDELIVERED
from . import notifications
from .auth import Credentials, Principal, authenticate
from .common import split_bill_number
from .merchant_api import ORDER_QUERY_SPAN, MerchantApi, parse_window
from .notifications import AttemptView, NotificationView

#: At most this many notifications are replayed or listed by one request.
LIMIT = notifications.REPLAY_LIMIT

#: The fields of a replay reply's row, in order.
REPLAY_FIELDS = ("notificationid", "notificationseq", "billnumber", "ordernumber",
                 "operationbillnumber", "operationtype", "operationstate", "orderstate",
                 "createdate", "state")
#: The fields of an undelivered-notifications row, in order.
UNDELIVERED_FIELDS = REPLAY_FIELDS + ("attempts", "lasttrydate", "lasthttpstatus",
                                      "nexttrydate", "lasterror")

_WINDOW = [p + n for p in ("start", "end") for n in ("year", "month", "day", "hour", "min")]
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class NotificationLine:
    """One notification of a reply, with its latest delivery try (listing only)."""

    notification: NotificationView
    last_attempt: AttemptView | None = None


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _principal(api: MerchantApi, creds: Credentials) -> Principal:
    return authenticate(api.uow, api.clock, api.cache, creds, Right.MONITOR)


def replay(api: MerchantApi, creds: Credentials, bill_number=None, order_number=None,
           window_parts: Mapping[str, Any] | None = None) -> tuple[NotificationLine, ...]:
    """Queue again, unchanged and with the same ids, the merchant's notifications of one
    billnumber, of one order number, or created in a window (``Start*``/``End*``: a start
    alone runs to now, an end alone starts 3 days before it).  Returns what was queued
    again (now ``pending``), oldest first."""
    principal = _principal(api, creds)
    parts = window_parts or {}
    bill, number = _text(bill_number), _text(order_number)
    windowed = any(_text(parts.get(name)) is not None for name in _WINDOW)
    chosen = (bill is not None) + (number is not None) + windowed
    if chosen == 0:
        raise AssistError("say what to replay: a Billnumber, an Ordernumber, or a window "
                          "(StartYear/StartMonth/StartDay…, EndYear/EndMonth/EndDay…)",
                          Second.NONE, firstcode=3)
    if chosen > 1:
        raise ValidationError("Billnumber, Ordernumber and a window (Start*/End*) are three "
                              "ways to choose what to replay: give only one", Second.NONE)
    since = until = None
    if bill is not None:
        bill = split_bill_number(bill)[0]   # an extended billnumber names its order
    if number is not None and len(number) > 128:
        raise malformed("Ordernumber", Second.ORDERNUMBER, "at most 128 characters")
    if windowed:
        window = parse_window(parts, api.clock.now(), ORDER_QUERY_SPAN)
        since, until = window.start, window.end - _TICK
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
    result = notifications.replay(api.uow, api.clock, merchant_id, bill_number=bill,
                                  order_number=number, since=since, until=until, limit=LIMIT)
    if result.count == 0 and (bill is not None or number is not None):
        with api.uow.reader() as r:
            known = r.orders.get(bill, merchant_id=merchant_id) is not None if bill else \
                bool(r.orders.by_order_number(merchant_id, number))
        if not known:  # unknown, or another merchant's: not found either way
            raise NotFound(f"order {bill or number} not found", Second.ORDER)
    return tuple(NotificationLine(n) for n in result.notifications)


def undelivered(api: MerchantApi, creds: Credentials,
                window_parts: Mapping[str, Any] | None = None) -> tuple[NotificationLine, ...]:
    """The merchant's notifications created in a window (default: the last 3 days) and not
    delivered — pending (being retried, or not yet tried), rejected by the merchant's
    server, or expired — oldest first, each with its latest try."""
    principal = _principal(api, creds)
    window = parse_window(window_parts or {}, api.clock.now(), ORDER_QUERY_SPAN)
    with api.uow.reader() as r:
        found = r.notifications.find(principal.merchant_id, since=window.start,
                                     until=window.end - _TICK,
                                     states=[s.value for s in UNDELIVERED], limit=LIMIT + 1)
        if len(found) > LIMIT:
            raise ValidationError(f"more than {LIMIT} undelivered notifications in the "
                                  f"window; choose a shorter one", Second.INTERVAL,
                                  firstcode=17)
        last = r.notifications.last_attempts(found)
        return tuple(NotificationLine(NotificationView.of(n), _attempt(last.get(n.id)))
                     for n in found)


def _attempt(a) -> AttemptView | None:
    if a is None:
        return None
    return AttemptView(a.number, a.started_at, a.url, a.verdict, a.http_status, a.duration_ms,
                       a.reply_excerpt, a.error)


# -- the reply rows ----------------------------------------------------------------------
def _t(moment: datetime | None) -> datetime | None:
    return moment.replace(microsecond=0) if moment is not None else None


def replay_row(line: NotificationLine) -> dict[str, Any]:
    """A notification as both faces answer it (``REPLAY_FIELDS``; ``None``: absent)."""
    n = line.notification
    return {
        "notificationid": n.notification_id, "notificationseq": n.sequence,
        "billnumber": n.bill_number, "ordernumber": n.order_number,
        "operationbillnumber": None if n.operation_number is None
        else f"{n.bill_number}.{n.operation_number}",
        "operationtype": n.operation_type, "operationstate": n.operation_state,
        "orderstate": n.order_state, "createdate": _t(n.created_at), "state": n.state,
    }


def undelivered_row(line: NotificationLine) -> dict[str, Any]:
    """``replay_row`` and the delivery so far (``UNDELIVERED_FIELDS``)."""
    n, a = line.notification, line.last_attempt
    row = replay_row(line)
    row.update({
        "attempts": n.attempts, "lasttrydate": _t(a.started_at) if a else None,
        "lasthttpstatus": a.http_status if a else None, "nexttrydate": _t(n.next_attempt_at),
        "lasterror": n.last_error,
    })
    return row
