"""The merchant cabinet's settings page, for a user with the right ``admin``: return URLs,
payment timeout, time zone, result notifications (URL, POST or SOAP, which results, only
successful ones, expected reply), checking the order code, the bonus program and its accrual
rate, 3-D Secure (whether a request's ``Disable3DS`` is followed; an unavailable ACS: decline
or authorize without it), and a new secret word.

Everything is saved by ``admin.save_merchant`` -- the command line's own use case with its
checks -- with the audit entry (the names of the fields changed) in the same transaction.
The secret word is never shown: a new random one is made, saved and returned once.
"Send a test notification" sends, at once and with the settings saved, the result of a
made-up test payment (test mode, 1.00 of the base currency, a masked test card) through the
notification sender, and returns the try as the delivery journal has it (time, URL,
verdict, HTTP status, duration, the reply's start, error); the try is recorded in the audit
log (no order exists for it, so it is not in an order's journal, and it is never retried).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Callable

from ..domain.audit import AuditKind
from ..domain.errors import NotFound, OperationProhibited, PermissionDenied, Second
from ..domain.model import Merchant, Operation, OperationState, OperationType, Order, Right
from ..domain.money import Money
from ..domain.notifications import (NotificationSender, PushNotice, PushReply, ResultKind,
                                    Verdict, check_url, new_notification_id)
from ..domain.states import OrderState
from ..domain.ports import Clock, BackOfficeUnitOfWork
from . import admin, audit
from .cabinet import CabinetUser
from .notifications.delivery import target_of
from .notifications.outbox import content_of

#: The merchant's fields the page shows and changes.
FIELDS = ("url_return", "url_return_ok", "url_return_no", "timeout_minutes", "time_zone",
          "notify_url", "notify_protocol", "notify_results", "notify_only_success",
          "notify_expected_reply", "check_order_code", "bonus_program", "accrual_rate",
          "allow_disable_3ds", "threeds_unavailable")


@dataclass(frozen=True)
class SettingsView:
    """What the page shows: the fields' values, and whether a secret word is set."""

    values: dict
    has_secret_word: bool


def _require_admin(user: CabinetUser) -> None:
    if not user.can(Right.ADMIN):
        raise PermissionDenied(f"user {user.login} does not have the right 'admin'",
                               Second.WEB_SERVICE)


def _values(merchant: Merchant) -> dict:
    return {name: getattr(merchant, name) for name in FIELDS}


def current(uow: BackOfficeUnitOfWork, user: CabinetUser) -> SettingsView:
    _require_admin(user)
    with uow.reader() as r:
        merchant = r.merchants.get(user.merchant_id)
        if merchant is None:
            raise NotFound("merchant not found", Second.MERCHANT_ID)
        return SettingsView(_values(merchant), bool(merchant.secret_word))


def save(uow: BackOfficeUnitOfWork, clock: Clock, user: CabinetUser, settings: admin.MerchantSettings,
         client: str | None, check_notify_url: Callable[[str], str] = check_url) -> list[str]:
    """Save the settings (refused whole on a bad value); the names of the fields changed."""
    _require_admin(user)
    before = current(uow, user).values
    changed: list[str] = []

    def record(u: BackOfficeUnitOfWork, merchant: Merchant) -> None:
        changed.extend(n for n, v in _values(merchant).items() if before[n] != v)
        audit.record(u, clock, user.merchant_id, user.login, client, AuditKind.SETTINGS,
                     ", ".join(changed) or "nothing changed")

    admin.save_merchant(uow, user.merchant_id, settings, create=False,
                        check_notify_url=check_notify_url, record=record)
    return changed


def new_secret_word(uow: BackOfficeUnitOfWork, clock: Clock, user: CabinetUser,
                    client: str | None) -> str:
    """Make, save and return (to be shown once) a new random secret word."""
    _require_admin(user)
    word = secrets.token_urlsafe(24)
    admin.save_merchant(uow, user.merchant_id, admin.MerchantSettings(secret_word=word),
                        create=False, record=lambda u, _m: audit.record(
                            u, clock, user.merchant_id, user.login, client,
                            AuditKind.SECRET_WORD, "a new secret word"))
    return word


@dataclass(frozen=True)
class TestTry:
    """A test notification's try, as a delivery journal entry shows it."""

    started_at: datetime
    url: str
    protocol: str
    reply: PushReply


def _test_payment(merchant: Merchant, now: datetime) -> Order:
    """A made-up, never stored, paid test order of the merchant."""
    order = Order(merchant.merchant_id, "TEST-" + secrets.token_hex(4).upper(),
                  Money(Decimal("1.00"), merchant.base_currency), now, test_mode=True)
    op = Operation(1, OperationType.PAY, order.amount, order.currency, now)
    op.state, op.response_code, op.message = OperationState.SUCCESS, "AS000", "test notification"
    op.means_type, op.means_number, op.finished_at = "VISA", "411111******1111", now
    order.operations.append(op)
    order.state = OrderState.APPROVED
    return order


def test_notification(uow: BackOfficeUnitOfWork, clock: Clock, sender: NotificationSender,
                      user: CabinetUser, client: str | None) -> TestTry:
    """Send a test payment's result to the merchant's notification URL now (needs one)."""
    _require_admin(user)
    with uow.reader() as r:
        merchant = r.merchants.get(user.merchant_id)
    target = target_of(merchant)
    if merchant is None or target is None:
        raise OperationProhibited("no notification URL is set", Second.URL)
    started = clock.now()
    order = _test_payment(merchant, started)
    notice = PushNotice(new_notification_id(), 1, started,
                        content_of(order, ResultKind.PAY, True, order.operations[0]))
    try:
        reply = sender.send(target, notice)
    except Exception as exc:  # noqa: BLE001 - a broken sender is a failed try, as delivery's
        reply = PushReply(Verdict.FAILED, error=f"{type(exc).__name__}: {exc}",
                          url=target.url)
    status = "" if reply.http_status is None else f" HTTP {reply.http_status}"
    audit.record_alone(uow, clock, user.merchant_id, user.login, client,
                       AuditKind.TEST_NOTIFICATION,
                       f"{target.protocol.value} {reply.url or target.url}: "
                       f"{reply.verdict.value}{status}")
    return TestTry(started, reply.url or target.url, target.protocol.value, reply)
