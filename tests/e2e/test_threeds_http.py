"""3-D Secure over HTTP, as a forger would try it: the return from the ACS is taken once,
only with the gateway's own sealed ``MD`` and the ACS's own signed ``PaRes``; a forged or
replayed return is refused and changes nothing (the gateway as its own process, the
emulator's ACS and center over HTTP)."""

from __future__ import annotations

import base64
import re
from decimal import Decimal
from html import unescape

import requests

CHALLENGE = "4000000000003220"


def _fields(html: str) -> dict[str, str]:
    return {name: unescape(value) for name, value in
            re.findall(r'name="?(\w+)"? value="([^"]*)"', html)}


def at_acs(site, amount: str = "40.00"):
    """An order paid with the challenge card; the ACS form our page sends the buyer with."""
    session = site.start(amount=amount)
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
