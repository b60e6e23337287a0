"""Integration fixtures: each backend (SQLite, PostgreSQL) gets its own migrated database and
its own emulator process for the whole session; every test ends with a reconciliation of the
emulator's ledger against the gateway's records."""

from __future__ import annotations

import uuid

import pytest

from assist_ws.bootstrap import build
from assist_ws.config import Settings
from assist_ws.db.migrate import upgrade
from assist_ws.domain.model import Right
from assist_ws.services import admin
from assist_ws.services.orders import AuthorizationRequest, create_order

from ..support import (Emulator, MovableClock, Reconciler, create_pg_database, drop_pg_database,
                       require_postgres)

MERCHANT = 100001          # RUB -> emulator-rub, USD -> emulator-usd, two-stage
RUB_ONLY = 100002          # RUB and USD accepted, only a RUB center: USD is converted
BONUS = 100003             # RUB -> emulator-rub, two-stage, bonus program, 1 point per 100
TIMEOUT = 1.5              # gateway's read timeout; the emulator answers 0119 after 3 s


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql",
                                                               marks=pytest.mark.postgres)])
def backend(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    pg_name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp}/assist.db"
    else:
        require_postgres()
        url, pg_name = create_pg_database()
    upgrade(url)
    emulator = Emulator(str(tmp / "emulator.db"), late_seconds=2 * TIMEOUT).start()
    clock = MovableClock()
    # The tests' merchants' servers listen on 127.0.0.1, on any port.
    container = build(Settings(database_url=url, secret_key="test-secret",
                               processing_timeout=TIMEOUT, processing_connect_timeout=2,
                               resolve_grace=0, var_dir=str(tmp), notify_ports="*",
                               notify_allow_private=True), clock=clock)
    for name, cur, partial, days in admin.DEMO_CENTERS:
        admin.add_center(container.uow, name, f"{emulator.url}/{name}?wsdl", cur,
                         partial_reversal=partial, hold_days=days,
                         bonus_program=name in admin.DEMO_BONUS_CENTERS)
    admin.save_merchant(container.uow, MERCHANT, admin.MerchantSettings(
        name="Shop", currencies=("RUB", "USD"), two_stage=True, secret_word="s3cret",
        processing=(("RUB", "emulator-rub"), ("USD", "emulator-usd"))), create=True)
    admin.save_merchant(container.uow, RUB_ONLY, admin.MerchantSettings(
        name="Rouble shop", currencies=("RUB", "USD"), processing=(("RUB", "emulator-rub"),)),
        create=True)
    admin.save_merchant(container.uow, BONUS, admin.MerchantSettings(
        name="Bonus shop", currencies=("RUB",), two_stage=True,
        processing=(("RUB", "emulator-rub"),), bonus_program=True, accrual_rate="1"),
        create=True)
    admin.add_user(container.uow, MERCHANT, "erp_user", "Passw0rd1", list(Right))
    admin.set_rate(container.uow, clock, "USD", "RUB", "90.50")
    yield container, emulator, request.param
    container.close()
    emulator.stop()
    if pg_name:
        drop_pg_database(pg_name)


@pytest.fixture(scope="session")
def reconciler(backend):
    return Reconciler(backend[0], backend[1])


@pytest.fixture
def gw(backend, reconciler):
    """The gateway (a container with the real database and emulator); after the test, the
    emulator's ledger must reconcile with the gateway's records (those that changed since the
    previous reconciliation: the others did)."""
    container = backend[0]
    container.clock.reset()
    yield container
    container.clock.reset()
    reconciler()


@pytest.fixture
def emulator(backend):
    return backend[1]


@pytest.fixture
def dialect(backend):
    return backend[2]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path):
    """A database URL with no schema yet, on each backend (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/migrate.db"
        return
    require_postgres()
    url, name = create_pg_database()
    yield url
    drop_pg_database(name)


def new_order(container, amount="100.00", currency="RUB", delay=False, merchant=MERCHANT):
    return create_order(container.uow, container.clock, AuthorizationRequest(
        str(merchant), "ORD-" + uuid.uuid4().hex[:12], amount, currency,
        delay="1" if delay else "0"))
