"""Reverse, Settle, Refund, idempotency and TransactionStatus over SOAP."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import zeep.exceptions


def _auth(emulator, center="emulator-rub", amount="10.00", card="4111111111111111"):
    r = emulator.authorize(center=center, amount=amount, card=card)
    assert r.status == "approved"
    return r.request_id


def _held(emulator, center="emulator-rub"):
    return emulator.ledger()["centers"][center]


def _items(result):
    return result["items"]["SettlementItemResult"]


# --------------------------------------------------------------- idempotency
def test_repeated_authorize_returns_the_stored_answer_and_holds_once(emulator):
    rid = emulator.rid()
    first = emulator.authorize(request_id=rid, amount="12.34")
    again = emulator.authorize(request_id=rid, amount="12.34")
    assert again == first           # same reference, same approval code
    center = _held(emulator)
    assert len(center["authorizations"]) == 1 and center["held"] == "12.34"


def test_repeat_differing_only_in_cvc_gets_the_stored_answer(emulator):
    # nothing derived from the CVC is stored, so it cannot be compared
    rid = emulator.rid()
    first = emulator.authorize(request_id=rid, cvc="123")
    assert emulator.authorize(request_id=rid, cvc="999") == first
    assert len(_held(emulator)["authorizations"]) == 1


def test_repeated_declined_authorize_stays_declined(emulator):
    rid = emulator.rid()
    first = emulator.authorize(request_id=rid, card="4000000000009995")
    assert emulator.authorize(request_id=rid, card="4000000000009995") == first


@pytest.mark.parametrize("change", [
    {"amount": "12.35"}, {"card": "5555555555554444"}, {"month": 11}, {"year": 2099},
])
def test_request_id_reused_with_other_parameters_is_a_client_fault(emulator, change):
    rid = emulator.rid()
    emulator.authorize(request_id=rid, amount="12.34")
    with pytest.raises(zeep.exceptions.Fault) as exc:
        emulator.authorize(request_id=rid, **{"amount": "12.34", **change})
    assert emulator.fault_code(exc.value) == "Client.RequestIdReused"
    assert "request_id reused with other parameters" in exc.value.message
    assert _held(emulator)["held"] == "12.34"


def test_request_id_reused_by_another_operation_is_a_client_fault(emulator):
    aid = _auth(emulator)
    svc = emulator.service()
    with pytest.raises(zeep.exceptions.Fault) as exc:
        svc.Reverse(request_id=aid, authorization_request_id=aid)
    assert emulator.fault_code(exc.value) == "Client.RequestIdReused"
    rev = emulator.rid()
    svc.Reverse(request_id=rev, authorization_request_id=aid, amount=Decimal("1.00"))
    with pytest.raises(zeep.exceptions.Fault):
        svc.Refund(request_id=rev, authorization_request_id=aid, amount=Decimal("1.00"))
    with pytest.raises(zeep.exceptions.Fault):   # same op, amount now omitted
        svc.Reverse(request_id=rev, authorization_request_id=aid)
    assert _held(emulator)["held"] == "9.00"


# ------------------------------------------------------------------- reverse
def test_partial_then_full_reverse_on_rub(emulator):
    aid = _auth(emulator)
    svc = emulator.service()
    r = svc.Reverse(request_id=emulator.rid(), authorization_request_id=aid,
                    amount=Decimal("3.50"))
    assert (r.status, r.response_code) == ("success", "AS000") and r.reference
    assert _held(emulator)["held"] == "6.50"
    too_much = svc.Reverse(request_id=emulator.rid(), authorization_request_id=aid,
                           amount=Decimal("7.00"))
    assert too_much.status == "declined" and too_much.reference is None
    assert _held(emulator)["held"] == "6.50"
    rest = svc.Reverse(request_id=emulator.rid(), authorization_request_id=aid)
    assert rest.status == "success"
    status = svc.TransactionStatus(request_id=rest.request_id)
    assert (status.kind, status.amount, status.currency) == ("reverse", Decimal("6.50"), "RUB")
    assert _held(emulator)["held"] == "0.00"
    nothing = svc.Reverse(request_id=emulator.rid(), authorization_request_id=aid)
    assert nothing.status == "declined"


def test_partial_reverse_refused_on_usd_full_reverse_allowed(emulator):
    aid = _auth(emulator, center="emulator-usd", amount="20.00")
    svc = emulator.service("emulator-usd")
    r = svc.Reverse(request_id=emulator.rid(), authorization_request_id=aid,
                    amount=Decimal("5.00"))
    assert r.status == "declined" and r.message == "partial reversal not supported"
    assert _held(emulator, "emulator-usd")["held"] == "20.00"
    r = svc.Reverse(request_id=emulator.rid(), authorization_request_id=aid,
                    amount=Decimal("20.00"))      # the whole hold is not partial
    assert r.status == "success"
    assert _held(emulator, "emulator-usd")["held"] == "0.00"


def test_reverse_not_found_voids_a_late_authorize(emulator):
    aid = emulator.rid("lost")
    svc = emulator.service()
    r = svc.Reverse(request_id=emulator.rid(), authorization_request_id=aid)
    assert (r.status, r.reference) == ("not_found", None)
    late = emulator.authorize(request_id=aid)
    assert (late.status, late.response_code, late.message) == ("declined", "AS100", "voided")
    assert late.reference is None
    assert _held(emulator)["authorizations"] == []
    assert svc.TransactionStatus(request_id=aid).status == "declined"
    # voiding is per center
    assert emulator.authorize(center="emulator-usd", request_id=aid).status == "approved"


def test_reverse_amount_must_be_positive(emulator):
    aid = _auth(emulator)
    with pytest.raises(zeep.exceptions.Fault) as exc:
        emulator.service().Reverse(request_id=emulator.rid(), authorization_request_id=aid,
                                   amount=Decimal("0"))
    assert emulator.fault_code(exc.value) == "Client.InvalidAmount"


# -------------------------------------------------------------------- settle
def test_settle_moves_amount_and_releases_the_rest(emulator):
    a1, a2, a3 = _auth(emulator, amount="10.00"), _auth(emulator, amount="5.00"), \
        _auth(emulator, amount="1.00")
    s1, s2, s3, s4 = (emulator.rid("s") for _ in range(4))
    result = emulator.settle([(s1, a1, "7.00"), (s2, a2, "5.00"), (s3, a3, "2.00"),
                              (s4, "no-such-auth", "1.00")])
    items = _items(result)
    assert [(i.request_id, i.status) for i in items] == [
        (s1, "success"), (s2, "success"), (s3, "declined"), (s4, "not_found")]
    center = _held(emulator)
    assert (center["held"], center["settled"]) == ("1.00", "12.00")
    by_id = {a["request_id"]: a for a in center["authorizations"]}
    assert (by_id[a1]["held"], by_id[a1]["settled"]) == ("0.00", "7.00")
    assert (by_id[a3]["held"], by_id[a3]["settled"]) == ("1.00", "0.00")


def test_settle_is_idempotent_per_item(emulator):
    a1, a2 = _auth(emulator), _auth(emulator)
    s1, s2 = emulator.rid("s"), emulator.rid("s")
    first = _items(emulator.settle([(s1, a1, "10.00")]))
    # the same item again plus a new one: the old one is answered from storage
    second = _items(emulator.settle([(s1, a1, "10.00"), (s2, a2, "4.00")]))
    assert second[0] == first[0] and second[0].status == "success"
    assert second[1].status == "success"
    assert _held(emulator)["settled"] == "14.00"
    # a second settlement of a settled authorization is declined
    again = _items(emulator.settle([(emulator.rid("s"), a1, "1.00")]))
    assert again[0].status == "declined"
    assert _held(emulator)["settled"] == "14.00"
    # reusing an item's request_id with another amount faults the whole batch
    s3 = emulator.rid("s")
    with pytest.raises(zeep.exceptions.Fault) as exc:
        emulator.settle([(s3, a2, "1.00"), (s1, a1, "9.00")])
    assert emulator.fault_code(exc.value) == "Client.RequestIdReused"
    assert emulator.service().TransactionStatus(request_id=s3).status == "not_found"


def test_same_authorization_twice_in_one_batch_settles_once(emulator):
    aid = _auth(emulator)
    items = _items(emulator.settle([(emulator.rid("s"), aid, "3.00"),
                                    (emulator.rid("s"), aid, "3.00")]))
    assert [i.status for i in items] == ["success", "declined"]
    assert _held(emulator)["settled"] == "3.00"


def test_concurrent_settles_never_settle_twice(emulator):
    aids = [_auth(emulator, amount="1.00") for _ in range(20)]
    emulator.client()
    results, errors = [], []

    def run():
        try:
            results.append(_items(emulator.settle(
                [(emulator.rid("c"), a, "1.00") for a in aids])))
        except Exception as exc:   # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    successes = sum(i.status == "success" for r in results for i in r)
    assert successes == len(aids)
    assert _held(emulator)["settled"] == "20.00"


def test_settle_empty_batch_and_bad_amount(emulator):
    result = emulator.service().Settle(batch_id=emulator.rid("b"), items={})
    assert not (result["items"] and result["items"]["SettlementItemResult"])
    aid = _auth(emulator)
    with pytest.raises(zeep.exceptions.Fault) as exc:
        emulator.settle([(emulator.rid("s"), aid, "1.001")])
    assert emulator.fault_code(exc.value) == "Client.InvalidAmount"
    assert _held(emulator)["settled"] == "0.00"


def test_large_settle_batch(emulator):
    import sqlite3
    import time
    # seed the ledger through the SOAP service once, then clone rows in SQL
    aid = _auth(emulator, amount="2.00")
    emulator.stop()
    with sqlite3.connect(emulator.data_path) as db:
        row = db.execute("SELECT * FROM authorizations WHERE request_id = ?", (aid,)).fetchone()
        db.executemany(
            "INSERT INTO authorizations VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [(row[0], f"bulk-{n}", str(500_000_000_000 + n), *row[3:]) for n in range(2000)])
    emulator.start()
    items = [(f"bulk-s-{n}", f"bulk-{n}", "1.50") for n in range(2000)]
    emulator.client()
    started = time.monotonic()
    result = _items(emulator.settle(items))
    elapsed = time.monotonic() - started
    assert len(result) == 2000 and all(i.status == "success" for i in result)
    center = emulator.ledger("?summary=1")["centers"]["emulator-rub"]
    assert (center["held"], center["settled"]) == ("2.00", "3000.00")
    assert elapsed < 5, elapsed   # generous: includes zeep's own XML work


# -------------------------------------------------------------------- refund
def test_refund_limits(emulator):
    aid = _auth(emulator)
    svc = emulator.service()
    before = svc.Refund(request_id=emulator.rid(), authorization_request_id=aid,
                        amount=Decimal("1.00"))
    assert before.status == "declined"          # nothing settled yet
    emulator.settle([(emulator.rid("s"), aid, "8.00")])
    r1 = svc.Refund(request_id=emulator.rid(), authorization_request_id=aid,
                    amount=Decimal("5.00"))
    assert (r1.status, r1.response_code) == ("success", "AS000") and r1.reference
    over = svc.Refund(request_id=emulator.rid(), authorization_request_id=aid,
                      amount=Decimal("3.01"))
    assert over.status == "declined"
    r2 = svc.Refund(request_id=emulator.rid(), authorization_request_id=aid,
                    amount=Decimal("3.00"))
    assert r2.status == "success"
    center = _held(emulator)
    assert (center["settled"], center["refunded"]) == ("8.00", "8.00")
    missing = svc.Refund(request_id=emulator.rid(), authorization_request_id="nope",
                         amount=Decimal("1.00"))
    assert missing.status == "not_found"


def test_refund_declined_for_the_no_refund_card(emulator):
    aid = _auth(emulator, card="4000000000000127")
    emulator.settle([(emulator.rid("s"), aid, "10.00")])
    r = emulator.service().Refund(request_id=emulator.rid(), authorization_request_id=aid,
                                  amount=Decimal("1.00"))
    assert (r.status, r.response_code) == ("declined", "AS100")
    assert _held(emulator)["refunded"] == "0.00"


# -------------------------------------------------------------------- status
def test_transaction_status_of_each_kind(emulator):
    svc = emulator.service()
    aid = _auth(emulator, amount="10.00")
    st = svc.TransactionStatus(request_id=aid)
    assert (st.status, st.kind, st.response_code, st.amount, st.currency) == \
        ("approved", "authorize", "AS000", Decimal("10.00"), "RUB")
    assert st.reference
    rev = svc.Reverse(request_id=emulator.rid(), authorization_request_id=aid,
                      amount=Decimal("2.00"))
    sid = emulator.rid("s")
    emulator.settle([(sid, aid, "8.00")])
    ref = svc.Refund(request_id=emulator.rid(), authorization_request_id=aid,
                     amount=Decimal("1.00"))
    nf = svc.Reverse(request_id=emulator.rid(), authorization_request_id="ghost")
    expected = {rev.request_id: ("success", "reverse", Decimal("2.00")),
                sid: ("success", "settle", Decimal("8.00")),
                ref.request_id: ("success", "refund", Decimal("1.00")),
                nf.request_id: ("not_found", "reverse", None)}
    for rid, (status, kind, amount) in expected.items():
        st = svc.TransactionStatus(request_id=rid)
        assert (st.status, st.kind, st.amount) == (status, kind, amount), rid
    unknown = svc.TransactionStatus(request_id="never-seen")
    assert (unknown.status, unknown.kind) == ("not_found", None)
    # request ids are per center
    assert emulator.service("emulator-usd").TransactionStatus(
        request_id=aid).status == "not_found"


def test_reconcile_lists_this_centers_authorizations(emulator):
    aid = _auth(emulator, amount="10.00")
    _auth(emulator, center="emulator-usd", amount="3.00")
    emulator.settle([(emulator.rid("s"), aid, "4.00")])
    result = emulator.service().Reconcile()
    rows = result["LedgerAuthorization"]
    assert len(rows) == 1
    row = rows[0]
    assert (row.request_id, row.card, row.amount, row.held, row.settled, row.refunded) == \
        (aid, "411111******1111", Decimal("10.00"), Decimal("0.00"), Decimal("4.00"),
         Decimal("0.00"))
