"""The merchant cabinet's use cases: signing a user in, knowing it again on each request,
the orders monitor, the order card, and confirming or canceling from the cabinet.

* Sign-in is the web services' authentication (``auth.authenticate``): the same users, the
  same password hashes, the same failed-login rules (``throttle``, counted in the database
  per client); the cabinet needs the right ``monitor`` (``admin`` has every right).
* A signed-in user is carried by a ``stamp``: an HMAC (with the gateway's key) of its user
  row -- merchant, login, password hash, rights.  Every request reads the row again
  (``current_user``): a disabled user, a changed password or changed rights end the session
  at once, on every process.
* Confirm and cancel are ``confirm.confirm_payment`` and ``cancel.cancel_payment``, the web
  services' use cases; ``plan_*`` says beforehand what they will do, with the checks they
  make themselves.  A cancel carries a token made with its confirmation page as its
  external id, so a second submit of the same page returns the first cancel; a confirm is
  one per order anyway.
* An order paid by card and bonus points is canceled whole by its billnumber (card part,
  points and accrual), or one pay operation in part by its extended billnumber (``.1`` an
  amount of the card payment, ``.2`` a whole number of points), as the web services take it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from ..domain.audit import AuditKind
from ..domain.errors import (AssistError, AuthenticationError, OperationProhibited,
                             PermissionDenied, Second, ValidationError)
from ..domain.model import (POINTS_MEANS_NAME, MeansType, Operation, OperationType, Order,
                            Right, TransactionType)
from ..domain.money import Money
from ..domain.monitor import Cursor, MonitorPage, OrderFilter, OrderMonitor
from ..domain.passwords import hash_password, password_problem
from ..domain.ports import BackOfficeUnitOfWork, Clock, ProcessingGateway
from ..domain.records import LoginRecord
from ..domain.states import OrderState
from . import audit, auth
from . import cancel as cancel_uc
from . import confirm as confirm_uc
from .common import load_order, split_bill_number
from .notifications import queries as notifications
from .results import OperationResult

#: The cabinet checks every password (no cache of verified passwords).
_NO_CACHE = auth.SuccessCache(ttl=0)
#: Orders on a page of the monitor.
PAGE_SIZE = 50


@dataclass(frozen=True)
class CabinetUser:
    merchant_id: int
    login: str
    rights: frozenset[str]
    stamp: str

    def can(self, right: Right) -> bool:
        return Right.ADMIN.value in self.rights or right.value in self.rights


def stamp_of(key: bytes, merchant_id: int, login: str, password_hash: str,
             rights) -> str:
    """The stamp of a user row with these values."""
    msg = "\x00".join((str(merchant_id), login, password_hash, ",".join(sorted(rights))))
    return hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()[:32]


def _stamp(key: bytes, record: LoginRecord) -> str:
    return stamp_of(key, record.merchant_id, record.login, record.password_hash,
                    record.rights)


def _user(key: bytes, record: LoginRecord) -> CabinetUser:
    return CabinetUser(record.merchant_id, record.login, frozenset(record.rights),
                       _stamp(key, record))


def sign_in(uow: BackOfficeUnitOfWork, clock: Clock, key: bytes, merchant_id: str | None,
            login: str | None, password: str | None, client: str | None) -> CabinetUser:
    """The user these credentials name, under the web services' rules: 7/141 for a wrong
    merchant, login or password, 7/3 while the client is refused, 8/350 without the right
    ``monitor``."""
    try:
        principal = auth.authenticate(uow, clock, _NO_CACHE,
                                      auth.Credentials(merchant_id, login, password, client),
                                      Right.MONITOR)
    except AssistError as exc:
        if isinstance(exc, AuthenticationError) and exc.secondcode == Second.RATE:
            raise  # refused unchecked while the client is refused: not kept, so not a flood
        number = (merchant_id or "").strip()
        audit.record_alone(uow, clock, int(number) if number.isdigit() and len(number) < 12
                           else 0, (login or "").strip()[:64], client,
                           AuditKind.SIGN_IN_FAILED, f"{exc.firstcode}/{exc.secondcode}")
        raise
    with uow.queries() as reader:
        record = auth.read_login(reader, principal.merchant_id, principal.login)
    if record is None:  # deleted in between
        raise PermissionDenied("the user is gone", Second.LOGIN_PASSWORD)
    return _user(key, record)


def current_user(uow: BackOfficeUnitOfWork, key: bytes, merchant_id: int, login: str,
                 stamp: str) -> CabinetUser | None:
    """The signed-in user as its row is now, or None when the session no longer holds:
    the user or its merchant disabled or gone, the password or rights changed."""
    with uow.queries() as reader:
        record = auth.read_login(reader, merchant_id, login)
    if record is None or not (record.active and record.merchant_active):
        return None
    user = _user(key, record)
    if not hmac.compare_digest(user.stamp, stamp) or not user.can(Right.MONITOR):
        return None
    return user


def change_password(uow: BackOfficeUnitOfWork, clock: Clock, key: bytes, user: CabinetUser,
                    current: str | None, new: str, client: str | None, *,
                    session: str | None = None) -> CabinetUser:
    """Set the user's own password after checking its current one under the sign-in rules
    (a wrong one counts as a failed sign-in); the user's other sessions end with it (in the
    same transaction; ``session``, the id of the one asking, goes on with the new stamp).
    The policy is ``passwords.password_problem`` (8-64 characters, letters and digits)."""
    auth.authenticate(uow, clock, _NO_CACHE,
                      auth.Credentials(str(user.merchant_id), user.login, current, client),
                      Right.MONITOR)
    problem = password_problem(new)
    if problem:
        raise ValidationError(problem, Second.PASSWORD)
    if new == current:
        raise ValidationError("the new password is the current one", Second.PASSWORD)
    with uow:
        row = uow.users.get(user.merchant_id, user.login)
        if row is None:
            raise PermissionDenied("the user is gone", Second.LOGIN_PASSWORD)
        row.password_hash = hash_password(new)
        now = clock.now()
        uow.cabinet_sessions.end_user(user.merchant_id, user.login, now, keep=session)
        if session is not None:
            uow.cabinet_sessions.touch(session, now, stamp_of(
                key, row.merchant_id, row.login, row.password_hash, row.rights))
        audit.record(uow, clock, user.merchant_id, user.login, client, AuditKind.PASSWORD)
        uow.commit()
    with uow.queries() as reader:
        record = auth.read_login(reader, user.merchant_id, user.login)
    if record is None:
        raise PermissionDenied("the user is gone", Second.LOGIN_PASSWORD)
    return _user(key, record)


def time_zone(uow: BackOfficeUnitOfWork, user: CabinetUser) -> str:
    """The IANA name of the time zone the user's merchant sees its days and times in."""
    with uow.reader() as r:
        merchant = r.merchants.get(user.merchant_id)
    return (merchant.time_zone if merchant is not None else None) or "UTC"


def _require(user: CabinetUser, right: Right) -> None:
    if not user.can(right):
        raise PermissionDenied(f"user {user.login} does not have the right '{right.value}'",
                               Second.WEB_SERVICE)


# -- the orders monitor --------------------------------------------------------------------
def monitor(port: OrderMonitor, user: CabinetUser, flt: OrderFilter, after: Cursor | None,
            *, by: str = "date", descending: bool = True, limit: int = PAGE_SIZE,
            totals: bool = True) -> MonitorPage:
    """A page of the user's merchant's orders under the filter, and (``totals``) the
    filter's totals."""
    _require(user, Right.MONITOR)
    if flt.merchant_id != user.merchant_id:
        raise PermissionDenied("another merchant's orders", Second.WEB_SERVICE)
    if by not in ("date", "amount"):
        raise ValidationError(f"orders are sorted by date or amount, not {by!r}", Second.NONE)
    rows, cursor = port.page(flt, after, limit, by=by, descending=descending)
    return MonitorPage(tuple(rows), cursor, tuple(port.totals(flt)) if totals else ())


# -- the order card ------------------------------------------------------------------------
@dataclass(frozen=True)
class TransactionCard:
    type: str
    state: str
    amount: object
    currency: str
    reference: str | None
    request_id: str
    response_code: str | None
    message: str | None
    created_at: datetime


@dataclass(frozen=True)
class OperationCard:
    number: int
    type: int
    bill_number: str
    amount: Money
    rate: object
    state: str
    response_code: str | None
    message: str | None
    approval_code: str | None
    means: str
    card: str | None
    created_at: datetime
    transactions: tuple[TransactionCard, ...]
    #: The bonus points it moves (an operation in points: its amount counts points).
    points: int | None = None
    #: Whether a part of it may be canceled by itself (the pay operations of a card +
    #: points payment).
    cancelable: bool = False

    @property
    def in_points(self) -> bool:
        return self.means == MeansType.POINTS.value

    @property
    def means_shown(self) -> str:
        """The masked card, or the means type the replies name for points."""
        return POINTS_MEANS_NAME if self.in_points else (self.card or "")


@dataclass(frozen=True)
class OrderCard:
    bill_number: str
    order_number: str
    amount: Money
    state: str
    state_reason: str | None
    test_mode: bool
    created_at: datetime
    comment: str | None
    customer: dict[str, str]
    operations: tuple[OperationCard, ...]
    notifications: tuple = field(default=())
    #: What may be done now (and what the user may do): whole amounts, or None.
    confirmable: Money | None = None
    cancelable: Money | None = None


def _can(check) -> Money | None:
    try:
        return check()
    except AssistError:  # refused by the domain: not possible now
        return None


def _part_cancelable(order: Order, op: Operation) -> bool:
    """Whether a part of pay operation ``op`` of a card + points payment may be canceled by
    its extended billnumber now (an order paid by card alone is canceled by its own, and a
    held one only whole: its points go back with the hold)."""
    points_pay = order.points_payment
    if op.type != OperationType.PAY or not op.succeeded or points_pay is None \
            or not points_pay.succeeded or order.state is OrderState.DELAYED:
        return False
    if op.means == MeansType.POINTS.value:
        return order.points_returnable() > 0
    return _can(lambda: order.check_cancel(None)) is not None


def order_card(uow: BackOfficeUnitOfWork, user: CabinetUser, bill_number: str) -> OrderCard:
    """Everything the cabinet shows of one order of the user's merchant (another
    merchant's order is not found)."""
    _require(user, Right.MONITOR)
    bill, _ = split_bill_number(bill_number)
    with uow.reader() as r:
        order = load_order(r, bill, user.merchant_id)
        ops = tuple(OperationCard(
            op.number, op.type, order.extended(op), op.money, op.rate, op.state,
            op.response_code, op.message, op.approval_code, op.means, op.means_number,
            op.created_at, tuple(TransactionCard(
                tx.type, tx.state, tx.amount, tx.currency, tx.processing_reference,
                tx.request_id, tx.response_code, tx.message, tx.created_at)
                for tx in op.transactions), op.points, _part_cancelable(order, op))
            for op in sorted(order.operations, key=lambda o: o.number))
        customer = {name: value for name, value in asdict(order.customer).items() if value}
        card = OrderCard(order.bill_number, order.order_number, order.money, order.state,
                         order.state_reason, bool(order.test_mode), order.created_at,
                         order.comment, customer, ops,
                         confirmable=_can(lambda: order.check_confirm(None)),
                         cancelable=_can(lambda: order.check_cancel(None)))
    journal = tuple((n, notifications.details(uow, n.notification_id, user.merchant_id)[1])
                    for n in notifications.notifications_of(uow, user.merchant_id,
                                                            bill_number=bill))
    return replace(card, notifications=journal)


def notify_again(uow: BackOfficeUnitOfWork, clock: Clock, user: CabinetUser, bill_number: str) -> int:
    """Queue again, unchanged, the result notifications of one order of the user's merchant
    (the web service ``replay`` on one billnumber); how many."""
    _require(user, Right.MONITOR)
    request = notifications.replay_request(bill_number=bill_number)
    return notifications.replay(uow, clock, user.merchant_id, request).count


# -- confirm and cancel --------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """What a confirm or cancel will do: ``method`` is ``confirm``, ``reversal``,
    ``refund`` or ``points`` (bonus points given back: ``amount`` counts points); ``whole``
    is all that can be confirmed or canceled now.  A cancel of a card + points payment also
    says the ``points`` it gives back with the card part and the accrued points it cancels
    (``accrual``)."""

    action: str
    bill_number: str
    amount: Money
    whole: Money
    method: str
    token: str
    points: int = 0
    accrual: int = 0

    @property
    def partial(self) -> bool:
        return self.amount != self.whole


def _read(uow: BackOfficeUnitOfWork, user: CabinetUser, bill_number: str) -> Order:
    bill, _ = split_bill_number(bill_number)
    with uow.reader() as r:
        return load_order(r, bill, user.merchant_id)


def plan_confirm(uow: BackOfficeUnitOfWork, user: CabinetUser, bill_number: str,
                 amount: Money | None) -> Plan:
    _require(user, Right.CONFIRM)
    bill, _ = split_bill_number(bill_number)
    with uow.reader() as r:
        order = load_order(r, bill, user.merchant_id)
        whole = order.check_confirm(None)
        value = order.check_confirm(amount)
    return Plan("confirm", bill, value, whole, "confirm", new_token())


def plan_cancel(uow: BackOfficeUnitOfWork, user: CabinetUser, bill_number: str,
                amount: Money | None) -> Plan:
    """What ``cancel`` of ``bill_number`` (short: the order; extended: one pay operation of
    a card + points payment, as ``cancel.cancel_payment`` takes it) will do."""
    _require(user, Right.CANCEL)
    bill, number = split_bill_number(bill_number)
    with uow.reader() as r:
        order = load_order(r, bill, user.merchant_id)
        target = order.operation(number) if number is not None else None
        if number is not None and (target is None or not _part_cancelable(order, target)):
            raise OperationProhibited(f"{bill_number} is not a payment of the order that "
                                      f"can be canceled by itself", Second.BILLNUMBER)
        if target is not None and target.means == MeansType.POINTS.value:
            return _plan_points(order, target, amount)
        whole = order.check_cancel(None)
        value = order.check_cancel(amount)
        kind = cancel_uc.cancel_kind(order)
        points = order.points_returnable() if number is None and value == whole else 0
        accrual = order.accrual_share(value) if order.accrual_left() > 0 else 0
        shown = order.extended(target) if target is not None else bill
    method = "refund" if kind is TransactionType.REFUND else "reversal"
    return Plan("cancel", shown, value, whole, method, new_token(), points, accrual)


def _plan_points(order: Order, pay: Operation, amount: Money | None) -> Plan:
    """Giving back (a whole number of) the points of points payment ``pay``."""
    left = order.points_returnable()
    if amount is not None and amount.currency != pay.currency:
        raise ValidationError(f"points are counted in {pay.currency}, not {amount.currency}",
                              Second.CURRENCY)
    points = Decimal(left) if amount is None else amount.amount
    if points != points.to_integral_value():
        raise ValidationError(f"points are whole: {points} is not", Second.AMOUNT)
    if not 0 < points <= left:
        raise ValidationError(f"1 to {left} points can be given back, not {points}",
                              Second.AMOUNT)
    return Plan("cancel", order.extended(pay), Money(Decimal(int(points)), pay.currency),
                Money(Decimal(left), pay.currency), "points", new_token())


def new_token() -> str:
    """A confirmation page's token (a valid ``Externalrefundid``: 10-100 of [A-Za-z0-9_-])."""
    return "cab-" + secrets.token_urlsafe(18)


def confirm(uow: BackOfficeUnitOfWork, gateway: ProcessingGateway, clock: Clock, user: CabinetUser,
            bill_number: str, amount: Money | None, *, client_ip: str | None = None
            ) -> OperationResult:
    _require(user, Right.CONFIRM)
    return _audited(uow, clock, user, client_ip, AuditKind.CONFIRM, bill_number, amount,
                    lambda: confirm_uc.confirm_payment(uow, gateway, clock, user.merchant_id,
                                                       bill_number, amount,
                                                       client_ip=client_ip))


def cancel(uow: BackOfficeUnitOfWork, gateway: ProcessingGateway, clock: Clock, user: CabinetUser,
           bill_number: str, amount: Money | None, token: str, *, reason: int = 1,
           client_ip: str | None = None) -> OperationResult:
    """``reason``: ``cancel.REASONS`` (1 declined by the shop, 2 by the customer, 3 fraud)."""
    _require(user, Right.CANCEL)
    return _audited(uow, clock, user, client_ip, AuditKind.CANCEL, bill_number, amount,
                    lambda: cancel_uc.cancel_payment(uow, gateway, clock, user.merchant_id,
                                                     bill_number, amount, reason=reason,
                                                     external_id=token, client_ip=client_ip),
                    f" reason {reason}")


def _audited(uow: BackOfficeUnitOfWork, clock: Clock, user: CabinetUser, client: str | None,
             kind: AuditKind, bill_number: str, amount: Money | None, act,
             extra: str = "") -> OperationResult:
    """Run a confirm or cancel and record it with its outcome (the use case commits in
    steps around the call to the center, so the entry is written when it returns)."""
    whole = "all" if amount is None else f"{amount.amount} {amount.currency}"
    asked = f"{bill_number[:20]} {whole}{extra}"
    try:
        result = act()
    except AssistError as exc:
        audit.record_alone(uow, clock, user.merchant_id, user.login, client, kind,
                           f"{asked}: refused {exc.firstcode}/{exc.secondcode}")
        raise
    op = result.operation
    audit.record_alone(uow, clock, user.merchant_id, user.login, client, kind,
                       f"{asked}: {op.bill_number} {op.state}"
                       f"{' (repeated)' if result.repeated else ''}")
    return result
