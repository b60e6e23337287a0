"""The reconciliation that ends every integration test looks again only at what changed since
the previous one, and still finds a difference wherever it is: in an order the test did not
make, in the center's entry of an authorization no gateway record changed, or in an entry the
gateway does not know.  (The differences are made by hand, behind the gateway's back, and
undone before the test ends.)"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from sqlalchemy import text

from assist_ws.domain.cards import parse_card

from ..support import Reconciler
from .conftest import new_order


def paid(gw):
    order = new_order(gw)
    gw.pay_by_card(order.bill_number, parse_card("4111111111111111", "12", "2030",
                                                 "TEST HOLDER", "123", gw.clock.now()))
    with gw.uow.reader() as uow:
        return uow.orders.get(order.bill_number)


def change_operation(gw, bill, delta):
    with gw.engine.begin() as conn:
        conn.execute(text("UPDATE operations SET amount = amount + :d WHERE order_id = "
                          "(SELECT id FROM orders WHERE bill_number = :b)"),
                     {"d": delta, "b": bill})


def change_entry(emulator, sql, *params):
    with closing(sqlite3.connect(emulator.data_path, timeout=30)) as conn, conn:
        conn.execute(sql, params)


def test_a_difference_is_found_wherever_it_was_made(gw, emulator):
    old = paid(gw)
    rid = old.card_payment.authorization.request_id
    reconcile = Reconciler(gw, emulator)
    reconcile()                      # everything, the first time
    paid(gw)                         # a later order, reconciled alongside the old one
    reconcile()

    change_operation(gw, old.bill_number, 1)  # the gateway's record of an old order
    try:
        with pytest.raises(AssertionError, match=rid):
            reconcile()
    finally:
        change_operation(gw, old.bill_number, -1)
    reconcile()                      # undone: a change again, and found to agree

    change_entry(emulator, "UPDATE authorizations SET settled = settled + 100 "
                           "WHERE request_id = ?", rid)  # only the center's entry
    try:
        with pytest.raises(AssertionError, match=rid):
            reconcile()
    finally:
        change_entry(emulator, "UPDATE authorizations SET settled = settled - 100 "
                               "WHERE request_id = ?", rid)
    reconcile()

    change_entry(emulator, "INSERT INTO authorizations SELECT center, 'stranger-' || "
                           "request_id, reference, card_mask, card_fingerprint, currency, "
                           "amount, held, settled, refunded, created_at, hold_expires_at "
                           "FROM authorizations WHERE request_id = ?", rid)
    try:
        with pytest.raises(AssertionError, match="the gateway does not know"):
            reconcile()
    finally:
        change_entry(emulator, "DELETE FROM authorizations WHERE request_id = ?",
                     "stranger-" + rid)
    reconcile()


def test_an_order_whose_rows_did_not_change_is_not_read_again(gw, emulator, monkeypatch):
    paid(gw)
    reconcile = Reconciler(gw, emulator)
    reconcile()
    loaded = []
    original = Reconciler._load
    monkeypatch.setattr(Reconciler, "_load",
                        lambda self, ids: loaded.extend(ids) or original(self, ids))
    new = paid(gw)
    reconcile()
    assert loaded == [new.id]
