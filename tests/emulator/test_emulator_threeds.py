"""The emulator's 3-D Secure, on the ledger itself: an enrolled card is held only after the
ACS's result comes back through ``complete_authorization``; the ACS's result is signed and
bound to its request; an abandoned authentication is unknown to the center and, once voided,
can never be held."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assist_ws.emulator import Center
from assist_ws.emulator.ledger import ClientError, Ledger

RUB = Center("emulator-rub", "RUB", True, 7)
CHALLENGE, FRICTIONLESS, UNAVAILABLE = "4000000000003220", "4000000000003055", \
    "4000000000003097"


@pytest.fixture
def ledger(tmp_path):
    led = Ledger(str(tmp_path / "ledger.db"))
    yield led
    led.close()


def authorize(ledger, request_id, card=CHALLENGE, skip=False, amount="10.00"):
    return ledger.authorize(RUB, request_id, card, 12, 2031, "IVAN", "123", Decimal(amount),
                            "RUB", skip)[0]


def held(ledger, request_id):
    return [a for a in ledger.reconcile(RUB) if a["request_id"] == request_id]


def test_challenge_is_held_only_after_the_right_code(ledger):
    first = authorize(ledger, "r1")
    assert (first["status"], first["response_code"]) == ("authentication_required", "AS110")
    assert authorize(ledger, "r1") == first  # a repeat: the same authentication
    assert ledger.status(RUB, "r1")["status"] == "not_found" and held(ledger, "r1") == []
    assert ledger.authentication(first["authentication_id"])["status"] == "pending"
    result = ledger.authenticate(first["authentication_id"], "12345")
    done = ledger.complete_authorization(RUB, "r1", result)
    assert (done["status"], done["eci"], done["auth_result"]) == ("approved", "05", "Y")
    assert ledger.complete_authorization(RUB, "r1", result) == done  # once
    assert [a["held"] for a in held(ledger, "r1")] == ["10.00"]
    # The code cannot be answered again.
    assert ledger.authenticate(first["authentication_id"], "99999") == result


def test_a_wrong_code_declines_and_holds_nothing(ledger):
    auth_id = authorize(ledger, "r2")["authentication_id"]
    done = ledger.complete_authorization(RUB, "r2", ledger.authenticate(auth_id, "11111"))
    assert (done["status"], done["response_code"], done["auth_result"]) == \
        ("declined", "AS112", "N")
    assert held(ledger, "r2") == []


def test_a_result_not_signed_by_the_acs_or_for_another_request_is_refused(ledger):
    auth_id = authorize(ledger, "r3")["authentication_id"]
    result = ledger.authenticate(auth_id, "11111")  # N
    other = authorize(ledger, "r4")["authentication_id"]
    for bad in (result[:-4] + "AAAA", "", "x.y", result.split(".")[0]):
        with pytest.raises(ClientError):
            ledger.complete_authorization(RUB, "r3", bad)
    with pytest.raises(ClientError):  # the ACS's own result, but for r3
        ledger.complete_authorization(RUB, "r4", result)
    assert ledger.authentication(other)["status"] == "pending"
    assert ledger.status(RUB, "r3")["status"] == "not_found"


def test_an_abandoned_authentication_is_voided_and_never_held(ledger):
    auth_id = authorize(ledger, "r5")["authentication_id"]
    assert ledger.authenticate(auth_id, None) is None  # cancelled at the ACS
    assert ledger.authenticate(auth_id, "12345") is None  # too late for the code
    assert ledger.reverse(RUB, "v5", "r5")["status"] == "not_found"  # the gateway voids it
    assert held(ledger, "r5") == []


def test_frictionless_unavailable_and_skipped(ledger):
    assert (authorize(ledger, "f1", FRICTIONLESS)["eci"]) == "05"
    down = authorize(ledger, "u1", UNAVAILABLE)
    assert (down["status"], down["response_code"]) == ("declined", "AS111")
    skipped = authorize(ledger, "u1", UNAVAILABLE, skip=True)  # the same id, without 3-DS
    assert (skipped["status"], skipped["eci"], skipped["auth_result"]) == ("approved", "07", "U")
    plain = authorize(ledger, "c1", CHALLENGE, skip=True)
    assert plain["status"] == "approved" and held(ledger, "c1")


def test_a_passed_authentication_returned_after_the_void_is_declined(ledger):
    auth_id = authorize(ledger, "r6")["authentication_id"]
    result = ledger.authenticate(auth_id, "12345")
    ledger.reverse(RUB, "v6", "r6")  # the buyer took too long: the gateway voided it
    done = ledger.complete_authorization(RUB, "r6", result)
    assert (done["status"], done["message"]) == ("declined", "voided")
    assert held(ledger, "r6") == []
