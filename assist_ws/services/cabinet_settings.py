"""The merchant cabinet's settings page, for a user with the right ``admin``: return URLs,
payment timeout, time zone, result notifications (URL, POST or SOAP, which results, only
successful ones, expected reply), checking the order code, and a new secret word.

Everything is saved by ``admin.save_merchant`` -- the command line's own use case with its
checks -- with the audit entry (the names of the fields changed) in the same transaction.
The secret word is never shown: a new random one is made, saved and returned once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Callable

from ..domain.audit import AuditKind
from ..domain.errors import NotFound, PermissionDenied, Second
from ..domain.model import Merchant, Right
from ..domain.notifications import check_url
from ..domain.ports import Clock, UnitOfWork
from . import admin, audit
from .cabinet import CabinetUser

#: The merchant's fields the page shows and changes.
FIELDS = ("url_return", "url_return_ok", "url_return_no", "timeout_minutes", "time_zone",
          "notify_url", "notify_protocol", "notify_results", "notify_only_success",
          "notify_expected_reply", "check_order_code")


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


def current(uow: UnitOfWork, user: CabinetUser) -> SettingsView:
    _require_admin(user)
    with uow.reader() as r:
        merchant = r.merchants.get(user.merchant_id)
        if merchant is None:
            raise NotFound("merchant not found", Second.MERCHANT_ID)
        return SettingsView(_values(merchant), bool(merchant.secret_word))


def save(uow: UnitOfWork, clock: Clock, user: CabinetUser, settings: admin.MerchantSettings,
         client: str | None, check_notify_url: Callable[[str], str] = check_url) -> list[str]:
    """Save the settings (refused whole on a bad value); the names of the fields changed."""
    _require_admin(user)
    before = current(uow, user).values
    changed: list[str] = []

    def record(u: UnitOfWork, merchant: Merchant) -> None:
        changed.extend(n for n, v in _values(merchant).items() if before[n] != v)
        audit.record(u, clock, user.merchant_id, user.login, client, AuditKind.SETTINGS,
                     ", ".join(changed) or "nothing changed")

    admin.save_merchant(uow, user.merchant_id, settings, create=False,
                        check_notify_url=check_notify_url, record=record)
    return changed


def new_secret_word(uow: UnitOfWork, clock: Clock, user: CabinetUser,
                    client: str | None) -> str:
    """Make, save and return (to be shown once) a new random secret word."""
    _require_admin(user)
    word = secrets.token_urlsafe(24)
    admin.save_merchant(uow, user.merchant_id, admin.MerchantSettings(secret_word=word),
                        create=False, record=lambda u, _m: audit.record(
                            u, clock, user.merchant_id, user.login, client,
                            AuditKind.SECRET_WORD, "a new secret word"))
    return word
