"""The migrations create exactly the mapped tables, and the mapping keeps money exact and
times in UTC on both databases."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from assist_ws.db.tables import metadata


def test_migrations_match_the_mapping(gw):
    with gw.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_amounts_and_times_round_trip_exactly(gw):
    from assist_ws.domain.model import CurrencyRate
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    with gw.uow as uow:
        uow.rates.add(CurrencyRate("KWD", "JPY", Decimal("123456789.0123456789"), when))
        uow.commit()
    with gw.uow.reader() as uow:
        rate = uow.rates.get("KWD", "JPY")
        assert rate.rate == Decimal("123456789.0123456789")
        assert rate.updated_at == when and rate.updated_at.tzinfo is not None
    with gw.uow as uow:
        uow.session.execute(text("DELETE FROM currency_rates WHERE source = 'KWD'"))
        uow.commit()
