"""What a server process forked from a parent that loaded the application (gunicorn's
``preload_app``) does before its first query.

A connection must never be used by two processes: their messages would interleave on one
socket (PostgreSQL) or one file's locks (SQLite).  The parent is not meant to have opened
any, but whatever it has -- pools of the engines made by ``engine.make_engine``, the
connections ``uow.queries()`` keeps -- the child forgets, and opens its own.  Forgetting
is done without closing or even finalizing them: the child keeps a reference to what it
inherited for its whole life, so no rollback, close or garbage collection of the child ever
touches the parent's connections.
"""

from __future__ import annotations

from typing import Any

from . import engine as engines
from .uow import forget_kept_connections

#: What this process inherited, held and never used.
_inherited: list[Any] = []


def after_fork() -> None:
    """Call in the child right after ``fork()``, before any query."""
    for eng in engines.made():
        _inherited.append(eng.pool)
        eng.dispose(close=False)  # a new, empty pool; the old one is left alone
    _inherited.append(forget_kept_connections())
