"""The merchant cabinet's users and rights, for a user with the right ``admin``: list the
merchant's users, create one, set its rights, reset its password, disable or enable it,
delete it.

They are the web services' users (``merchant_users``): one created here logs in to the
services at once.  Each change is written with its audit entry in one transaction, and a
change that ends what the user could do (new rights, a new password, disabled, deleted)
ends its sessions in that transaction too.  A change that would leave the merchant without
an active user with ``admin`` is refused, so the last admin cannot remove itself or its
right.  A login made here has 8 to 20 latin letters, digits or ``_``; a password follows
``passwords.password_problem``; a reset password is made here and shown once.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from ..domain.audit import AuditKind
from ..domain.errors import NotFound, OperationProhibited, PermissionDenied, Second, \
    ValidationError
from ..domain.model import MerchantUser, Right
from ..domain.passwords import hash_password, password_problem
from ..domain.ports import Clock, BackOfficeUnitOfWork
from . import admin, audit
from .cabinet import CabinetUser

#: The shortest login the cabinet creates.
SHORTEST_LOGIN = 8
#: The length of a reset password.
RESET_LENGTH = 14
_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class UserRow:
    login: str
    rights: tuple[str, ...]
    active: bool
    sessions: int


def _require_admin(user: CabinetUser) -> None:
    if not user.can(Right.ADMIN):
        raise PermissionDenied(f"user {user.login} does not have the right 'admin'",
                               Second.WEB_SERVICE)


def parse_rights(names) -> list[Right]:
    """Rights by name; at least one, every one known (else 5/101)."""
    try:
        rights = sorted({Right(str(n)) for n in names}, key=lambda r: r.value)
    except ValueError:
        raise ValidationError("unknown right", Second.LOGIN_PASSWORD) from None
    if not rights:
        raise ValidationError("a user needs at least one right", Second.LOGIN_PASSWORD)
    return rights


def users(uow: BackOfficeUnitOfWork, user: CabinetUser) -> list[UserRow]:
    """The user's merchant's users, by login, with their open cabinet sessions."""
    _require_admin(user)
    with uow.reader() as r:
        return [UserRow(u.login, tuple(u.rights), u.active,
                        r.cabinet_sessions.open_count(u.merchant_id, u.login))
                for u in r.users.of_merchant(user.merchant_id)]


def user_row(uow: BackOfficeUnitOfWork, user: CabinetUser, login: str) -> UserRow:
    for row in users(uow, user):
        if row.login == login:
            return row
    raise NotFound(f"user {login[:64]} not found", Second.LOGIN)


def new_password() -> str:
    """A password the policy takes: random letters and digits, both present."""
    while True:
        word = "".join(secrets.choice(_ALPHABET) for _ in range(RESET_LENGTH))
        if password_problem(word) is None:
            return word


def create_user(uow: BackOfficeUnitOfWork, clock: Clock, user: CabinetUser, login: str,
                password: str, rights, client: str | None) -> None:
    _require_admin(user)
    granted = parse_rights(rights)
    admin.add_user(uow, user.merchant_id, login, password, granted,
                   shortest_login=SHORTEST_LOGIN,
                   record=lambda u: audit.record(
                       u, clock, user.merchant_id, user.login, client, AuditKind.USER_CREATE,
                       f"{login} rights {','.join(r.value for r in granted)}"))


def _has_admin_left(uow: BackOfficeUnitOfWork, merchant_id: int) -> bool:
    return any(u.active and Right.ADMIN.value in u.rights
               for u in uow.users.of_merchant(merchant_id))


def _change(uow: BackOfficeUnitOfWork, clock: Clock, user: CabinetUser, login: str, client: str | None,
            kind: AuditKind, change, what: str = "") -> None:
    """Apply ``change`` to the user row of ``login`` (of the admin's merchant), refuse it
    if no active admin would be left, end the user's sessions, record it; one
    transaction."""
    _require_admin(user)
    with uow:
        # The merchant's users locked first: two admins removing each other at once are
        # taken one after the other, so one admin is always left.
        uow.users.of_merchant(user.merchant_id, lock=True)
        row: MerchantUser | None = uow.users.get(user.merchant_id, login)
        if row is None:
            raise NotFound(f"user {login[:64]} not found", Second.LOGIN)
        change(row)
        uow.flush()
        if not _has_admin_left(uow, user.merchant_id):
            raise OperationProhibited("the merchant would have no active user with the "
                                      "right 'admin'", Second.LOGIN)
        uow.cabinet_sessions.end_user(user.merchant_id, login, clock.now())
        audit.record(uow, clock, user.merchant_id, user.login, client, kind,
                     f"{login}{' ' + what if what else ''}")
        uow.commit()


def set_rights(uow: BackOfficeUnitOfWork, clock: Clock, user: CabinetUser, login: str, rights,
               client: str | None) -> None:
    granted = [r.value for r in parse_rights(rights)]

    def change(row: MerchantUser) -> None:
        row.rights = granted

    _change(uow, clock, user, login, client, AuditKind.USER_RIGHTS, change,
            "rights " + ",".join(granted))


def reset_password(uow: BackOfficeUnitOfWork, clock: Clock, user: CabinetUser, login: str,
                   client: str | None) -> str:
    """Give the user a new random password (returned, to be shown once)."""
    word = new_password()
    hashed = hash_password(word)

    def change(row: MerchantUser) -> None:
        row.password_hash = hashed

    _change(uow, clock, user, login, client, AuditKind.USER_PASSWORD, change)
    return word


def set_active(uow: BackOfficeUnitOfWork, clock: Clock, user: CabinetUser, login: str, active: bool,
               client: str | None) -> None:
    def change(row: MerchantUser) -> None:
        row.active = active

    _change(uow, clock, user, login, client,
            AuditKind.USER_ENABLE if active else AuditKind.USER_DISABLE, change)


def delete_user(uow: BackOfficeUnitOfWork, clock: Clock, user: CabinetUser, login: str,
                client: str | None) -> None:
    def change(row: MerchantUser) -> None:
        uow.users.remove(row)
        uow.two_factor.remove(row.merchant_id, row.login)  # a new user of the name starts anew

    _change(uow, clock, user, login, client, AuditKind.USER_DELETE, change)
