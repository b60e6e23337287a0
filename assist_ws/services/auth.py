"""Authenticating a merchant user of the web services: ``Merchant_ID`` + ``Login`` +
``Password``, the right the service needs, throttling and lockout of repeated failures, and a
short keyed cache of successes.

Passwords are hashed with scrypt, deliberately expensive (tens of milliseconds and 16 MiB per
check).  An ERP calls the services many times a second with the same credentials, so a pair
once verified is remembered for ``SuccessCache.ttl`` seconds: the cache keeps only an HMAC
(with a key that never leaves the process) of the merchant, login, password *and the stored
password hash*, so it holds nothing that reveals a password, and a password change, a
lockout, a removed right or a deactivated user take effect at once (the user row is read on
every call; only the scrypt check is skipped).  It is bounded (least recently used entries go
first) and entries expire.

Failed logins are counted on the user row.  From the ``SLOW_AFTER``-th failure in a row the
login is refused without a check for a doubling delay (1 s, 2 s, 4 s ...: *slowed down*);
from the ``LOCK_AFTER``-th it is locked for ``LOCK_MINUTES``.  While refused, every attempt
gets Assist's 7/3 (authentication error, request rate exceeded) whatever the password, and is
not counted.  A success resets the count.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..domain.errors import AuthenticationError, PermissionDenied, Second, missing
from ..domain.model import Right
from ..domain.passwords import hash_password, verify_password
from ..domain.ports import Clock, UnitOfWork
from ..domain.records import LoginRecord
from .orders import parse_merchant_id

SLOW_AFTER = 5
LOCK_AFTER = 10
LOCK_MINUTES = 15
#: A hash to check unknown logins against, so that they take as long as known ones.
_DUMMY_HASH = hash_password("not-a-password-0")


@dataclass(frozen=True)
class Credentials:
    """What the request carried, as received."""

    merchant_id: str | None
    login: str | None
    password: str | None


@dataclass(frozen=True)
class Principal:
    """An authenticated merchant user, and what the replies need of its merchant."""

    merchant_id: int
    login: str
    rights: frozenset[str]
    secret_word: str | None


class SuccessCache:
    """Recently verified credentials: keyed HMACs with an expiry, bounded, thread-safe."""

    def __init__(self, ttl: float = 60.0, size: int = 4096, *, key: bytes | None = None,
                 monotonic=time.monotonic):
        self.ttl, self.size = ttl, size
        self._key = key or secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()
        self._now = monotonic

    def _digest(self, merchant_id: int, login: str, password: str, stored_hash: str) -> bytes:
        msg = "\x00".join((str(merchant_id), login, password, stored_hash)).encode()
        return hmac.new(self._key, msg, hashlib.sha256).digest()

    def hit(self, merchant_id: int, login: str, password: str, stored_hash: str) -> bool:
        if self.ttl <= 0:
            return False
        digest = self._digest(merchant_id, login, password, stored_hash)
        with self._lock:
            expires = self._entries.get(digest)
            if expires is None:
                return False
            if expires < self._now():
                del self._entries[digest]
                return False
            self._entries.move_to_end(digest)
            return True

    def remember(self, merchant_id: int, login: str, password: str, stored_hash: str) -> None:
        if self.ttl <= 0:
            return
        digest = self._digest(merchant_id, login, password, stored_hash)
        with self._lock:
            self._entries[digest] = self._now() + self.ttl
            self._entries.move_to_end(digest)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def refusal_until(failures: int, now: datetime) -> datetime | None:
    """Until when a login with ``failures`` failures in a row is refused without a check."""
    if failures >= LOCK_AFTER:
        return now + timedelta(minutes=LOCK_MINUTES)
    if failures >= SLOW_AFTER:
        return now + timedelta(seconds=2 ** (failures - SLOW_AFTER))
    return None


def _refused(login: str, until: datetime) -> AuthenticationError:
    return AuthenticationError(
        f"too many failed logins for {login}: try again after "
        f"{until.strftime('%d.%m.%Y %H:%M:%S')} UTC", Second.RATE)


def parse_credentials(creds: Credentials) -> tuple[int, str, str]:
    """(merchant id, login, password), or 3/100, 3/101, 3/102 for a missing part."""
    merchant_id = parse_merchant_id(creds.merchant_id)
    login = (creds.login or "").strip()
    password = creds.password or ""
    if not login:
        raise missing("Login", Second.LOGIN)
    if not password:
        raise missing("Password", Second.PASSWORD)
    return merchant_id, login, password


def read_login(reader: UnitOfWork, merchant_id: int, login: str) -> LoginRecord | None:
    """The user row behind a login, read in an open (read-only) unit of work, so a service
    can read it in the same database transaction as its own query."""
    return reader.users.login_record(merchant_id, login) if len(login) <= 64 else None


def authenticate(uow: UnitOfWork, clock: Clock, cache: SuccessCache, creds: Credentials,
                 right: Right) -> Principal:
    """The merchant user these credentials name, if the password is right, the login is not
    locked, and the user has ``right`` (see ``check``)."""
    merchant_id, login, password = parse_credentials(creds)
    with uow.queries() as reader:
        record = read_login(reader, merchant_id, login)
    return check(uow, clock, cache, merchant_id, login, password, record, right)


def check(uow: UnitOfWork, clock: Clock, cache: SuccessCache, merchant_id: int, login: str,
          password: str, record: LoginRecord | None, right: Right) -> Principal:
    """Refusals: 7/141 wrong merchant, login or password (one answer for all three, so
    nothing can be learned from it); 7/3 refused for a while after repeated failures; 8/350
    the user lacks ``right`` (``admin`` has every right)."""
    now = clock.now()
    if record is None or not record.active or not record.merchant_active:
        verify_password(password, _DUMMY_HASH)  # the same time as a real check
        raise AuthenticationError("wrong Merchant_ID, Login or Password", Second.LOGIN_PASSWORD)
    if record.locked_until is not None and record.locked_until > now:
        raise _refused(login, record.locked_until)
    stored = record.password_hash
    if not cache.hit(merchant_id, login, password, stored):
        if not verify_password(password, stored):
            until = _record_failure(uow, merchant_id, login, stored, now)
            if until is not None:
                raise _refused(login, until)
            raise AuthenticationError("wrong Merchant_ID, Login or Password",
                                      Second.LOGIN_PASSWORD)
        cache.remember(merchant_id, login, password, stored)
    if record.failed_logins or record.locked_until is not None:
        _reset_failures(uow, merchant_id, login)
    if Right.ADMIN.value not in record.rights and right.value not in record.rights:
        raise PermissionDenied(f"user {login} does not have the right '{right.value}' this "
                               f"service needs", Second.WEB_SERVICE)
    return Principal(merchant_id, login, frozenset(record.rights), record.secret_word)


def _record_failure(uow: UnitOfWork, merchant_id: int, login: str, stored: str,
                    now: datetime) -> datetime | None:
    with uow:
        user = uow.users.get_locked(merchant_id, login)
        if user is None or user.password_hash != stored:
            return None  # changed meanwhile: this failure says nothing about the new one
        user.failed_logins = (user.failed_logins or 0) + 1
        user.locked_until = refusal_until(user.failed_logins, now)
        until = user.locked_until
        uow.commit()
        return until


def _reset_failures(uow: UnitOfWork, merchant_id: int, login: str) -> None:
    with uow:
        user = uow.users.get_locked(merchant_id, login)
        if user is not None:
            user.failed_logins = 0
            user.locked_until = None
            uow.commit()
