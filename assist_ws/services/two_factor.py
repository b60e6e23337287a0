"""Two-factor sign-in to the merchant cabinet with a TOTP app (RFC 6238: 6 digits every 30
seconds, ``pyotp``).

* Enrolment: ``start`` makes a new secret and keeps it, not yet in force, encrypted
  (``SecretBox``: Fernet from ``cryptography``, its key derived with HKDF-SHA256 from the
  gateway's secret, so a copy of the database alone does not give the secrets away);
  the page shows its ``otpauth://`` URI as a QR code.  ``confirm`` takes a code of the app,
  puts the sign-in in force and returns ten recovery codes, shown once and kept only as
  HMACs (each is taken once).
* Sign-in: after the password, ``verify`` takes a code of the app (one time step either way
  allowed for clock drift; a step once taken is not taken again) or a recovery code, under
  the same failed-login rules as the password (``throttle``, the same key: client, merchant,
  login), so guessing codes is slowed and refused as guessing passwords is.
* ``turn_off`` needs a valid code as well.  Each change is recorded in the audit log in its
  own transaction; neither the secret nor any code is ever logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..domain.audit import AuditKind, TwoFactor
from ..domain.errors import AuthenticationError, OperationProhibited, Second
from ..domain.ports import Clock, BackOfficeUnitOfWork
from . import audit, throttle
from .cabinet import CabinetUser

#: The issuer name the TOTP app shows beside the account.
ISSUER = "assist-ws"
#: How many recovery codes an enrolment gives.
RECOVERY_CODES = 10
_RECOVERY = re.compile(r"[a-z0-9]{5}-?[a-z0-9]{5}")
_CODE = re.compile(r"[0-9]{6}")


class SecretBox:
    """Encrypts and decrypts the TOTP secrets with a key derived from the gateway's
    secret; also makes the keyed hashes of the recovery codes."""

    def __init__(self, secret: bytes):
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"assist-ws cabinet totp secret").derive(secret)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self._code_key = hmac.new(secret, b"assist-ws recovery codes", hashlib.sha256).digest()

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def open(self, sealed: str) -> str | None:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:  # sealed under another gateway secret
            return None

    def code_hash(self, merchant_id: int, login: str, code: str) -> str:
        msg = f"{merchant_id}\x00{login}\x00{code.replace('-', '').lower()}"
        return hmac.new(self._code_key, msg.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret (for typing it in) and its URI (the QR)."""

    secret: str
    uri: str


def is_on(uow: BackOfficeUnitOfWork, merchant_id: int, login: str) -> bool:
    with uow.reader() as r:
        record = r.two_factor.get(merchant_id, login)
    return record is not None and record.enabled


def codes_left(uow: BackOfficeUnitOfWork, user: CabinetUser) -> int:
    with uow.reader() as r:
        return r.two_factor.codes_left(user.merchant_id, user.login)


def start(uow: BackOfficeUnitOfWork, clock: Clock, box: SecretBox, user: CabinetUser) -> Enrolment:
    """A new secret, kept not yet in force (refused while one is in force)."""
    if is_on(uow, user.merchant_id, user.login):
        raise OperationProhibited("two-factor sign-in is already on", Second.NONE)
    secret = pyotp.random_base32()
    with uow:
        uow.two_factor.save(TwoFactor(user.merchant_id, user.login, box.seal(secret), False,
                                      clock.now()))
        uow.commit()
    return Enrolment(secret, _uri(user, secret))


def pending(uow: BackOfficeUnitOfWork, box: SecretBox, user: CabinetUser) -> Enrolment | None:
    """The enrolment started and not yet confirmed, if any."""
    with uow.reader() as r:
        record = r.two_factor.get(user.merchant_id, user.login)
    if record is None or record.enabled:
        return None
    secret = box.open(record.secret)
    return Enrolment(secret, _uri(user, secret)) if secret else None


def _uri(user: CabinetUser, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=f"{user.merchant_id}:{user.login}",
                                               issuer_name=ISSUER)


def _step(secret: str, code: str, now: datetime, after: int | None) -> int | None:
    """The time step (now's, or one either side) whose code is ``code`` and which is later
    than ``after``; None when none is."""
    if not _CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if (after is None or step > after) and hmac.compare_digest(
                totp.generate_otp(step), code):
            return step
    return None


def confirm(uow: BackOfficeUnitOfWork, clock: Clock, box: SecretBox, user: CabinetUser, code: str,
            client: str | None) -> list[str]:
    """Put the started enrolment in force with a code of the app; the recovery codes."""
    with uow.reader() as r:
        record = r.two_factor.get(user.merchant_id, user.login)
    secret = box.open(record.secret) if record is not None and not record.enabled else None
    if secret is None:
        raise OperationProhibited("no two-factor enrolment is under way", Second.NONE)
    step = _step(secret, (code or "").strip(), clock.now(), None)
    if step is None:
        raise AuthenticationError("the code is not the app's code now", Second.NONE)
    codes = [f"{secrets.token_hex(3)[:5]}-{secrets.token_hex(3)[:5]}"
             for _ in range(RECOVERY_CODES)]
    with uow:
        uow.two_factor.update(user.merchant_id, user.login, enabled=True, last_step=step)
        uow.two_factor.add_codes(user.merchant_id, user.login,
                                 [box.code_hash(user.merchant_id, user.login, c)
                                  for c in codes])
        audit.record(uow, clock, user.merchant_id, user.login, client, AuditKind.TWO_FACTOR_ON)
        uow.commit()
    return codes


def _take(uow: BackOfficeUnitOfWork, clock: Clock, box: SecretBox, merchant_id: int, login: str,
          code: str) -> bool:
    """Whether ``code`` is the app's code now (its step then taken) or an unused recovery
    code (then used)."""
    code = (code or "").strip().lower()
    with uow:
        record = uow.two_factor.get(merchant_id, login)
        if record is None or not record.enabled:
            return False
        secret = box.open(record.secret)
        step = _step(secret, code, clock.now(), record.last_step) if secret else None
        if step is not None:
            uow.two_factor.update(merchant_id, login, last_step=step)
        elif not (_RECOVERY.fullmatch(code) and uow.two_factor.use_code(
                merchant_id, login, box.code_hash(merchant_id, login, code), clock.now())):
            return False
        uow.commit()
    return True


def verify(uow: BackOfficeUnitOfWork, clock: Clock, box: SecretBox, merchant_id: int, login: str,
           code: str, client: str | None) -> None:
    """Check a sign-in's second factor under the failed-login rules: 7/141 for a wrong code,
    7/3 while the client is refused."""
    key = throttle.login_key(client, merchant_id, login)
    with uow.queries() as reader:
        state = reader.login_failures.state(key)
    if not throttle.attempt(uow, clock, key, state,
                            lambda: _take(uow, clock, box, merchant_id, login, code)):
        audit.record_alone(uow, clock, merchant_id, login, client,
                           AuditKind.SIGN_IN_CODE_FAILED)
        raise AuthenticationError("wrong code", Second.LOGIN_PASSWORD)


def turn_off(uow: BackOfficeUnitOfWork, clock: Clock, box: SecretBox, user: CabinetUser, code: str,
             client: str | None) -> None:
    """Turn the user's two-factor sign-in off, after a valid code (or recovery code)."""
    verify(uow, clock, box, user.merchant_id, user.login, code, client)
    with uow:
        uow.two_factor.remove(user.merchant_id, user.login)
        audit.record(uow, clock, user.merchant_id, user.login, client,
                     AuditKind.TWO_FACTOR_OFF)
        uow.commit()
