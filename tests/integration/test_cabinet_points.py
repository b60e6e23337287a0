"""Bonus points in the merchant cabinet, over Flask's test client on SQLite and PostgreSQL
with the real emulator behind: the order card of a card + points payment, its cancel page
giving back part of the points (``.2``), part of the card payment (``.1``, the accrual
cancelled in proportion) and the rest of both (each reconciled with the emulator's ledger,
a double submit making one operation), and the bonus program's settings."""

from __future__ import annotations

import re
from decimal import Decimal

from assist_ws.domain.cards import parse_card
from assist_ws.domain.model import OperationType, Right

from .conftest import BONUS, new_order
from .test_cabinet import Browser, new_user, text
from .test_cabinet_admin import _settings, audit_rows, new_merchant
from .test_points import RICH, card_points, held, moved, ops, order_for, pay


def _form(page: str) -> dict:
    """The fields of a confirmation page's POST form."""
    form = page.split('method="post"')[-1]
    data = {name: re.search(rf'name="{name}" value="([^"]*)"', form)[1]
            for name in ("csrf", "amount", "token")}
    data["reason"] = "1"
    return data


def _cancels(gw, bill) -> list[tuple]:
    return [o for o in ops(gw, bill) if o[1] in (OperationType.CANCEL,
                                                 OperationType.ACCRUAL_CANCEL)]


def test_order_card_and_per_operation_cancels_of_card_and_points(gw, emulator):
    start = card_points(emulator)
    order = order_for(gw)
    pay(gw, order, points=300)
    bill = order.bill_number
    b = Browser(gw)
    b.sign_in(new_user(gw, [Right.MONITOR, Right.CANCEL], merchant=BONUS), merchant=BONUS)

    card = text(b.get(f"/account/orders/{bill}?lang=EN"))
    assert "SPASIBO" in card and "300 points" in card and "Points accrual" in card
    assert re.findall(r'class="button danger small op-cancel" data-bill="([^"]+)"', card) == [
        f"{bill}.1", f"{bill}.2"]

    # Part of the points: 100 of 300, submitted twice -> one return.
    page = text(b.get(f"/account/orders/{bill}.2/cancel?amount=100&lang=EN"))
    assert "100 of the 300 points paid will go back" in page
    data = _form(page)
    assert data["amount"] == "100"
    assert b.post(f"/account/orders/{bill}.2/cancel", data).status_code == 303
    assert b.post(f"/account/orders/{bill}.2/cancel", data).status_code == 303
    assert _cancels(gw, bill) == [(4, 300, "points", "Success", Decimal(100), 100)]
    assert moved(start, card_points(emulator))["returned"] == 100
    # Half a point or more than is left: said on the page, nothing done.
    assert b.get(f"/account/orders/{bill}.2/cancel?amount=1.5").status_code == 409
    assert b.get(f"/account/orders/{bill}.2/cancel?amount=201").status_code == 409

    # Part of the card payment: 200.00 of 700.00, the accrual (7) cancelled by 7*200/700.
    page = text(b.get(f"/account/orders/{bill}.1/cancel?amount=200&lang=EN"))
    assert "reversed for" in page and "2 accrued points will be cancelled" in page
    assert b.post(f"/account/orders/{bill}.1/cancel", _form(page)).status_code == 303
    assert _cancels(gw, bill)[1:] == [(5, 300, "card", "Success", Decimal("200.00"), None),
                                      (6, 510, "points", "Success", Decimal(2), 2)]
    assert held(emulator, gw, bill) == Decimal("500.00")
    assert moved(start, card_points(emulator)) == {
        "points": -300 + 7 + 100 - 2, "paid": 300, "returned": 100, "accrued": 7,
        "cancelled": 2}

    # The rest of the order: the card part, the 200 points left and the rest of the accrual.
    page = text(b.get(f"/account/orders/{bill}/cancel?lang=EN"))
    assert "200 points will go back" in page and "5 accrued points" in page
    data = _form(page)
    assert data["amount"] == ""
    assert b.post(f"/account/orders/{bill}/cancel", data).status_code == 303
    with gw.uow.reader() as r:
        assert r.orders.get(bill).state == "Canceled"
    assert held(emulator, gw, bill) == 0
    assert moved(start, card_points(emulator))["points"] == 0
    assert 'op-cancel' not in text(b.get(f"/account/orders/{bill}"))


def test_a_card_only_order_offers_no_per_operation_cancel(gw):
    order = order_for(gw, "250.00")
    pay(gw, order)
    b = Browser(gw)
    b.sign_in(new_user(gw, [Right.MONITOR, Right.CANCEL], merchant=BONUS), merchant=BONUS)
    assert "op-cancel" not in text(b.get(f"/account/orders/{order.bill_number}"))
    assert b.get(f"/account/orders/{order.bill_number}.1/cancel").status_code == 409


def test_bonus_program_settings_saved_audited_and_used_by_the_next_payment(gw):
    merchant, boss = new_merchant(gw)
    b = Browser(gw)
    b.sign_in(boss, merchant=merchant)
    resp = _settings(b, bonus_program="1", accrual_rate="101")
    assert resp.status_code == 422 and 'id="error"' in text(resp)
    with gw.uow.reader() as r:
        assert not r.merchants.get(merchant).bonus_program
    assert _settings(b, bonus_program="1", accrual_rate="2.5").status_code == 303
    with gw.uow.reader() as r:
        m = r.merchants.get(merchant)
        assert (m.bonus_program, m.accrual_rate) == (True, Decimal("2.50"))
    page = text(b.get("/account/settings"))
    assert 'id="bonus_program" checked' in page and 'value="2.50"' in page
    assert any("bonus_program" in what and "accrual_rate" in what
               for kind, _who, what in audit_rows(b) if kind == "settings")
    # The next one-stage payment with an enrolled card accrues 2.5 points per 100.
    view = new_order(gw, "1000.00", merchant=merchant)
    card = parse_card(RICH, "12", "2030", "TEST HOLDER", "123", gw.clock.now())
    gw.pay_by_card(view.bill_number, card)
    with gw.uow.reader() as r:
        accrual = r.orders.get(view.bill_number).accrual
        assert accrual is not None and accrual.points == 25


def test_a_held_card_and_points_order_is_canceled_only_whole(gw, emulator):
    start = card_points(emulator)
    order = order_for(gw, delay=True)
    pay(gw, order, points=300)
    bill = order.bill_number
    b = Browser(gw)
    b.sign_in(new_user(gw, [Right.MONITOR, Right.CANCEL], merchant=BONUS), merchant=BONUS)
    assert "op-cancel" not in text(b.get(f"/account/orders/{bill}"))
    assert b.get(f"/account/orders/{bill}.1/cancel?amount=10").status_code == 409
    page = text(b.get(f"/account/orders/{bill}/cancel?lang=EN"))
    assert "300 points will go back" in page
    assert b.post(f"/account/orders/{bill}/cancel", _form(page)).status_code == 303
    with gw.uow.reader() as r:
        assert r.orders.get(bill).state == "Canceled"
    assert held(emulator, gw, bill) == 0
    assert moved(start, card_points(emulator))["points"] == 0
