"""Running Alembic from Python: ``upgrade(url)`` brings a database to the newest schema."""

from __future__ import annotations

import os

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL

from .engine import normalize_url

MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")


def alembic_config(url: str | URL) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    cfg.set_main_option("sqlalchemy.url",
                        normalize_url(url).render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def upgrade(url: str | URL, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def current(url: str | URL) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from .engine import make_engine
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
