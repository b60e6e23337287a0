"""Bonus-program operations over SOAP."""

from __future__ import annotations

import pytest
import zeep.exceptions

RICH = "4276000000000009"     # enrolled, 1000 points
POOR = "4276 0000 0000 0017"  # enrolled, 0 points (spaces are ignored)
PLAIN = "4111111111111111"    # not enrolled


def _points(emulator, card):
    return emulator.service().PointsBalance(card_number=card)


def test_balance_of_enrolled_and_other_cards(emulator):
    rich, poor, plain = (_points(emulator, c) for c in (RICH, POOR, PLAIN))
    assert (rich.enrolled, rich.points) == (True, 1000)
    assert (poor.enrolled, poor.points) == (True, 0)
    assert (plain.enrolled, plain.points) == (False, 0)
    # authorizing does not reset the balance
    emulator.authorize(card=RICH)
    assert _points(emulator, RICH).points == 1000


def test_pay_and_return_points(emulator):
    svc = emulator.service()
    pay = svc.PayWithPoints(request_id=emulator.rid("pay"), card_number=RICH, points=300)
    assert (pay.status, pay.response_code) == ("success", "AS000") and pay.reference
    assert _points(emulator, RICH).points == 700
    # idempotent
    assert svc.PayWithPoints(request_id=pay.request_id, card_number=RICH, points=300) == pay
    assert _points(emulator, RICH).points == 700
    too_much = svc.PayWithPoints(request_id=emulator.rid("pay"), card_number=RICH, points=701)
    assert (too_much.status, too_much.response_code) == ("declined", "AS102")
    not_enrolled = svc.PayWithPoints(request_id=emulator.rid("pay"), card_number=PLAIN,
                                     points=1)
    assert not_enrolled.status == "declined"

    ret = svc.ReturnPoints(request_id=emulator.rid("ret"), payment_request_id=pay.request_id,
                           points=200)
    assert ret.status == "success"
    assert _points(emulator, RICH).points == 900
    over = svc.ReturnPoints(request_id=emulator.rid("ret"), payment_request_id=pay.request_id,
                            points=101)
    assert over.status == "declined"
    last = svc.ReturnPoints(request_id=emulator.rid("ret"), payment_request_id=pay.request_id,
                            points=100)
    assert last.status == "success"
    assert _points(emulator, RICH).points == 1000
    missing = svc.ReturnPoints(request_id=emulator.rid("ret"), payment_request_id="nope",
                               points=1)
    assert missing.status == "not_found"


def test_accrue_and_cancel_accrual(emulator):
    svc = emulator.service()
    acc = svc.AccruePoints(request_id=emulator.rid("acc"),
                           authorization_request_id=emulator.authorize(card=POOR).request_id,
                           points=50)
    assert acc.status == "success"
    assert _points(emulator, POOR).points == 50
    over = svc.CancelAccrual(request_id=emulator.rid("can"), accrual_request_id=acc.request_id,
                             points=51)
    assert over.status == "declined"
    ok = svc.CancelAccrual(request_id=emulator.rid("can"), accrual_request_id=acc.request_id,
                           points=20)
    assert ok.status == "success"
    assert _points(emulator, POOR).points == 30
    # only what is left of that accrual can be cancelled
    rest = svc.CancelAccrual(request_id=emulator.rid("can"),
                             accrual_request_id=acc.request_id, points=31)
    assert rest.status == "declined"
    # a points payment is not an accrual
    pay = svc.PayWithPoints(request_id=emulator.rid("pay"), card_number=POOR, points=5)
    wrong = svc.CancelAccrual(request_id=emulator.rid("can"), accrual_request_id=pay.request_id,
                              points=1)
    assert wrong.status == "not_found"
    not_enrolled = svc.AccruePoints(
        request_id=emulator.rid("acc"),
        authorization_request_id=emulator.authorize(card=PLAIN).request_id, points=5)
    assert (not_enrolled.status, not_enrolled.response_code) == ("declined", "AS105")
    unknown = svc.AccruePoints(request_id=emulator.rid("acc"),
                               authorization_request_id="no-such-authorization", points=5)
    assert unknown.status == "not_found"
    assert _points(emulator, PLAIN).enrolled is False


def test_points_status_kinds_and_ledger_cards(emulator):
    svc = emulator.service()
    pay = svc.PayWithPoints(request_id=emulator.rid("pay"), card_number=RICH, points=10)
    acc = svc.AccruePoints(request_id=emulator.rid("acc"),
                           authorization_request_id=emulator.authorize(card=RICH).request_id,
                           points=4)
    can = svc.CancelAccrual(request_id=emulator.rid("can"), accrual_request_id=acc.request_id,
                            points=4)
    ret = svc.ReturnPoints(request_id=emulator.rid("ret"), payment_request_id=pay.request_id,
                           points=10)
    kinds = {pay.request_id: "points_pay", acc.request_id: "points_accrue",
             can.request_id: "points_cancel_accrual", ret.request_id: "points_return"}
    for rid, kind in kinds.items():
        st = svc.TransactionStatus(request_id=rid)
        assert (st.status, st.kind) == ("success", kind)
    svc.PayWithPoints(request_id=emulator.rid("pay"), card_number=RICH, points=1)
    assert emulator.ledger()["cards"] == [
        {"card": "427600******0009", "points": 999, "paid": 11, "returned": 10,
         "accrued": 4, "cancelled": 4},
        {"card": "427600******0017", "points": 0, "paid": 0, "returned": 0, "accrued": 0,
         "cancelled": 0}]


def test_points_must_be_positive_and_ids_not_reused(emulator):
    svc = emulator.service()
    with pytest.raises(zeep.exceptions.Fault) as exc:
        svc.PayWithPoints(request_id=emulator.rid(), card_number=RICH, points=0)
    assert emulator.fault_code(exc.value) == "Client.InvalidPoints"
    rid = emulator.rid()
    svc.AccruePoints(request_id=rid,
                     authorization_request_id=emulator.authorize(card=RICH).request_id,
                     points=1)
    with pytest.raises(zeep.exceptions.Fault) as exc:
        svc.PayWithPoints(request_id=rid, card_number=RICH, points=1)
    assert emulator.fault_code(exc.value) == "Client.RequestIdReused"
    assert _points(emulator, RICH).points == 1001


def test_a_points_payment_returned_before_it_arrived_is_voided(emulator):
    """A ReturnPoints for a payment the center never saw leaves a tombstone: the payment,
    arriving late, is declined and takes nothing."""
    svc = emulator.service()
    rid = emulator.rid("late")
    missing = svc.ReturnPoints(request_id=emulator.rid("ret"), payment_request_id=rid,
                               points=5)
    assert missing.status == "not_found"
    late = svc.PayWithPoints(request_id=rid, card_number=RICH, points=5)
    assert (late.status, late.message) == ("declined", "voided")
    assert _points(emulator, RICH).points == 1000
