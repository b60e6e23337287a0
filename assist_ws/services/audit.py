"""The merchant cabinet's audit log: who (merchant and login), when, from which address and
what was done -- sign-ins and failed ones, sign-outs, own passwords, confirms and cancels,
exports, users' and settings' changes.

``record`` adds an entry to an open unit of work, so it is committed with the change it
records or not at all; ``record_alone`` writes one in a transaction of its own, for what
changes nothing else (a failed sign-in) or what a use case commits in several steps (a
confirm or cancel, recorded with its outcome).  ``entries`` reads the log for a user with the
right ``admin``, its own merchant's only.
"""

from __future__ import annotations

from dataclasses import replace

from ..domain.audit import AuditEntry, AuditKind, AuditQuery
from ..domain.errors import PermissionDenied, Second
from ..domain.model import Right
from ..domain.ports import Clock, BackOfficeUnitOfWork
from .throttle import client_of

#: Entries on a page of the log.
PAGE_SIZE = 100


def record(uow: BackOfficeUnitOfWork, clock: Clock, merchant_id: int, login: str, client: str | None,
           kind: AuditKind, what: str = "") -> None:
    """Add an entry to the open unit of work (committed with it)."""
    uow.audit.add(AuditEntry(merchant_id, login, clock.now(), client_of(client), kind.value,
                             what))


def record_alone(uow: BackOfficeUnitOfWork, clock: Clock, merchant_id: int, login: str,
                 client: str | None, kind: AuditKind, what: str = "") -> None:
    """Write an entry in a transaction of its own."""
    with uow:
        record(uow, clock, merchant_id, login, client, kind, what)
        uow.commit()


def entries(uow: BackOfficeUnitOfWork, user, query: AuditQuery, limit: int = PAGE_SIZE
            ) -> tuple[list[AuditEntry], int | None]:
    """A page of the user's merchant's log under ``query`` (newest first) and the id to ask
    ``before`` for the next page (None: the last page).  Needs ``admin``."""
    if not user.can(Right.ADMIN):
        raise PermissionDenied(f"user {user.login} does not have the right 'admin'",
                               Second.WEB_SERVICE)
    query = replace(query, merchant_id=user.merchant_id)
    with uow.reader() as r:
        found = r.audit.find(query, limit + 1)
    more = len(found) > limit
    found = found[:limit]
    return found, (found[-1].id if more and found else None)
