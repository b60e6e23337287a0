"""A merchant's customer settings in the database, on SQLite and PostgreSQL: saved by the
admin use case and read back by both units of work (the ORM one and the payment pages'),
bad names refused without a change, and the migration that gives existing merchants none
asked and the shop's data read-only."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import create_engine, inspect, text

from assist_ws.db.migrate import upgrade
from assist_ws.domain.errors import ValidationError
from assist_ws.services import admin



def settings(gw, mid):
    """(asked, required, editable) as each unit of work reads them."""
    found = []
    for uow in (gw.uow, gw.pages_uow):
        with uow.reader() as r:
            m = r.merchants.get(mid)
            found.append((m.customer_fields, m.customer_required, m.customer_editable))
    assert found[0] == found[1]
    return found[0]


def test_settings_are_saved_and_read_by_both_units_of_work(gw):
    mid = random.randint(300000, 2_000_000_000)
    admin.save_merchant(gw.uow, mid, admin.MerchantSettings(
        name="Asking shop", currencies=("RUB",), processing=(("RUB", "emulator-rub"),)),
        create=True)
    assert settings(gw, mid) == ([], [], False)
    admin.save_merchant(gw.uow, mid, admin.MerchantSettings(
        customer_fields="email,lastname,firstname,MobilePhone", customer_required="email,zip",
        customer_editable=True), create=False)
    assert settings(gw, mid) == (["lastname", "firstname", "email", "mobilephone", "zip"],
                                 ["email", "zip"], True)
    with pytest.raises(ValidationError) as refused:
        admin.save_merchant(gw.uow, mid, admin.MerchantSettings(
            name="Renamed", customer_fields="email,surname"), create=False)
    assert "unknown customer field(s) surname" in refused.value.message
    with gw.uow.reader() as r:
        assert r.merchants.get(mid).name == "Asking shop"
    assert settings(gw, mid)[0] == ["lastname", "firstname", "email", "mobilephone", "zip"]


def test_the_migration_gives_existing_merchants_nothing_asked(empty_database):
    from assist_ws.db.engine import normalize_url
    upgrade(empty_database, "0007")
    engine = create_engine(normalize_url(empty_database))
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO merchants (merchant_id, name, base_currency, currencies, "
                "test_mode, timeout_minutes, check_order_code, legacy_checkvalue, two_stage, "
                "payment_means, processing, bonus_program, notify_protocol, notify_results, "
                "notify_only_success, notify_expected_reply, active) VALUES (5, 'Shop', "
                "'RUB', '[\"RUB\"]', false, 20, false, false, false, '[]', '{}', false, "
                "'post', '[]', false, 'http200', true)"))
            conn.execute(text(
                "INSERT INTO merchant_users (merchant_id, login, password_hash, rights, "
                "active) VALUES (5, 'erp', 'h', '[\"admin\"]', true)"))
        upgrade(empty_database, "head")
        columns = {c["name"] for c in inspect(engine).get_columns("merchants")}
        assert {"customer_fields", "customer_required", "customer_editable"} <= columns
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT name, customer_fields, customer_required, customer_editable "
                "FROM merchants")).one()
            assert conn.execute(text("SELECT login FROM merchant_users")).scalars().all() \
                == ["erp"]
        name, asked, required, editable = row
        assert name == "Shop" and not editable
        assert [asked, required] in (["[]", "[]"], [[], []])  # JSON text or a parsed list
    finally:
        engine.dispose()
