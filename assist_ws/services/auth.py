"""Authenticating a merchant user of the web services: ``Merchant_ID`` + ``Login`` +
``Password`` sent by a client, the right the service needs, and a short keyed cache of
successes.

Passwords are hashed with scrypt, deliberately expensive (tens of milliseconds and 16 MiB per
check).  An ERP calls the services many times a second with the same credentials, so a pair
once verified is remembered for ``SuccessCache.ttl`` seconds: the cache keeps only an HMAC
(with a key that never leaves the process) of the merchant, login, password *and the stored
password hash*, so it holds nothing that reveals a password, and a password change, a
removed right or a deactivated user take effect at once (the user row is read on every call;
only the scrypt check is skipped).  It is bounded (least recently used entries go first) and
entries expire.

Every attempt goes through the rules of ``throttle`` for its client (the caller's address):
failures are counted there, and a client that keeps failing is refused for a while (7/3).
An unknown merchant or login, or an inactive one, is answered exactly as a wrong password:
the same codes, the same work (its password is checked against a dummy hash) and the same
failure counted, so that nothing tells them apart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from ..domain.errors import AuthenticationError, PermissionDenied, Second, missing
from ..domain.model import Right
from ..domain.passwords import hash_password, verify_password
from ..domain.ports import BackOfficeUnitOfWork, Clock, MerchantQueries
from ..domain.records import FailureState, LoginKey, LoginRecord
from . import throttle
from .orders import parse_merchant_id

#: A hash to check unknown logins against, so that they take as long as known ones.
_DUMMY_HASH = hash_password("not-a-password-0")


@dataclass(frozen=True)
class Credentials:
    """What the request carried, as received, and the address of the client that sent it
    (the WSGI ``REMOTE_ADDR``)."""

    merchant_id: str | None
    login: str | None
    password: str | None
    client: str | None = None


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


def read_login(reader: MerchantQueries, merchant_id: int, login: str) -> LoginRecord | None:
    """The user row behind a login, read in an open (read-only) unit of work, so a service
    can read it in the same database transaction as its own query."""
    return reader.users.login_record(merchant_id, login) if len(login) <= 64 else None


def authenticate(uow: BackOfficeUnitOfWork, clock: Clock, cache: SuccessCache, creds: Credentials,
                 right: Right) -> Principal:
    """The merchant user these credentials name, if the password is right, the client is
    not refused, and the user has ``right`` (see ``check``)."""
    merchant_id, login, password = parse_credentials(creds)
    key = throttle.login_key(creds.client, merchant_id, login)
    with uow.queries() as reader:
        record = read_login(reader, merchant_id, login)
        state = reader.login_failures.state(key)
    return check(uow, clock, cache, key, password, record, state, right)


def check(uow: BackOfficeUnitOfWork, clock: Clock, cache: SuccessCache, key: LoginKey, password: str,
          record: LoginRecord | None, state: FailureState, right: Right) -> Principal:
    """``record`` (the user row, None: no such login) and ``state`` (the client's failures)
    as read for ``key``.  Refusals: 7/141 wrong merchant, login or password (one answer for
    all three, so nothing can be learned from it); 7/3 refused for a while after repeated
    failures (``throttle``); 8/350 the user lacks ``right`` (``admin`` has every right)."""
    usable = record is not None and record.active and record.merchant_active

    def verify() -> bool:
        if record is None or not usable:
            verify_password(password, _DUMMY_HASH)  # the same work as a real check
            return False
        stored = record.password_hash
        if cache.hit(record.merchant_id, record.login, password, stored):
            return True
        if not verify_password(password, stored):
            return False
        cache.remember(record.merchant_id, record.login, password, stored)
        return True

    if not throttle.attempt(uow, clock, key, state, verify) or record is None:
        raise AuthenticationError("wrong Merchant_ID, Login or Password", Second.LOGIN_PASSWORD)
    if Right.ADMIN.value not in record.rights and right.value not in record.rights:
        raise PermissionDenied(f"user {record.login} does not have the right "
                               f"'{right.value}' this service needs", Second.WEB_SERVICE)
    return Principal(record.merchant_id, record.login, frozenset(record.rights),
                     record.secret_word)
