"""Authorize over SOAP: every test card, validation faults, the late and the
failing card, and what the ledger stores (never the full card number)."""

from __future__ import annotations

import re
import threading
import time
from decimal import Decimal

import pytest
import requests
import zeep.exceptions


@pytest.mark.parametrize("card", [
    "4111111111111111",       # VISA
    "5555555555554444",       # MasterCard
    "2200000000000004",       # MIR
    "4000000000000127",       # approved, refunds declined later
    "4276000000000009",       # bonus program, 1000 points
    "4276000000000017",       # bonus program, 0 points
    "4242424242424242",       # any other Luhn-valid number
    "4111 1111 1111 1111",    # spaces are ignored
])
def test_approved_cards_hold_the_amount(emulator, card):
    r = emulator.authorize(card=card, amount="10.00")
    assert r.status == "approved"
    assert r.response_code == "AS000"
    assert re.fullmatch(r"\d{12}", r.reference)
    assert re.fullmatch(r"[A-Z0-9]{6}", r.approval_code)
    assert r.amount == Decimal("10.00") and r.currency == "RUB"
    auths = emulator.ledger()["centers"]["emulator-rub"]["authorizations"]
    assert len(auths) == 1
    digits = card.replace(" ", "")
    assert auths[0] == {"request_id": r.request_id, "reference": r.reference,
                        "card": digits[:6] + "******" + digits[-4:], "amount": "10.00",
                        "currency": "RUB", "held": "10.00", "settled": "0.00",
                        "refunded": "0.00"}


@pytest.mark.parametrize("card, code", [
    ("4000000000000002", "AS100"),
    ("4000000000009995", "AS102"),
    ("4000000000000069", "AS104"),
    ("4111111111111112", "AS101"),      # Luhn failure
    ("4111-1111-1111-1111", "AS101"),   # not digits
    ("41111", "AS101"),                 # too short
])
def test_declined_cards_hold_nothing(emulator, card, code):
    r = emulator.authorize(card=card)
    assert (r.status, r.response_code) == ("declined", code)
    assert r.reference is None and r.approval_code is None
    center = emulator.ledger()["centers"]["emulator-rub"]
    assert center["authorizations"] == [] and center["held"] == "0.00"
    status = emulator.service().TransactionStatus(request_id=r.request_id)
    assert (status.status, status.kind, status.response_code) == ("declined", "authorize", code)


def test_expiry_in_the_past_is_declined_but_current_month_is_fine(emulator):
    from datetime import datetime, timezone
    now = datetime.now(timezone.utc)
    last_month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    r = emulator.authorize(month=last_month[1], year=last_month[0])
    assert (r.status, r.response_code) == ("declined", "AS104")
    r = emulator.authorize(month=now.month, year=now.year)
    assert r.status == "approved"
    r = emulator.authorize(month=12, year=(now.year + 1) % 100)    # two-digit year
    assert r.status == "approved"


@pytest.mark.parametrize("kwargs, code", [
    ({"currency": "USD"}, "Client.CurrencyMismatch"),
    ({"amount": "0.00"}, "Client.InvalidAmount"),
    ({"amount": "-5.00"}, "Client.InvalidAmount"),
    ({"amount": "1.005"}, "Client.InvalidAmount"),
    ({"month": 13}, "Client.InvalidExpiry"),
])
def test_malformed_authorize_is_a_client_fault_and_records_nothing(emulator, kwargs, code):
    rid = emulator.rid()
    with pytest.raises(zeep.exceptions.Fault) as exc:
        emulator.authorize(request_id=rid, **kwargs)
    assert emulator.fault_code(exc.value) == code
    assert emulator.service().TransactionStatus(request_id=rid).status == "not_found"
    assert emulator.ledger()["centers"]["emulator-rub"]["authorizations"] == []


def test_usd_center_takes_usd_only(emulator):
    r = emulator.authorize(center="emulator-usd", amount="7.50")
    assert (r.status, r.currency, r.amount) == ("approved", "USD", Decimal("7.50"))
    with pytest.raises(zeep.exceptions.Fault) as exc:
        emulator.authorize(center="emulator-usd", currency="RUB")
    assert emulator.fault_code(exc.value) == "Client.CurrencyMismatch"
    ledger = emulator.ledger()
    assert ledger["centers"]["emulator-usd"]["held"] == "7.50"
    assert ledger["centers"]["emulator-rub"]["held"] == "0.00"


def test_system_error_card_is_a_server_fault_and_records_nothing(emulator):
    rid = emulator.rid()
    for _ in range(2):   # nothing recorded, so a retry fails the same way
        with pytest.raises(zeep.exceptions.Fault) as exc:
            emulator.authorize(card="4000000000000259", request_id=rid)
        assert emulator.fault_code(exc.value) == "Server.SystemError"
        assert exc.value.message == "system error"
    assert emulator.service().TransactionStatus(request_id=rid).status == "not_found"
    assert emulator.ledger()["centers"]["emulator-rub"]["authorizations"] == []


def test_late_card_is_recorded_before_the_delayed_answer(emulator):
    rid = emulator.rid()
    done = {}

    def call():
        started = time.monotonic()
        done["result"] = emulator.authorize(card="4000000000000119", request_id=rid)
        done["elapsed"] = time.monotonic() - started

    worker = threading.Thread(target=call)
    emulator.client()   # load the WSDL before the race
    worker.start()
    time.sleep(0.3)
    assert "result" not in done        # still waiting for the answer...
    status = emulator.service().TransactionStatus(request_id=rid)
    assert (status.status, status.kind) == ("approved", "authorize")   # ...already recorded
    assert emulator.ledger()["centers"]["emulator-rub"]["held"] == "10.00"
    worker.join(10)
    assert done["result"].status == "approved"
    assert done["elapsed"] >= 0.9
    assert done["result"].reference == status.reference
    # asking again returns the stored answer at once
    started = time.monotonic()
    again = emulator.authorize(card="4000000000000119", request_id=rid)
    assert time.monotonic() - started < 0.9
    assert again.reference == status.reference


def test_late_card_times_out_a_gateway_with_a_short_timeout(emulator):
    rid = emulator.rid()
    with pytest.raises(requests.exceptions.Timeout):
        emulator.authorize(card="4000000000000119", request_id=rid, timeout=0.3)
    assert emulator.service().TransactionStatus(request_id=rid).status == "approved"


def test_slow_answer_does_not_block_other_requests(emulator):
    emulator.client()
    worker = threading.Thread(
        target=lambda: emulator.authorize(card="4000000000000119"))
    worker.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert emulator.authorize().status == "approved"
    assert time.monotonic() - started < 0.5
    worker.join(10)


def test_card_number_and_cvc_are_never_stored(emulator):
    emulator.authorize(card="5555 5555 5555 4444", cvc="987")
    emulator.authorize(card="5555555555554444", cvc="987")
    emulator.stop()        # read the database and any WAL/SHM files left
    blobs = b"".join(p.read_bytes() for p in emulator.data_path.parent.iterdir())
    assert b"5555555555554444" not in blobs
    assert b"5555 5555 5555 4444" not in blobs
    assert b"555555******4444" in blobs
    assert b'"cvc"' not in blobs
