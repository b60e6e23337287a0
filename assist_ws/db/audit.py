"""The cabinet's audit log, server-side sessions and two-factor sign-in in the database
(``audit_log``, ``cabinet_sessions``, ``cabinet_two_factor``, ``cabinet_recovery_codes``): Core statements on the unit of work's session, so an entry or a
session's end is written in the same transaction as the change it goes with."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.orm import Session

from ..domain.audit import WHAT_LENGTH, AuditEntry, AuditQuery, CabinetSession, TwoFactor
from .tables import audit_log, cabinet_recovery_codes, cabinet_sessions, cabinet_two_factor

#: Ended or idle sessions older than this are deleted as new ones come.
KEEP_SESSIONS = timedelta(days=1)
#: At most this many old sessions deleted with each new one.
PURGE_BATCH = 20


class AuditRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, entry: AuditEntry) -> None:
        self.session.execute(insert(audit_log).values(
            merchant_id=entry.merchant_id, login=entry.login[:64], at=entry.at,
            client=entry.client[:64], kind=entry.kind, what=entry.what[:WHAT_LENGTH]))

    def find(self, query: AuditQuery, limit: int) -> list[AuditEntry]:
        t = audit_log.c
        where = [t.merchant_id == query.merchant_id, t.at >= query.since, t.at < query.until]
        if query.login:
            where.append(t.login == query.login)
        if query.kinds:
            where.append(t.kind.in_(query.kinds))
        if query.before is not None:
            where.append(t.id < query.before)
        rows = self.session.execute(
            select(t.merchant_id, t.login, t.at, t.client, t.kind, t.what, t.id)
            .where(and_(*where)).order_by(t.id.desc()).limit(limit))
        return [AuditEntry(*row) for row in rows]


class CabinetSessionRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, s: CabinetSession) -> None:
        t = cabinet_sessions.c
        old = select(t.session_id).where(t.last_seen_at < s.created_at - KEEP_SESSIONS) \
            .limit(PURGE_BATCH)
        stale = [row[0] for row in self.session.execute(old)]
        if stale:
            self.session.execute(delete(cabinet_sessions).where(t.session_id.in_(stale)))
        self.session.execute(insert(cabinet_sessions).values(
            session_id=s.session_id, merchant_id=s.merchant_id, login=s.login, stamp=s.stamp,
            client=s.client[:64], created_at=s.created_at, last_seen_at=s.last_seen_at))

    def get(self, session_id: str) -> CabinetSession | None:
        t = cabinet_sessions.c
        row = self.session.execute(select(
            t.session_id, t.merchant_id, t.login, t.stamp, t.client, t.created_at,
            t.last_seen_at, t.ended_at).where(t.session_id == session_id)).first()
        return CabinetSession(*row) if row is not None else None

    def touch(self, session_id: str, now: datetime, stamp: str | None = None) -> None:
        values: dict = {"last_seen_at": now}
        if stamp is not None:
            values["stamp"] = stamp
        self.session.execute(update(cabinet_sessions).where(
            cabinet_sessions.c.session_id == session_id).values(**values))

    def end(self, session_id: str, now: datetime) -> None:
        t = cabinet_sessions.c
        self.session.execute(update(cabinet_sessions).where(
            (t.session_id == session_id) & t.ended_at.is_(None)).values(ended_at=now))

    def end_user(self, merchant_id: int, login: str, now: datetime, *,
                 keep: str | None = None) -> int:
        t = cabinet_sessions.c
        where = (t.merchant_id == merchant_id) & (t.login == login) & t.ended_at.is_(None)
        if keep is not None:
            where = where & (t.session_id != keep)
        result = self.session.execute(update(cabinet_sessions).where(where)
                                      .values(ended_at=now))
        return int(getattr(result, "rowcount", 0) or 0)

    def open_count(self, merchant_id: int, login: str) -> int:
        t = cabinet_sessions.c
        return len(self.session.execute(select(t.session_id).where(
            (t.merchant_id == merchant_id) & (t.login == login) & t.ended_at.is_(None)))
            .all())


class TwoFactorRepository:
    """The users' TOTP sign-in and recovery codes (``cabinet_two_factor``,
    ``cabinet_recovery_codes``)."""

    def __init__(self, session: Session):
        self.session = session

    def get(self, merchant_id: int, login: str) -> TwoFactor | None:
        t = cabinet_two_factor.c
        row = self.session.execute(select(
            t.merchant_id, t.login, t.secret, t.enabled, t.created_at, t.last_step).where(
            (t.merchant_id == merchant_id) & (t.login == login))).first()
        return TwoFactor(*row) if row is not None else None

    def save(self, record: TwoFactor) -> None:
        """Store the record, in place of the user's one (and its recovery codes) if any."""
        self.remove(record.merchant_id, record.login)
        self.session.execute(insert(cabinet_two_factor).values(
            merchant_id=record.merchant_id, login=record.login, secret=record.secret,
            enabled=record.enabled, created_at=record.created_at, last_step=record.last_step))

    def update(self, merchant_id: int, login: str, *, enabled: bool | None = None,
               last_step: int | None = None) -> None:
        values: dict = {}
        if enabled is not None:
            values["enabled"] = enabled
        if last_step is not None:
            values["last_step"] = last_step
        t = cabinet_two_factor.c
        self.session.execute(update(cabinet_two_factor).where(
            (t.merchant_id == merchant_id) & (t.login == login)).values(**values))

    def remove(self, merchant_id: int, login: str) -> None:
        for table in (cabinet_two_factor, cabinet_recovery_codes):
            self.session.execute(delete(table).where(
                (table.c.merchant_id == merchant_id) & (table.c.login == login)))

    def add_codes(self, merchant_id: int, login: str, hashes: list[str]) -> None:
        t = cabinet_recovery_codes
        self.session.execute(delete(t).where((t.c.merchant_id == merchant_id)
                                             & (t.c.login == login)))
        self.session.execute(insert(t), [{"merchant_id": merchant_id, "login": login,
                                          "code_hash": h} for h in hashes])

    def use_code(self, merchant_id: int, login: str, code_hash: str, now: datetime) -> bool:
        """Take an unused recovery code (once: a second use finds it used)."""
        t = cabinet_recovery_codes.c
        result = self.session.execute(update(cabinet_recovery_codes).where(
            (t.merchant_id == merchant_id) & (t.login == login) & (t.code_hash == code_hash)
            & t.used_at.is_(None)).values(used_at=now))
        return int(getattr(result, "rowcount", 0) or 0) == 1

    def codes_left(self, merchant_id: int, login: str) -> int:
        t = cabinet_recovery_codes.c
        return len(self.session.execute(select(t.id).where(
            (t.merchant_id == merchant_id) & (t.login == login) & t.used_at.is_(None))).all())
