"""The merchant cabinet's audit log and its server-side sessions, as plain values.

An ``AuditEntry`` says who (merchant, login), when, from which address and what was done:
sign-ins and failed ones, sign-outs, confirms and cancels, exports, changes of users and of
the merchant's settings.  A ``CabinetSession`` is one signed-in browser: the cookie carries
only a random token, the database keeps its digest (``session_id``) with the user, the stamp
of the user's row at sign-in and the time of the last request, so ending a session (sign-out,
a disabled user, a changed password) holds on every process and host.  ``TwoFactor`` is a
user's TOTP sign-in: its secret as stored (encrypted), whether it is confirmed, and the last
time step a code was taken at (a code is taken once).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class AuditKind(str, enum.Enum):
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_OUT = "sign_out"
    PASSWORD = "password"
    CONFIRM = "confirm"
    CANCEL = "cancel"
    EXPORT = "export"
    USER_CREATE = "user_create"
    USER_RIGHTS = "user_rights"
    USER_PASSWORD = "user_password"
    USER_DISABLE = "user_disable"
    USER_ENABLE = "user_enable"
    USER_DELETE = "user_delete"
    SETTINGS = "settings"
    SECRET_WORD = "secret_word"
    TEST_NOTIFICATION = "test_notification"
    TWO_FACTOR_ON = "two_factor_on"
    TWO_FACTOR_OFF = "two_factor_off"
    SIGN_IN_CODE_FAILED = "sign_in_code_failed"


#: The longest text an entry keeps of what was done.
WHAT_LENGTH = 512


@dataclass(frozen=True)
class AuditEntry:
    merchant_id: int
    login: str
    at: datetime
    client: str
    kind: str
    what: str
    id: int | None = None


@dataclass(frozen=True)
class AuditQuery:
    """The log's filter: a merchant's entries in ``[since, until)``, of one login and of
    some kinds when given, newest first, older than entry ``before`` (the next page)."""

    merchant_id: int
    since: datetime
    until: datetime
    login: str | None = None
    kinds: tuple[str, ...] = ()
    before: int | None = None


@dataclass(frozen=True)
class CabinetSession:
    session_id: str
    merchant_id: int
    login: str
    stamp: str
    client: str
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True)
class TwoFactor:
    merchant_id: int
    login: str
    secret: str          # encrypted: never the secret itself
    enabled: bool
    created_at: datetime
    last_step: int | None = None
