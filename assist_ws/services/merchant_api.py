"""The merchant's web services as use cases: order state, order result, confirm (charge),
cancel and results by date, each behind the authentication and the right it needs.

Both faces of every service (the SOAP one in ``soap/`` and the POST formats in ``web/``) call
these methods with the values as received (strings or numbers, ``None`` when absent); the
parsing and every refusal happen here, once, with Assist's codes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import parse_qsl

from ..domain.checkvalue import result_checkvalue
from ..domain.errors import AssistError, NotFound, Second, ValidationError, malformed, missing
from ..domain.model import Right
from ..domain.money import Money, normalize_currency, parse_amount
from ..domain.notifications import check_url
from ..domain.ports import Clock, ProcessingGateway, BackOfficeUnitOfWork
from ..domain.records import OperationLine, Window
from ..domain.text import is_digits, refuse_unfit_parameters
from . import cancel as cancel_uc
from . import confirm as confirm_uc
from . import auth, throttle
from .auth import Credentials, Principal, SuccessCache, authenticate
from .common import load_order, split_bill_number
from .results import OperationView, OrderView

#: Default windows: order queries look 3 days back (Assist), results by date 3 hours.
ORDER_QUERY_SPAN = timedelta(days=3)
RESULTS_SPAN = timedelta(hours=3)
#: Rows read from the database at a time while results by date stream: as fast as 5,000
#: (measured), and a worker's memory grows by about 1 MB while it streams instead of 17.
PAGE_SIZE = 1000
_EXTERNAL_ID = re.compile(r"[A-Za-z0-9_-]{10,100}")
_PARTS = ("year", "month", "day", "hour", "min")
#: The window's parameters (``Start*``/``End*``) by their lower-case names, in order.
WINDOW_FIELDS = tuple(prefix + part for prefix in ("start", "end") for part in _PARTS)

#: The services' parameters by their lower-case names (the SOAP elements' names): Assist's
#: name and the secondcode of a refusal that concerns it.
PARAMETERS: dict[str, tuple[str, int]] = {
    "merchant_id": ("Merchant_ID", Second.MERCHANT_ID), "login": ("Login", Second.LOGIN),
    "password": ("Password", Second.PASSWORD), "format": ("Format", Second.FORMAT),
    "ordernumber": ("Ordernumber", Second.ORDERNUMBER),
    "billnumber": ("Billnumber", Second.BILLNUMBER), "amount": ("Amount", Second.AMOUNT),
    "currency": ("Currency", Second.CURRENCY), "language": ("Language", Second.LANGUAGE),
    "clientip": ("ClientIP", Second.CLIENT_IP), "autodeposit": ("AutoDeposit", Second.NONE),
    "cancelreason": ("CancelReason", Second.CANCEL),
    "externalrefundid": ("Externalrefundid", Second.CANCEL),
    "success": ("Success", Second.SUCCESS_FILTER), "header": ("Header", Second.HEADER),
    "delimiter": ("Delimiter", Second.DELIMITER),
    **{prefix + part: (prefix.capitalize() + part.capitalize(), code)
       for prefix, code in (("start", Second.START_DATE), ("end", Second.END_DATE))
       for part in _PARTS},
}


def parameter(name: str) -> tuple[str, int]:
    """Assist's name of a parameter and the secondcode of a refusal about it (0 for a name
    the services do not know)."""
    return PARAMETERS.get(name.lower(), (name, Second.NONE))


@dataclass(frozen=True)
class Answer:
    """What a service answers: orders (with their checkvalues), the time of the answer and,
    for confirm/cancel, the operation made (or found again, ``repeated``)."""

    orders: tuple[Any, ...]
    checkvalues: tuple[str, ...]
    packet_date: datetime
    operation: OperationView | None = None
    repeated: bool = False


class ResultStream:
    """Results by date: the operations of a window in a stable order, read page by page
    (keyset pagination, each page its own short read transaction) while they are sent."""

    def __init__(self, uow: BackOfficeUnitOfWork, principal: Principal, window: Window,
                 success: bool | None, packet_date: datetime, page_size: int = PAGE_SIZE):
        self._uow, self.principal, self.window = uow, principal, window
        self.success, self.packet_date, self.page_size = success, packet_date, page_size

    def __iter__(self) -> Iterator[OperationLine]:
        after = None
        while True:
            with self._uow.queries() as reader:
                page = reader.orders.operation_lines(self.principal.merchant_id, self.window,
                                                     after, self.page_size,
                                                     success=self.success)
            yield from page
            if len(page) < self.page_size:
                return
            after = page[-1].key

    def csv(self, delimiter: str) -> Iterator[bytes] | None:
        """The lines in CSV (no header) made by the database itself, when it can make them
        with this delimiter (``OrderRepository.operation_lines_csv``): far cheaper than
        iterating.  None when it cannot: iterate instead."""
        with self._uow.queries() as reader:
            if not reader.orders.renders_csv(delimiter):
                return None
        return self._csv(delimiter)

    def _csv(self, delimiter: str) -> Iterator[bytes]:
        with self._uow.queries() as reader:
            yield from reader.orders.operation_lines_csv(
                self.principal.merchant_id, self.window, delimiter, success=self.success)


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


PASSWORD_IN_URL = "the password must not be sent in the URL: send it in the request body"


def password_in_query(query: str) -> bool:
    """True when a URL's query string carries a ``Password`` (in any letter case)."""
    return any(key.strip().lower() == "password"
               for key, _v in parse_qsl(query or "", keep_blank_values=True))


def refuse_password_in_query(query: str) -> None:
    """Passwords travel in the request body only (19/102, access denied)."""
    if password_in_query(query):
        raise AssistError(PASSWORD_IN_URL, Second.PASSWORD, firstcode=19)


def refuse_unfit_text(params: Mapping[str, Any]) -> None:
    """Refuse a request whose parameter holds a character XML cannot carry (a control
    character such as U+0001, a lone surrogate): replies are XML in two formats of four and
    quote what was asked.  4 and the parameter's secondcode; nothing is looked up."""
    refuse_unfit_parameters(params.items(), PARAMETERS)


def parse_window(parts: Mapping[str, Any], now: datetime, span: timedelta) -> Window:
    """``Start*``/``End*`` (year, month, day, hour, min; UTC) into a window.  Absent: from
    ``now - span`` to now.  The end minute is included.  Day parts go together; a start
    after the end, or an impossible date, is refused (4/129, 4/130, 5/129)."""
    start = _moment(parts, "start", Second.START_DATE)
    end = _moment(parts, "end", Second.END_DATE)
    end = end + timedelta(minutes=1) if end is not None else now + timedelta(microseconds=1)
    start = start if start is not None else end - span
    if start >= end:
        raise ValidationError("the window's start is after its end", Second.START_DATE)
    return Window(start, end)


def _moment(parts: Mapping[str, Any], prefix: str, code: int) -> datetime | None:
    values = {}
    for name in _PARTS:
        raw = _text(parts.get(prefix + name))
        if raw is not None:
            if not is_digits(raw) or len(raw) > 4:
                raise malformed(f"{prefix.capitalize()}{name.capitalize()}", code,
                                f"{raw!r} is not a number")
            values[name] = int(raw)
    if not values:
        return None
    if not all(k in values for k in ("year", "month", "day")):
        raise malformed(f"{prefix.capitalize()}Year/Month/Day", code,
                        "year, month and day go together")
    try:
        return datetime(values["year"], values["month"], values["day"], values.get("hour", 0),
                        values.get("min", 0), tzinfo=timezone.utc)
    except ValueError as exc:
        raise malformed(f"{prefix.capitalize()} date", code, str(exc)) from None


def parse_money(amount, currency) -> Money | None:
    """``Amount`` and ``Currency`` go together; both absent means the whole amount."""
    a, c = _text(amount), _text(currency)
    if a is None and c is None:
        return None
    if a is None:
        raise missing("Amount (it goes with Currency)", Second.AMOUNT)
    if c is None:
        raise missing("Currency (it goes with Amount)", Second.CURRENCY)
    return parse_amount(a, normalize_currency(c), name="Amount")


def parse_flag(value, name: str, code: int = Second.NONE) -> bool:
    raw = _text(value)
    if raw in (None, "0", "false"):
        return False
    if raw in ("1", "true"):
        return True
    raise malformed(name, code, "0 or 1 expected")


def parse_language(value) -> str:
    raw = (_text(value) or "RU").upper()
    if raw not in ("RU", "EN"):
        raise ValidationError(f"Language must be RU or EN, not {value!r}", Second.LANGUAGE)
    return raw


def parse_success(value) -> bool | None:
    """Results by date ``Success``: 0 or absent all, 1 only successful, 2 only the others."""
    raw = _text(value)
    if raw in (None, "0"):
        return None
    if raw == "1":
        return True
    if raw == "2":
        return False
    raise ValidationError(f"Success must be 0, 1 or 2, not {value!r}", Second.SUCCESS_FILTER)


def _client_ip(value) -> str | None:
    raw = _text(value)
    if raw is not None and (len(raw) > 45 or not re.fullmatch(r"[0-9A-Fa-f.:]+", raw)):
        raise malformed("ClientIP", Second.CLIENT_IP, "an IPv4 or IPv6 address is expected")
    return raw


@functools.lru_cache(maxsize=4096)
def _reply_checkvalue(secret: str, merchant_id: int, order_number: str, amount: Decimal,
                      currency: str, state: str) -> str:
    """The ``checkvalue`` of an order in a reply: the same answer for the same order in the
    same state, which an ERP polling its orders asks for again and again (two MD5s and an
    amount's formatting each time otherwise).  Amounts that compare equal have the same
    wire form in a currency."""
    return result_checkvalue(secret, merchant_id, order_number,
                             Money(amount, currency).wire, currency, state)


class MerchantApi:
    """The merchant web services with their ports bound (see ``bootstrap.Container``)."""

    def __init__(self, uow: BackOfficeUnitOfWork, gateway: ProcessingGateway, clock: Clock,
                 cache: SuccessCache, *, check_notify_url: Callable[[str], str] | None = None):
        """``check_notify_url``: the URL check of the notification sender
        (``NotificationSender.check_url``); by default the form of the URL alone."""
        self.uow, self.gateway, self.clock, self.cache = uow, gateway, clock, cache
        self.check_notify_url = check_notify_url or check_url

    def _auth(self, creds: Credentials, right: Right) -> Principal:
        return authenticate(self.uow, self.clock, self.cache, creds, right)

    def _checkvalue(self, principal: Principal, order) -> str:
        if not principal.secret_word:
            return ""
        return _reply_checkvalue(principal.secret_word, order.merchant_id, order.order_number,
                                 order.amount, order.currency, order.state)

    def _answer(self, principal: Principal, orders, now: datetime, **kw) -> Answer:
        orders = tuple(orders)
        return Answer(orders, tuple(self._checkvalue(principal, o) for o in orders), now, **kw)

    # -- queries (right: monitor) ---------------------------------------------------------
    def order_state(self, creds: Credentials, order_number, window_parts: Mapping[str, Any],
                    *, with_operations: bool = False, language=None) -> Answer:
        """The payment attempts (billnumbers) of an order number in a window of order
        creation times (default: the last 3 days), oldest first; with their operations for
        the order result.  None found is 10/201."""
        merchant_id, login, password = auth.parse_credentials(creds)
        key = throttle.login_key(creds.client, merchant_id, login)
        number = _text(order_number)
        if number is None:
            raise missing("Ordernumber", Second.ORDERNUMBER)
        if len(number) > 128:
            raise malformed("Ordernumber", Second.ORDERNUMBER, "at most 128 characters")
        parse_language(language)
        now = self.clock.now()
        window = parse_window(window_parts, now, ORDER_QUERY_SPAN)
        # One short read transaction for the login, the client's failed logins and the
        # query (the hot path of an ERP polling for states); nothing is shown before the
        # password is checked.
        with self.uow.queries() as reader:
            if with_operations or len(login) > 64:
                record = auth.read_login(reader, merchant_id, login)
                state = reader.login_failures.state(key)
                found = reader.orders.records_by_order_number(
                    merchant_id, number, window, with_operations=True) \
                    if record is not None else []
            else:
                record, state, found = reader.orders.login_and_records(key, number, window)
        principal = auth.check(self.uow, self.clock, self.cache, key, password, record, state,
                               Right.MONITOR)
        if not found:
            raise NotFound(f"no order {number} created between "
                           f"{window.start:%d.%m.%Y %H:%M} and {window.end:%d.%m.%Y %H:%M} UTC",
                           Second.ORDER)
        return self._answer(principal, found, now)

    def order_result(self, creds: Credentials, order_number, window_parts, *,
                     language=None, bill_number=None) -> Answer:
        """The order number's attempts with their operations (``order_state``); or, given a
        ``Billnumber`` (short or extended) and no order number, that one order of the
        merchant's, whenever it was created (the window does not apply)."""
        if _text(order_number) is None and _text(bill_number) is not None:
            return self._order_by_bill(creds, bill_number, language)
        return self.order_state(creds, order_number, window_parts, with_operations=True,
                                language=language)

    def _order_by_bill(self, creds: Credentials, bill_number, language) -> Answer:
        principal = self._auth(creds, Right.MONITOR)
        bill, _ = split_bill_number(_text(bill_number))
        parse_language(language)
        with self.uow as uow:
            order = OrderView.of(load_order(uow, bill, principal.merchant_id))
        return self._answer(principal, (order,), self.clock.now())

    def results_by_date(self, creds: Credentials, window_parts, *, success=None) -> ResultStream:
        """The merchant's operations created in a window (default: the last 3 hours; any
        length), in a stable order, streamed."""
        principal = self._auth(creds, Right.MONITOR)
        only = parse_success(success)
        now = self.clock.now()
        window = parse_window(window_parts, now, RESULTS_SPAN)
        return ResultStream(self.uow, principal, window, only, now)

    # -- changes (rights: confirm, cancel) --------------------------------------------------
    def confirm(self, creds: Credentials, bill_number, amount=None, currency=None, *,
                auto_deposit=None, client_ip=None, language=None) -> Answer:
        """Confirm a two-stage payment (all of it, or ``Amount`` in ``Currency``); a repeated
        confirm returns the stored result and charges nothing."""
        principal = self._auth(creds, Right.CONFIRM)
        money = parse_money(amount, currency)
        parse_language(language)
        result = confirm_uc.confirm_payment(
            self.uow, self.gateway, self.clock, principal.merchant_id, _text(bill_number) or "",
            money, auto_deposit=parse_flag(auto_deposit, "AutoDeposit"),
            client_ip=_client_ip(client_ip))
        return self._answer(principal, (result.order,), self.clock.now(),
                            operation=result.operation, repeated=result.repeated)

    def cancel(self, creds: Credentials, bill_number, amount=None, currency=None, *,
               reason=None, external_id=None, client_ip=None, language=None) -> Answer:
        """Cancel all that is left (or ``Amount`` in ``Currency``) of a payment; with
        ``Externalrefundid`` a repeated request returns the stored result."""
        principal = self._auth(creds, Right.CANCEL)
        money = parse_money(amount, currency)
        parse_language(language)
        raw_reason = _text(reason)
        if raw_reason is not None and raw_reason not in ("1", "2", "3"):
            raise ValidationError(f"CancelReason must be 1, 2 or 3, not {reason!r}",
                                  Second.CANCEL)
        ext = _text(external_id)
        if ext is not None and not _EXTERNAL_ID.fullmatch(ext):
            raise malformed("Externalrefundid", Second.CANCEL,
                            "10 to 100 latin letters, digits, - or _")
        result = cancel_uc.cancel_payment(
            self.uow, self.gateway, self.clock, principal.merchant_id, _text(bill_number) or "",
            money, reason=int(raw_reason or 1), external_id=ext,
            client_ip=_client_ip(client_ip))
        return self._answer(principal, (result.order,), self.clock.now(),
                            operation=result.operation, repeated=result.repeated)
