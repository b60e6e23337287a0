"""Failed logins: slowing down and refusing the client that keeps failing, never the merchant.

Failures are counted per ``LoginKey`` -- a client, a merchant and a login, whether the login
exists or not -- in the database (``LoginFailureRepository``), so that every server process
and host sees the same counts:

* from the ``SLOW_AFTER``-th failure of a key in a row the key is refused without a check
  for a doubling delay (1 s, 2 s, 4 s ...), from the ``LOCK_AFTER``-th for ``LOCK``.
  Failures count for ``WINDOW`` from the first one (then counting starts again); a success
  forgets them.  Only that client is refused: the merchant's own ERP, calling from its own
  address, still gets in with the right password.
* a client failing ``CLIENT_LIMIT`` times within ``CLIENT_WINDOW``, on any logins of any
  merchants, is refused on every login for ``LOCK`` (one address trying many logins);
  successes do not forget these failures.
* while refused, an attempt is answered 7/3 whatever its password, and is not counted.

A client is its address as the serving layer gives it (``REMOTE_ADDR``); an IPv6 client is
its /64 network, which one subscriber gets whole.  Each failure counted also deletes a few
keys whose last failure is older than ``WINDOW`` and which refuse nothing any more, so the
table holds about one window of failures whatever an attacker sends.

``attempt`` applies the rules around a password check; the web services use it, and any
other sign-in can.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from datetime import datetime, timedelta
from typing import Callable

from ..domain.errors import AuthenticationError, Second
from ..domain.ports import BackOfficeUnitOfWork, Clock
from ..domain.records import FailureState, LoginKey

SLOW_AFTER = 5
LOCK_AFTER = 10
LOCK = timedelta(minutes=15)
WINDOW = timedelta(hours=24)
CLIENT_LIMIT = 100
CLIENT_WINDOW = timedelta(hours=1)
#: Old keys deleted with each failure counted.
PURGE_BATCH = 10
#: The longest login counted as it is (no login is longer); longer ones are cut.
LOGIN_LENGTH = 64

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4096)
def client_of(remote_addr: str | None) -> str:
    """The client an address counts for: the address itself (an IPv4-mapped IPv6 address
    as IPv4), an IPv6 address's /64 network, or the text given, cleaned, when it is no
    address.  (Remembered: an ERP calls from the same address again and again.)"""
    text = (remote_addr or "").strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return "".join(c for c in text if c.isprintable() and not c.isspace())[:64] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


def login_key(remote_addr: str | None, merchant_id: int, login: str) -> LoginKey:
    return LoginKey(client_of(remote_addr), merchant_id, login[:LOGIN_LENGTH])


def refusal_until(failures: int, now: datetime) -> datetime | None:
    """Until when a key with ``failures`` failures in a row is refused without a check."""
    if failures >= LOCK_AFTER:
        return now + LOCK
    if failures >= SLOW_AFTER:
        return now + timedelta(seconds=2 ** (failures - SLOW_AFTER))
    return None


def _refused(key: LoginKey, until: datetime, *, whole_client: bool) -> AuthenticationError:
    who = "from this address" if whole_client else f"for {key.login} from this address"
    return AuthenticationError(f"too many failed logins {who}: try again after "
                               f"{until:%d.%m.%Y %H:%M:%S} UTC", Second.RATE)


def check_refusal(key: LoginKey, state: FailureState, now: datetime) -> None:
    """7/3 while the key, or its client as a whole, is refused."""
    if state.client_refused_until is not None and state.client_refused_until > now:
        raise _refused(key, state.client_refused_until, whole_client=True)
    if state.refused_until is not None and state.refused_until > now:
        raise _refused(key, state.refused_until, whole_client=False)


def attempt(uow: BackOfficeUnitOfWork, clock: Clock, key: LoginKey, state: FailureState,
            verify: Callable[[], bool]) -> bool:
    """One login attempt of ``key`` under the rules, ``state`` being what was read of its
    failures: refused (7/3) without calling ``verify`` while the key or its client is
    refused; else ``verify`` (the password check) runs.  A success forgets the key's
    failures and returns True.  A failure is counted and returns False (the caller answers
    it as a wrong login) -- or, when it is one too many, refuses from now on (7/3)."""
    now = clock.now()
    check_refusal(key, state, now)
    if verify():
        if state.failures:
            with uow:
                uow.login_failures.clear(key)
                uow.commit()
        return True
    failures, until, client_failures, client_until = _count(uow, key, now)
    # For the operator's alerts; the login as sent, quoted (the client chose it).
    if client_until is not None:
        log.warning("login refused for a while: client=%s merchant=* login=* failures=%d "
                    "until=%s", key.client, client_failures, _stamp(client_until))
    if until is not None:
        log.warning("login refused for a while: client=%s merchant=%s login=%r failures=%d "
                    "until=%s", key.client, key.merchant_id, key.login, failures,
                    _stamp(until))
    check_refusal(key, FailureState(failures, until, client_until), now)
    return False


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


def _count(uow: BackOfficeUnitOfWork, key: LoginKey, now: datetime):
    """Count a failure of the key and of its client, refuse what has one too many, and
    delete a few old keys -- in one transaction."""
    with uow:
        failures = uow.login_failures.count(key, now, now - WINDOW)
        until = refusal_until(failures, now)
        if until is not None:
            uow.login_failures.refuse(key, until)
        client = key.of_client()
        client_failures = uow.login_failures.count(client, now, now - CLIENT_WINDOW)
        client_until = now + LOCK if client_failures >= CLIENT_LIMIT else None
        if client_until is not None:
            uow.login_failures.refuse(client, client_until)
        uow.login_failures.purge(now - WINDOW, now, PURGE_BATCH)
        uow.commit()
    return failures, until, client_failures, client_until
