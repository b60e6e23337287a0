"""Result notifications to the merchant: the outbox row, its delivery journal,
the merchant's notification settings and the rules of delivery.

A ``Notification`` is written in the same database transaction as the state change that
causes it (``services.notifications.outbox``) and is delivered later by a worker, with
retries over a configurable period.  Its content is a frozen snapshot taken at that moment,
so a retry or a replay sends the same content with the same ``notification_id``; each
notification of an order has the next ``sequence`` number, and notifications of one order go
out in that order.

States of a notification::

    pending --(merchant's reply counts as delivered)--> delivered
       |    --(merchant answers with non-zero codes)---> rejected   (not retried, like Assist)
       |    --(retry period over)----------------------> expired
       +-- a failed try: stays pending, next try later (growing intervals)
    delivered / rejected / expired --(replay)--> pending
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Any, Iterable, Protocol
from urllib.parse import urlsplit

from .errors import Second, ValidationError
from .model import OperationType
from .states import OrderEvent


class ResultKind(str, enum.Enum):
    """Which results a merchant asks for (its "Payment result options" checkboxes)."""

    PAY = "pay"
    CONFIRM = "confirm"
    CANCEL = "cancel"
    ACCRUAL = "accrual"
    ACCRUAL_CANCEL = "accrual-cancel"

    @classmethod
    def parse_list(cls, text: str | Iterable[str]) -> list[str]:
        parts = text.split(",") if isinstance(text, str) else list(text)
        names = [p.strip().lower() for p in parts if p and p.strip()]
        valid = [k.value for k in cls]
        bad = [n for n in names if n not in valid]
        if bad:
            raise ValidationError(f"unknown notification result(s) {', '.join(bad)}; use any "
                                  f"of {','.join(valid)}", Second.NONE)
        return [k for k in valid if k in names]  # canonical order, no repeats


#: The result kind of an operation type.
KIND_OF_OPERATION: dict[int, ResultKind] = {
    OperationType.PAY: ResultKind.PAY,
    OperationType.CONFIRM: ResultKind.CONFIRM,
    OperationType.CANCEL: ResultKind.CANCEL,
    OperationType.ACCRUAL: ResultKind.ACCRUAL,
    OperationType.ACCRUAL_CANCEL: ResultKind.ACCRUAL_CANCEL,
}

#: The result kind of an order closed without an operation (buyer timeout, expired hold),
#: and whether that counts as a success.
KIND_OF_EVENT: dict[OrderEvent, tuple[ResultKind, bool]] = {
    OrderEvent.BUYER_TIMEOUT: (ResultKind.PAY, False),
    OrderEvent.PAY_DECLINED: (ResultKind.PAY, False),
    OrderEvent.PAY_APPROVED: (ResultKind.PAY, True),
    OrderEvent.PAY_HELD: (ResultKind.PAY, True),
    OrderEvent.CONFIRM_FULL: (ResultKind.CONFIRM, True),
    OrderEvent.CONFIRM_PART: (ResultKind.CONFIRM, True),
    OrderEvent.CANCEL_REST: (ResultKind.CANCEL, True),
    OrderEvent.CANCEL_PART: (ResultKind.CANCEL, True),
    OrderEvent.HOLD_EXPIRED: (ResultKind.CANCEL, True),
}


class PushProtocol(str, enum.Enum):
    """How a notification is sent: a form POST or a SOAP ``PushPaymentResult``."""

    POST = "post"
    SOAP = "soap"


class ExpectedReply(str, enum.Enum):
    """What counts as delivered: any HTTP 2xx, or the ``<pushpaymentresult firstcode="0"
    secondcode="0">`` packet echoing billnumber and packetdate."""

    HTTP200 = "http200"
    PACKET = "packet"


def parse_choice(enum_cls, text: str, what: str):
    value = (text or "").strip().lower()
    try:
        return enum_cls(value)
    except ValueError:
        raise ValidationError(f"{what} must be one of {', '.join(e.value for e in enum_cls)}, "
                              f"not {text!r}", Second.NONE) from None


#: The ports Assist delivers results to.
ASSIST_PORTS = frozenset({80, 443, 8080, 8443})


def parse_ports(text: str) -> frozenset[int] | None:
    """``"80,443,8080,8443"`` -> the set; ``"*"`` (any port) -> None."""
    raw = (text or "").strip()
    if raw == "*":
        return None
    try:
        ports = frozenset(int(p) for p in raw.split(",") if p.strip())
    except ValueError:
        raise ValueError(f"notification ports {text!r}: a comma list of ports or *") from None
    if not ports or any(not 0 < p < 65536 for p in ports):
        raise ValueError(f"notification ports {text!r}: ports are 1 to 65535")
    return ports


def host_address(host: str) -> IPv4Address | IPv6Address | None:
    """The address a URL's host is by itself, in any spelling resolvers take for one
    (``127.0.0.1``, ``127.1``, ``0x7f000001``, ``2130706433``, ``0177.0.0.1``,
    ``::ffff:127.0.0.1``), or None for a name."""
    text = host.strip().strip("[]")
    try:
        return ip_address(text)
    except ValueError:
        pass
    parts = text[:-1].split(".") if text.endswith(".") else text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        low = part.lower()
        try:
            if low.startswith("0x"):
                numbers.append(int(low[2:] or "0", 16))
            elif len(low) > 1 and low.startswith("0"):
                numbers.append(int(low, 8))
            elif low.isdigit():
                numbers.append(int(low))
            else:
                return None
        except ValueError:
            return None
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for i, n in enumerate(leading):
        value += n << (8 * (3 - i))
    return IPv4Address(value)


def _embedded_ipv4(address: IPv6Address) -> list[IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for: mapped, 6to4, Teredo, NAT64."""
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo is not None:
        found.append(address.teredo[1])
    if address in _NAT64:
        found.append(IPv4Address(int(address) & 0xFFFFFFFF))
    return found


_NAT64 = ip_network("64:ff9b::/96")
#: 6to4 addresses are judged by the IPv4 address they carry alone (Python's own tables call
#: all of 2002::/16 private since 3.13, and not before).
_SIX_TO_FOUR = ip_network("2002::/16")
_SPECIAL = ("unspecified", "loopback", "link-local", "multicast", "private", "reserved")


def address_problem(address: str | IPv4Address | IPv6Address) -> str | None:
    """Why results may not go to ``address``, or None when it is public: a loopback,
    link-local, private, multicast, reserved, unspecified or otherwise not global address
    is not (an IPv6 address carrying an IPv4 one is judged by that one as well)."""
    ip = ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, IPv6Address):
        for inner in _embedded_ipv4(ip):
            problem = address_problem(inner)
            if problem is not None:
                return problem
        if ip in _SIX_TO_FOUR:
            return None
    for name in _SPECIAL:
        if getattr(ip, "is_" + name.replace("-", "_")):
            return f"a {name} address"
    return None if ip.is_global else "not a public address"


def refuse_address(what: str, address: str | IPv4Address | IPv6Address) -> None:
    """A ValidationError (5/154) when ``address`` is not public; ``what`` says where it
    comes from (``notification URL 'http://…'`` or ``… host x resolves to``)."""
    problem = address_problem(address)
    if problem is not None:
        raise ValidationError(f"{what} {address}, {problem}: results go to public "
                              f"addresses only", Second.URL)


def check_url(url: str, ports: frozenset[int] | None = ASSIST_PORTS, *,
              allow_private: bool = False) -> str:
    """The notification URL if it may be used: http or https, a host, no credentials, a
    port among ``ports`` (None: any) and, unless ``allow_private``, no host that is a
    non-public address by itself (in any spelling).  Otherwise a ValidationError
    (secondcode 154, URL).  A host name is not resolved here: the sender resolves it, and
    checks every address it gets, whenever it connects."""
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"notification URL {text!r} is malformed: {exc}",
                              Second.URL, firstcode=4) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"notification URL {text!r} must be an http:// or https:// URL "
                              f"with a host", Second.URL)
    if parts.username or parts.password:
        raise ValidationError("notification URL must not carry a user or password",
                              Second.URL)
    if len(text) > 512:
        raise ValidationError("notification URL is longer than 512 characters", Second.URL)
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    if ports is not None and port not in ports:
        raise ValidationError(f"notification URL port {port} is not allowed; results are "
                              f"delivered to ports {', '.join(map(str, sorted(ports)))}",
                              Second.URL)
    literal = host_address(parts.hostname)
    if literal is not None and not allow_private:
        refuse_address(f"notification URL {text!r} goes to", literal)
    return text


class NotificationState(str, enum.Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    REJECTED = "rejected"
    EXPIRED = "expired"


UNDELIVERED = (NotificationState.PENDING, NotificationState.REJECTED, NotificationState.EXPIRED)


class Verdict(str, enum.Enum):
    """What one try came to."""

    DELIVERED = "delivered"   # the reply counts as delivered
    FAILED = "failed"         # no reply, a wrong reply, a timeout: try again later
    REJECTED = "rejected"     # the merchant answered with non-zero codes: not retried


#: Retry intervals: the first retry after ``RETRY_FIRST``, doubling, at most ``RETRY_MAX``.
RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)
DEFAULT_RETRY_PERIOD = timedelta(days=3)


def retry_delay(failed_tries: int) -> timedelta:
    """The wait after the ``failed_tries``-th failed try in a row (1, 2, ...): 30 s, 1 min,
    2 min, ... doubling up to an hour."""
    n = max(failed_tries, 1) - 1
    if n >= 12:
        return RETRY_MAX
    return min(RETRY_FIRST * (2 ** n), RETRY_MAX)


def new_notification_id() -> str:
    return secrets.token_hex(16)


class Notification:
    """One result to tell the merchant: the outbox row."""

    id: int  # the row's id, given by the database when it is first stored

    def __init__(self, merchant_id: int, order_id: int, bill_number: str, order_number: str,
                 sequence: int, kind: ResultKind, success: bool, operation_number: int | None,
                 operation_type: int, order_state: str, content: dict[str, Any],
                 now: datetime):
        self.notification_id = new_notification_id()
        self.merchant_id = merchant_id
        self.order_id = order_id
        self.bill_number = bill_number
        self.order_number = order_number
        self.sequence = sequence
        self.kind = ResultKind(kind).value
        self.success = success
        self.operation_number = operation_number
        self.operation_type = int(operation_type)
        self.order_state = order_state
        self.content = content
        self.state = NotificationState.PENDING.value
        self.attempts = 0
        self.failures = 0
        self.replays = 0
        self.created_at = now
        self.queued_at = now
        self.next_attempt_at: datetime | None = now
        self.delivered_at: datetime | None = None
        self.claimed_until: datetime | None = None
        self.claim_token: str | None = None
        self.last_error: str | None = None

    @property
    def status(self) -> NotificationState:
        return NotificationState(self.state)

    @property
    def packet_date(self) -> datetime:
        """The packet's date (``packetdate``): when the result was recorded; the same on
        every try and replay, so that a merchant echoes what it got."""
        return self.created_at

    def claim(self, now: datetime, lease: timedelta) -> str:
        """Take the notification for one try; other workers leave it alone until the lease
        ends.  Returns the claim token the try's result must present."""
        self.claim_token = secrets.token_hex(8)
        self.claimed_until = now + lease
        return self.claim_token

    def release(self) -> None:
        self.claim_token = None
        self.claimed_until = None

    def record(self, verdict: Verdict, now: datetime, retry_period: timedelta,
               error: str | None = None) -> None:
        """Apply the outcome of a try."""
        self.attempts = (self.attempts or 0) + 1
        self.release()
        if verdict is Verdict.DELIVERED:
            self.state = NotificationState.DELIVERED.value
            self.delivered_at = now
            self.next_attempt_at = None
            self.failures = 0
            self.last_error = None
            return
        self.last_error = (error or verdict.value)[:256]
        if verdict is Verdict.REJECTED:
            self.state = NotificationState.REJECTED.value
            self.next_attempt_at = None
            return
        self.failures = (self.failures or 0) + 1
        following = now + retry_delay(self.failures)
        if following > self.queued_at + retry_period:
            self.state = NotificationState.EXPIRED.value
            self.next_attempt_at = None
        else:
            self.next_attempt_at = following

    def give_up(self, now: datetime, reason: str) -> None:
        """Stop trying without a try (e.g. the merchant switched notifications off)."""
        self.release()
        self.state = NotificationState.EXPIRED.value
        self.next_attempt_at = None
        self.last_error = reason[:256]

    def replay(self, now: datetime) -> None:
        """Send it again, as it is, from now: the retry period starts again."""
        self.state = NotificationState.PENDING.value
        self.queued_at = now
        self.next_attempt_at = now
        self.failures = 0
        self.replays = (self.replays or 0) + 1
        self.release()  # a try in flight records its result but no longer decides the state


class DeliveryAttempt:
    """One line of a notification's delivery journal."""

    def __init__(self, notification_id: int, number: int, started_at: datetime, url: str,
                 verdict: Verdict, duration_ms: int, http_status: int | None = None,
                 reply_excerpt: str | None = None, error: str | None = None):
        self.notification_id = notification_id
        self.number = number
        self.started_at = started_at
        self.url = url[:512]
        self.verdict = Verdict(verdict).value
        self.duration_ms = duration_ms
        self.http_status = http_status
        self.reply_excerpt = (reply_excerpt or "")[:512] or None
        self.error = (error or "")[:256] or None


# -- the port to the merchant's server ----------------------------------------------------
@dataclass(frozen=True)
class PushTarget:
    """Where and how a merchant wants its results (read when the try is made)."""

    url: str
    protocol: PushProtocol
    expected_reply: ExpectedReply
    secret_word: str | None = None


@dataclass(frozen=True)
class PushNotice:
    """What to send: the frozen content and its identity."""

    notification_id: str
    sequence: int
    packet_date: datetime
    content: dict[str, Any]


@dataclass(frozen=True)
class PushReply:
    """The outcome of one try."""

    verdict: Verdict
    http_status: int | None = None
    excerpt: str | None = None
    duration_ms: int = 0
    error: str | None = None
    url: str = ""


class NotificationSender(Protocol):
    def check_url(self, url: str) -> str:
        """The URL if results may be sent there: ``check_url`` with the sender's ports and,
        unless it may reach private addresses, every address the host resolves to now is
        public (a host that does not resolve yet passes: each try checks again).
        Otherwise a ValidationError (5/154, 4/154 malformed)."""

    def send(self, target: PushTarget, notice: PushNotice) -> PushReply:
        """Make one try; never raises for network or merchant trouble (that is a verdict).
        A URL ``check_url`` refuses, or a host resolving to an address it refuses, is a
        failed try that contacts nothing."""


@dataclass(frozen=True)
class DeliveryPolicy:
    """How the worker delivers: how long it keeps trying, how long a claim lasts, how many
    notifications one pass takes and how many it sends at once."""

    retry_period: timedelta = DEFAULT_RETRY_PERIOD
    #: Long enough for a whole pass (batch_size / concurrency rounds of chains); a claim
    #: outlives a worker that died only by this much.
    lease: timedelta = timedelta(minutes=10)
    batch_size: int = 20
    concurrency: int = 4
    #: At most this many notifications of one order are sent in one pass.
    chain_limit: int = 10
