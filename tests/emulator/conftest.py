"""Fixtures for the processing-center emulator tests.

``emulator`` starts a real emulator (threaded wsgiref server on port 0, temp
SQLite file, ``late_seconds=1``) and hands back an :class:`EmulatorHandle` with
zeep clients built from the served WSDL, a ``/ledger`` reader and restart.
Test modules get every helper through that fixture (nothing is imported from
this file, so it cannot clash with other directories' conftest modules).
"""

from __future__ import annotations

import itertools
import threading
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import requests
import zeep
import zeep.exceptions
from zeep.transports import Transport

from assist_ws.emulator import EmulatorConfig, make_server

NEXT_YEAR = datetime.now(timezone.utc).year + 1
_ids = itertools.count(1)


class EmulatorHandle:
    """A running emulator plus helpers to talk to it."""

    def __init__(self, data_path: Path, late_seconds: float = 1.0):
        self.data_path = data_path
        self.late_seconds = late_seconds
        self._clients: dict[tuple[str, float | None], zeep.Client] = {}
        self.server = None
        self.thread = None
        self.start()

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        config = EmulatorConfig(str(self.data_path), late_seconds=self.late_seconds)
        self.server = make_server(config, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()
        self._clients.clear()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)
            self.server = None

    def restart(self) -> None:
        self.stop()
        self.start()

    # -- access ------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.server.server_port

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, center: str = "emulator-rub", timeout: float | None = None) -> zeep.Client:
        key = (center, timeout)
        if key not in self._clients:
            transport = Transport(operation_timeout=timeout) if timeout else Transport()
            self._clients[key] = zeep.Client(f"{self.base}/{center}?wsdl",
                                             transport=transport)
        return self._clients[key]

    def service(self, center: str = "emulator-rub", timeout: float | None = None):
        return self.client(center, timeout).service

    def ledger(self, query: str = "") -> dict:
        resp = requests.get(f"{self.base}/ledger{query}", timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()

    # -- helpers -----------------------------------------------------------
    next_year = NEXT_YEAR

    @staticmethod
    def rid(prefix: str = "r") -> str:
        """A request id unique within the test session."""
        return f"{prefix}-{next(_ids):06d}"

    @staticmethod
    def fault_code(exc: zeep.exceptions.Fault) -> str:
        """The faultcode without its namespace prefix, e.g. ``Client.InvalidAmount``."""
        return (exc.code or "").split(":", 1)[-1]

    def authorize(self, card: str = "4111111111111111", amount: str = "10.00",
                  center: str = "emulator-rub", currency: str | None = None,
                  request_id: str | None = None, month: int = 12, year: int = NEXT_YEAR,
                  cvc: str = "123", timeout: float | None = None):
        currency = currency or {"emulator-rub": "RUB", "emulator-usd": "USD"}[center]
        return self.service(center, timeout).Authorize(
            request_id=request_id or self.rid("auth"), card_number=card,
            expire_month=month, expire_year=year, cardholder="IVAN IVANOV", cvc=cvc,
            amount=Decimal(amount), currency=currency)

    def settle(self, items, center: str = "emulator-rub", batch_id: str | None = None):
        return self.service(center).Settle(
            batch_id=batch_id or self.rid("batch"),
            items={"SettlementItem": [
                {"request_id": rid, "authorization_request_id": aid, "amount": Decimal(amt)}
                for rid, aid, amt in items]})


@pytest.fixture
def emulator(tmp_path):
    handle = EmulatorHandle(tmp_path / "data" / "emulator.db")
    try:
        yield handle
    finally:
        handle.stop()

