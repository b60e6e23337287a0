"""The merchant cabinet's sessions, kept in the database.

The browser's cookie carries a random token; the table ``cabinet_sessions`` keeps its
SHA-256 digest (a copy of the table opens no session) with the user, the stamp of the
user's row (``cabinet``) and the time of the last request.  Every request finds its session
there (``resume``): one ended (signed out, the user's password changed, the user disabled or
deleted), idle for longer than the idle timeout, or whose user row no longer matches its
stamp is over -- on every process and host at once.  Signing in opens a session and records
the sign-in in one transaction; signing out ends it and records that.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from ..domain.audit import AuditKind, CabinetSession
from ..domain.ports import Clock, BackOfficeUnitOfWork
from . import audit, cabinet
from .cabinet import CabinetUser
from .throttle import client_of

#: A session's last request is written again after this long (not at every request).
TOUCH_EVERY = timedelta(seconds=15)


def digest(token: str) -> str:
    """The session id the table keeps for a cookie's token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Resumed:
    """A request's session: its user (None: signed out) and whether it was found idle."""

    user: CabinetUser | None
    expired: bool = False


def open_session(uow: BackOfficeUnitOfWork, clock: Clock, user: CabinetUser, client: str | None
                 ) -> str:
    """Open a session for a user just signed in (and record the sign-in); the cookie's
    token."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    with uow:
        uow.cabinet_sessions.add(CabinetSession(digest(token), user.merchant_id, user.login,
                                                user.stamp, client_of(client), now, now))
        audit.record(uow, clock, user.merchant_id, user.login, client, AuditKind.SIGN_IN)
        uow.commit()
    return token


def resume(uow: BackOfficeUnitOfWork, clock: Clock, key: bytes, token: str, idle: timedelta) -> Resumed:
    """The session of a request's token, as the database has it now."""
    session_id = digest(token)
    with uow.reader() as r:
        found = r.cabinet_sessions.get(session_id)
    if found is None or found.ended_at is not None:
        return Resumed(None)
    now = clock.now()
    expired = now - found.last_seen_at > idle
    user = None if expired else cabinet.current_user(uow, key, found.merchant_id, found.login,
                                                     found.stamp)
    if user is None:
        with uow:
            uow.cabinet_sessions.end(session_id, now)
            uow.commit()
        return Resumed(None, expired=expired)
    if now - found.last_seen_at >= TOUCH_EVERY:
        with uow:
            uow.cabinet_sessions.touch(session_id, now)
            uow.commit()
    return Resumed(user)


def sign_out(uow: BackOfficeUnitOfWork, clock: Clock, token: str, user: CabinetUser | None,
             client: str | None) -> None:
    """End the session (and record it)."""
    with uow:
        uow.cabinet_sessions.end(digest(token), clock.now())
        if user is not None:
            audit.record(uow, clock, user.merchant_id, user.login, client, AuditKind.SIGN_OUT)
        uow.commit()
