"""Creating an order from Assist's authorization request (``/pay/order.cfm`` parameters)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..domain.checkvalue import verify_order_checkvalue
from ..domain.errors import (AuthenticationError, Duplicate, NotFound, Second, ValidationError,
                             malformed, missing)
from ..domain.model import Customer, Order, new_bill_number
from ..domain.money import normalize_currency, parse_amount
from ..domain.text import is_digits
from ..domain.ports import Clock, CheckoutUnitOfWork
from ..domain.states import PAID_STATES
from .results import OrderView, about, audit

#: Payment-means flags of the authorization request and our means names.
MEANS_FLAGS = {
    "CardPayment": "card", "YMPayment": "yoomoney", "WMPayment": "webmoney",
    "QIWIPayment": "qiwi", "QIWIMtsPayment": "qiwi_mts", "QIWIMegafonPayment": "qiwi_megafon",
    "QIWIBeelinePayment": "qiwi_beeline", "QIWITele2Payment": "qiwi_tele2",
    "ApplePayPayment": "applepay", "GooglePayPayment": "googlepay", "MirPayPayment": "mirpay",
    "SamsungPayPayment": "samsungpay", "FastPayPayment": "sbp",
}

MAX_INT = 2147483647


@dataclass(frozen=True)
class AuthorizationRequest:
    """The authorization request as the shop sent it: strings, exactly as received."""

    merchant_id: str | None
    order_number: str | None
    order_amount: str | None
    order_currency: str | None = None
    delay: str | None = None
    language: str | None = None
    comment: str | None = None
    customer: Customer = field(default_factory=Customer)
    client_ip: str | None = None
    url_return: str | None = None
    url_return_ok: str | None = None
    url_return_no: str | None = None
    means_flags: dict[str, str | None] = field(default_factory=dict)
    max_points: str | None = None
    customer_number: str | None = None
    disable_3ds: str | None = None
    prepayment: str | None = None
    checkvalue: str | None = None


def parse_merchant_id(text: str | None) -> int:
    raw = (text or "").strip()
    if not raw:
        raise missing("Merchant_ID", Second.MERCHANT_ID)
    if not is_digits(raw) or len(raw) > 15 or int(raw) > MAX_INT:
        raise malformed("Merchant_ID", Second.MERCHANT_ID, "a whole number is expected")
    return int(raw)


def parse_max_points(text: str | None) -> int | None:
    """``OrderMaxPoints``: absent, empty or 0 is none; else a whole number of points."""
    raw = (text or "").strip()
    if raw in ("", "0"):
        return None
    if not is_digits(raw) or len(raw) > 15 or int(raw) > MAX_INT:
        raise malformed("OrderMaxPoints", Second.AMOUNT,
                        f"a whole number up to {MAX_INT} is expected")
    return int(raw)


def create_order(uow: CheckoutUnitOfWork, clock: Clock, req: AuthorizationRequest) -> OrderView:
    """Validate the request against the merchant's settings and create the order
    (``In Process``).  Any refusal creates nothing."""
    merchant_id = parse_merchant_id(req.merchant_id)
    order_number = (req.order_number or "").strip()
    if not order_number:
        raise missing("OrderNumber", Second.ORDERNUMBER)
    if len(order_number) > 128 or re.search(r"[<>'\";\s]", order_number):
        raise malformed("OrderNumber", Second.ORDERNUMBER,
                        "at most 128 characters, without spaces, quotes, ; < >")
    delay = (req.delay or "0").strip()
    if delay not in ("0", "1"):
        raise ValidationError(f"Delay must be 0 or 1, not {req.delay!r}", Second.DELAY)
    language = (req.language or "RU").strip().upper()
    if language not in ("RU", "EN"):
        raise ValidationError(f"Language must be RU or EN, not {req.language!r}",
                              Second.LANGUAGE)
    max_points = parse_max_points(req.max_points)
    if req.comment and len(req.comment) > 4000:
        raise ValidationError("OrderComment is longer than 4000 characters", Second.COMMENT)

    now = clock.now()
    with uow:
        merchant = uow.merchants.get(merchant_id)
        if merchant is None or not merchant.active:
            raise NotFound(f"merchant {merchant_id} is unknown or inactive", Second.MERCHANT_ID)
        currency_text = (req.order_currency or "").strip() or merchant.base_currency
        currency = normalize_currency(currency_text)
        if not merchant.accepts(currency):
            raise ValidationError(
                f"merchant {merchant_id} does not accept {currency} "
                f"(accepted: {', '.join(merchant.currencies)})", Second.CURRENCY)
        amount = parse_amount(req.order_amount, currency, name="OrderAmount")
        if not amount.is_positive():
            raise ValidationError("OrderAmount must be greater than zero", Second.AMOUNT)
        if delay == "1" and not merchant.two_stage:
            raise ValidationError(
                f"merchant {merchant_id} is not allowed two-stage payments (Delay=1)",
                Second.DELAY)
        if merchant.check_order_code:
            extras = (req.max_points, req.customer_number, req.disable_3ds, req.prepayment)
            if not req.checkvalue:
                raise AuthenticationError("Checkvalue is required by this merchant's settings",
                                          Second.NONE, firstcode=3)
            # Signed over what was sent: a request without OrderCurrency is signed without it.
            if not verify_order_checkvalue(merchant.secret_word or "", req.checkvalue,
                                           (req.merchant_id or "").strip(), order_number,
                                           (req.order_amount or "").strip(),
                                           (req.order_currency or "").strip(), extras,
                                           legacy=merchant.legacy_checkvalue):
                raise AuthenticationError("Checkvalue does not match the order parameters",
                                          Second.NONE, firstcode=9)
        means = _means(req.means_flags, merchant.payment_means)
        for other in uow.orders.by_order_number(merchant_id, order_number, lock=True):
            if other.state in PAID_STATES:
                raise Duplicate(f"order number {order_number} is already paid "
                                f"(billnumber {other.bill_number}, {other.state})",
                                Second.ORDERNUMBER)
        order = Order(merchant_id, order_number, amount, now, delay=delay == "1",
                      language=language, comment=req.comment, customer=req.customer,
                      client_ip=req.client_ip, url_return=req.url_return,
                      url_return_ok=req.url_return_ok, url_return_no=req.url_return_no,
                      max_points=max_points, payment_means=means, test_mode=merchant.test_mode)
        order.disable_3ds = (req.disable_3ds or "").strip() == "1" and merchant.allow_disable_3ds
        while uow.orders.bill_number_taken(order.bill_number):  # 1 in 9e15; still checked
            order.bill_number = new_bill_number()
        uow.orders.add(order)
        uow.commit()
    audit.info("order %s created: merchant %s, order number %s, %s %s%s", order.bill_number,
               merchant_id, order_number, format(amount.amount, "f"), amount.currency,
               ", two-stage" if order.delay else "", extra=about(order.bill_number))
    return OrderView.of(order)


def _means(flags: dict[str, str | None], enabled: list[str]) -> list[str]:
    """The payment means to offer: those flagged 1 (or all the merchant's when no flag was
    sent), among the merchant's enabled ones.  All flags 0 is an error."""
    sent = {name: (value or "").strip() for name, value in flags.items()}
    for name, value in sent.items():
        if value not in ("0", "1"):
            raise malformed(name, Second.PAYMENT_MEANS, "0 or 1 expected")
    if not sent:
        return list(enabled)
    wanted = [MEANS_FLAGS[n] for n, v in sent.items() if v == "1" and n in MEANS_FLAGS]
    if not wanted:
        raise ValidationError("all payment means are switched off in the request",
                              Second.PAYMENT_MEANS)
    offered = [m for m in wanted if m in enabled]
    if not offered:
        raise ValidationError("none of the requested payment means is enabled for the "
                              "merchant", Second.PAYMENT_MEANS)
    return offered
