"""The buyer's trip to the bank's 3-D Secure page (the ACS) and back, on the payment pages.

While a card payment waits for 3-D Secure, the order's page is an auto-submitted form to the
ACS (``acs_page``): ``PaReq`` (the id the center gave the ACS), ``MD`` (the order and the
payment's return nonce, sealed with an HMAC of the gateway's secret) and ``TermUrl`` (this
gateway's ``/pay/acs-return.cfm``).  The page's Content Security Policy lets forms go to that
ACS's origin and no other.

``POST /pay/acs-return.cfm`` comes from the ACS's page (another site: no CSRF token, the
sealed ``MD`` stands for it) with ``MD`` and ``PaRes``; the payment is completed server to
server (``services.authentication``) and the buyer goes to the shop, or to the order's page.
A forged or replayed return is refused with a page that says so, and changes nothing.  The
page session travels in URLs, not cookies, so nothing depends on the browser sending cookies
on a cross-site POST.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable

from flask import current_app, g, redirect, request, url_for

from ..domain.errors import AssistError
from ..services.checkout import Checkout
from . import pay
from .authrequest import language
from .returns import with_order

log = logging.getLogger(__name__)

_KEY = "assist_ws.acs_return_key"


def _key() -> bytes:
    key = current_app.extensions.get(_KEY)
    if key is None:  # a key of its own, so that nothing else signed can pass for an MD
        key = hmac.new(current_app.config["CONTAINER"].settings.secret(),
                       b"assist-ws 3-D Secure return", hashlib.sha256).digest()
        current_app.extensions[_KEY] = key
    return key


def _seal(bill: str, nonce: str) -> str:
    body = f"{bill}.{nonce}"
    return f"{body}.{hmac.new(_key(), body.encode(), hashlib.sha256).hexdigest()[:32]}"


def _unseal(md: str) -> tuple[str, str] | None:
    parts = (md or "").strip().split(".")
    if len(parts) != 3 or len(md) > 128:
        return None
    bill, nonce, mac = parts
    good = hmac.new(_key(), f"{bill}.{nonce}".encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(mac.encode(), good.encode()):
        return None
    return bill, nonce


def acs_page(checkout: Checkout, render: Callable[..., object]):
    """The form that sends the buyer to the ACS when the order's payment waits for 3-D
    Secure, else None.  ``render`` renders a template of the order's pages."""
    bill = checkout.order.bill_number
    trip = pay._container().acs_trip(bill)
    if trip is None:
        return None
    g.acs_urls = (trip.url,)  # the CSP lets forms go to this ACS's origin
    return render("acs.html", trip=trip, md=_seal(bill, trip.nonce),
                  term_url=pay._absolute(url_for("pay.acs_return")))


@pay.bp.post("/acs-return.cfm")
def acs_return():
    lang = language(request.args.get("lang"))
    found = _unseal(request.form.get("MD", ""))
    if found is None:
        log.warning("3-D Secure return refused: not an MD of ours")
        return pay._message(lang, "session_invalid", 400)
    bill, nonce = found
    container = pay._container()
    try:
        result = container.complete_authentication(bill, nonce, request.form.get("PaRes", ""))
    except AssistError as exc:
        log.warning("order %s: 3-D Secure return refused: %s", bill, exc.message)
        return pay._error(exc, lang, 400)
    target = container.return_url_after(result)
    if target:
        return redirect(with_order(target, bill, result.order.order_number), 303)
    return redirect(pay._page_url(pay._sessions().new(bill)), 303)
