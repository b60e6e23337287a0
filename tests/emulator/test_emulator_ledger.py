"""Configuration parsing and the SQLite ledger used directly (no HTTP):
center specs, amount formatting, hold expiry, bulk settlement speed."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from assist_ws.emulator import DEFAULT_CENTERS, Center, EmulatorConfig, parse_center
from assist_ws.emulator.ledger import ClientError, Ledger, format_minor


# -------------------------------------------------------------------- config
def test_defaults():
    assert DEFAULT_CENTERS == (Center("emulator-rub", "RUB", True, 7),
                               Center("emulator-usd", "USD", False, 5))
    config = EmulatorConfig("x.db")
    assert config.centers == DEFAULT_CENTERS and config.late_seconds == 25.0


@pytest.mark.parametrize("spec, expected", [
    ("emulator-eur:EUR", Center("emulator-eur", "EUR", True, 7)),
    ("bank:eur:nopartial", Center("bank", "EUR", False, 7)),
    ("bank:JPY:partial:3", Center("bank", "JPY", True, 3)),
    (" bank : KWD : NOPARTIAL : 30 ", Center("bank", "KWD", False, 30)),
])
def test_parse_center(spec, expected):
    assert parse_center(spec) == expected


@pytest.mark.parametrize("spec, words", [
    ("", "empty"),
    ("bank", "NAME:CUR"),
    ("bank:EURO", "currency"),
    ("bank:EUR:maybe", "partial"),
    ("bank:EUR:partial:x", "HOLD_DAYS"),
    ("bank:EUR:partial:0", "hold_days"),
    ("bad/name:EUR", "center name"),
    ("ledger:EUR", "reserved"),
    ("a:EUR:partial:1:extra", "NAME:CUR"),
])
def test_parse_center_errors(spec, words):
    with pytest.raises(ValueError) as exc:
        parse_center(spec)
    assert words in str(exc.value)


def test_config_rejects_duplicate_centers():
    with pytest.raises(ValueError, match="duplicate"):
        EmulatorConfig("x.db", (Center("a", "RUB"), Center("a", "USD")))


def test_center_is_frozen():
    with pytest.raises(Exception):
        DEFAULT_CENTERS[0].currency = "EUR"


@pytest.mark.parametrize("minor, currency, text", [
    (1000, "RUB", "10.00"), (5, "USD", "0.05"), (0, "EUR", "0.00"),
    (1000, "JPY", "1000"), (1234, "KWD", "1.234"), (0, "BHD", "0.000"),
])
def test_format_minor(minor, currency, text):
    assert format_minor(minor, currency) == text


# -------------------------------------------------------------------- ledger
class Clock:
    def __init__(self):
        self.now = datetime(2030, 1, 15, 12, 0, tzinfo=timezone.utc)

    def __call__(self):
        return self.now


@pytest.fixture
def ledger(tmp_path):
    clock = Clock()
    led = Ledger(str(tmp_path / "deep" / "dir" / "ledger.db"), clock=clock)
    led.test_clock = clock
    yield led
    led.close()


def _approve(ledger, center, rid, amount="10.00", currency=None):
    answer, late = ledger.authorize(center, rid, "4111111111111111", 12, 2031, "A B", "123",
                                    Decimal(amount), currency or center.currency)
    assert answer["status"] == "approved" and not late
    return answer


def test_parent_directories_are_created(ledger, tmp_path):
    assert (tmp_path / "deep" / "dir" / "ledger.db").exists()


def test_other_exponents(ledger):
    yen, dinar = Center("yen", "JPY"), Center("dinar", "KWD")
    assert _approve(ledger, yen, "y1", "500")["amount"] == "500"
    assert _approve(ledger, dinar, "d1", "1.5")["amount"] == "1.500"
    with pytest.raises(ClientError):
        _approve(ledger, yen, "y2", "1.5")
    snap = ledger.snapshot([yen, dinar])
    assert snap["centers"]["yen"]["held"] == "500"
    assert snap["centers"]["dinar"]["held"] == "1.500"
    assert snap["centers"]["dinar"]["authorizations"][0]["amount"] == "1.500"


def test_hold_expires_after_hold_days(ledger):
    center = Center("bank", "RUB", hold_days=2)
    _approve(ledger, center, "a1")
    _approve(ledger, center, "a2")
    ledger.test_clock.now += timedelta(days=1)
    assert ledger.snapshot([center])["centers"]["bank"]["held"] == "20.00"
    ledger.test_clock.now += timedelta(days=1, seconds=1)
    assert ledger.snapshot([center])["centers"]["bank"]["held"] == "0.00"
    [item] = ledger.settle(center, "b1", [("s1", "a1", Decimal("5.00"))])
    assert (item["status"], item["message"]) == ("declined", "hold expired")
    rev = ledger.reverse(center, "r1", "a2")
    assert (rev["status"], rev["message"]) == ("declined", "hold expired")
    assert [a["held"] for a in ledger.reconcile(center)] == ["0.00", "0.00"]


@pytest.mark.alone
def test_bulk_settle_is_fast(ledger):
    center = Center("bank", "RUB")
    n = 5000
    for i in range(n):
        _approve(ledger, center, f"a{i}", "3.00")
    items = [(f"s{i}", f"a{i}", Decimal("2.00")) for i in range(n)]
    started = time.perf_counter()
    results = ledger.settle(center, "big", items)
    elapsed = time.perf_counter() - started
    assert len(results) == n and all(r["status"] == "success" for r in results)
    assert elapsed < 1.0, f"settling {n} items took {elapsed:.2f}s"
    snap = ledger.snapshot([center], with_authorizations=False)["centers"]["bank"]
    assert (snap["held"], snap["settled"]) == ("0.00", "10000.00")
    # the repeat is answered from storage, also quickly and without changes
    started = time.perf_counter()
    assert ledger.settle(center, "big", items) == results
    assert time.perf_counter() - started < 1.0
    assert ledger.snapshot([center], False)["centers"]["bank"]["settled"] == "10000.00"
