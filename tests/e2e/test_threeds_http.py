"""3-D Secure over HTTP, as a forger would try it: the return from the ACS is taken once,
only with the gateway's own sealed ``MD`` and the ACS's own signed ``PaRes``; a forged or
replayed return is refused and changes nothing (the gateway as its own process, the
emulator's ACS and center over HTTP)."""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from decimal import Decimal
from html import unescape

import requests

from assist_ws.domain.checkvalue import checkvalue

from .conftest import BONUS, RUB_ONLY, SECRET, TIMEOUT_MINUTES

CHALLENGE = "4000000000003220"


def _fields(html: str) -> dict[str, str]:
    return {name: unescape(value) for name, value in
            re.findall(r'name="?(\w+)"? value="([^"]*)"', html)}


def at_acs(site, amount: str = "40.00", **start):
    """An order paid with the challenge card; the ACS form our page sends the buyer with."""
    session = site.start(amount=amount, **start)
    assert session.pay(number=CHALLENGE).status_code == 303
    page = site.http.get(f"{site.url}/pay/pay.cfm?CFSID={session.sid}", timeout=30)
    action = re.search(r'id="acs-form" method="post" action="([^"]+)"', page.text).group(1)
    assert action == site.emulator.url + "/acs"
    return session, _fields(page.text)


def through_acs(site, form: dict[str, str], code: str = "12345") -> dict[str, str]:
    """The buyer at the ACS: the code, and what the ACS posts back (MD, PaRes, TermUrl)."""
    acs = requests.post(site.emulator.url + "/acs", data={**form, "code": code}, timeout=30)
    assert acs.status_code == 200
    back = _fields(acs.text)
    back["TermUrl"] = unescape(re.search(r'form method=post action="([^"]+)"',
                                         acs.text).group(1))
    return back


def post_back(site, back: dict[str, str], **changes: str) -> requests.Response:
    data = {"MD": back["MD"], "PaRes": back["PaRes"], **changes}
    return requests.post(back["TermUrl"], data=data, allow_redirects=False, timeout=30)


def test_a_replayed_return_is_refused_and_changes_nothing(site):
    session, form = at_acs(site)
    back = through_acs(site, form)
    assert back["TermUrl"] == site.url + "/pay/acs-return.cfm"
    first = post_back(site, back)
    assert first.status_code == 303 and "/ok?" in first.headers["Location"]
    order = site.order(session.bill)
    assert order.state == "Approved"
    before = [(op.number, op.state, op.response_code) for op in order.operations]
    again = post_back(site, back)
    assert again.status_code == 400
    order = site.order(session.bill)
    assert order.state == "Approved"
    assert [(op.number, op.state, op.response_code) for op in order.operations] == before
    entries = [a for a in site.authorizations()
               if a["request_id"] == order.card_payment.authorization.request_id]
    assert [Decimal(a["held"]) for a in entries] == [Decimal("40.00")]


def test_a_forged_return_is_refused_and_the_genuine_one_still_counts(site):
    session, form = at_acs(site, amount="41.00")
    failed = through_acs(site, form, code="00000")  # what the ACS says for a wrong code
    md = failed["MD"]
    bill, nonce, mac = md.split(".")
    # An MD not sealed by the gateway, or sealed for another nonce: refused.
    for forged in (f"{bill}.{nonce}.{'0' * 32}", f"{bill}.{'x' * len(nonce)}.{mac}", ""):
        assert post_back(site, failed, MD=forged).status_code == 400
    # The ACS's result changed by the buyer ("N" turned into "Y"): the center refuses it.
    raw, sig = failed["PaRes"].split(".")
    body = base64.urlsafe_b64decode(raw).replace(b'"s":"N"', b'"s":"Y"')
    tampered = base64.urlsafe_b64encode(body).decode() + "." + sig
    assert post_back(site, failed, PaRes=tampered).status_code == 400
    assert post_back(site, failed, PaRes="").status_code == 400
    order = site.order(session.bill)
    assert order.state == "In Process" and order.operations[0].state == "In Process"
    assert order.operations[0].acs_nonce  # still waiting for the genuine return
    # The genuine return (the wrong code's "N") declines it, once.
    genuine = post_back(site, failed)
    assert genuine.status_code == 303 and "/no?" in genuine.headers["Location"]
    order = site.order(session.bill)
    assert order.state == "Declined" and order.operations[0].auth_result == "N"
    assert all(a["request_id"] != order.operations[0].authorization.request_id
               for a in site.authorizations())


def test_an_unavailable_acs_declines_or_authorizes_without_3ds_as_the_merchant_says(site):
    unavailable = "4000000000003097"
    declined = site.start(merchant=RUB_ONLY, amount="17.00")
    assert declined.pay(number=unavailable).status_code == 303
    order = site.order(declined.bill)
    assert order.state == "Declined" and order.operations[0].response_code == "AS111"
    with site.container.uow as uow:
        uow.merchants.get(RUB_ONLY).threeds_unavailable = "authorize"
        uow.commit()
    try:
        allowed = site.start(merchant=RUB_ONLY, amount="18.00")
        assert allowed.pay(number=unavailable).status_code == 303
        order = site.order(allowed.bill)
        pay = order.card_payment
        assert order.state == "Approved" and (pay.eci, pay.auth_result) == ("07", "U")
        assert [Decimal(a["held"]) for a in site.authorizations()
                if a["request_id"] == pay.authorization.request_id] == [Decimal("18.00")]
    finally:
        with site.container.uow as uow:
            uow.merchants.get(RUB_ONLY).threeds_unavailable = "decline"
            uow.commit()


def test_disable3ds_of_a_merchant_not_allowed_still_goes_to_the_acs(site):
    session, form = at_acs(site, amount="19.00")  # MERCHANT: Disable3DS not allowed
    assert form["PaReq"]
    fields = site.fields(amount="20.00", Disable3DS="1", sign=False)
    fields["Checkvalue"] = checkvalue(SECRET, ";".join(
        fields[name] for name in ("Merchant_ID", "OrderNumber", "OrderAmount", "OrderCurrency",
                                  "Disable3DS")))  # signed with it, as the merchant must
    created = site.order_cfm(fields)
    assert created.status_code == 303, created.text
    signed = site.open(created.headers["Location"])
    assert signed.pay(number=CHALLENGE).status_code == 303
    order = site.order(signed.bill)
    assert order.disable_3ds is False and order.state == "In Process"
    assert order.operations[0].acs_nonce
    # Both buyers finish at the ACS (the world reconciles after the test).
    for s in (session, signed):
        page = site.http.get(f"{site.url}/pay/pay.cfm?CFSID={s.sid}", timeout=30)
        assert post_back(site, through_acs(site, _fields(page.text))).status_code == 303


def test_a_return_after_the_buyers_time_is_refused_and_the_worker_closes_the_order(site):
    session, form = at_acs(site, amount="22.00")
    back = through_acs(site, form)  # the right code, but the buyer comes back too late
    with site.container.uow as uow:
        order = uow.orders.get(session.bill)
        order.created_at -= timedelta(minutes=TIMEOUT_MINUTES + 2)
        order.operations[0].authorization.sent_at -= timedelta(minutes=TIMEOUT_MINUTES + 2)
        uow.commit()
    assert post_back(site, back).status_code == 400
    assert site.order(session.bill).state == "In Process"
    site.container.close_abandoned()
    order = site.order(session.bill)
    assert order.state == "Timeout" and order.operations[0].state == "Declined"
    request_id = order.operations[0].authorization.request_id
    assert all(a["request_id"] != request_id for a in site.authorizations())
    assert post_back(site, back).status_code == 400  # and never afterwards
    assert all(a["request_id"] != request_id for a in site.authorizations())


def test_a_payment_after_the_acs_at_an_accruing_merchant_is_followed_as_one_paid_at_once(site):
    """The emulator's 3-D Secure cards are not in the bonus program: the payment completed
    after the ACS at a merchant that accrues points is Approved, marked as a card outside
    the program, and no accrual is sent (the ledger's points do not move)."""
    before = site.emulator.ledger()["cards"]
    session, form = at_acs(site, amount="43.00", merchant=BONUS)
    back = post_back(site, through_acs(site, form))
    assert back.status_code == 303 and "/ok?" in back.headers["Location"]
    order = site.order(session.bill)
    assert order.state == "Approved"
    assert order.card_payment.auth_result == "Y" and order.card_payment.points is None
    assert order.accrual is None
    assert site.emulator.ledger()["cards"] == before


def test_the_acs_page_speaks_the_buyers_language(site):
    for lang, title, text, button in (
            ("RU", "Подтверждение платежа в банке", ("Сейчас откроется страница банка, "
                                                     "выпустившего карту (3-D Secure)."),
             "Продолжить"),
            ("EN", "Confirm the payment with your bank", ("Your card&#39;s bank page "
                                                          "(3-D Secure) is opening now."),
             "Continue")):
        session = site.start(amount="44.00", Language=lang)
        assert session.pay(number=CHALLENGE).status_code == 303
        page = site.http.get(f"{site.url}/pay/pay.cfm?CFSID={session.sid}", timeout=30).text
        assert f"<h1>{title}</h1>" in page and f"<p>{text}</p>" in page
        assert f'<button type="submit" class="pay">{button}</button>' in page
        assert post_back(site, through_acs(site, _fields(page))).status_code == 303
