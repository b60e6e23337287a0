"""The buyer's checkout as the payment pages see it: the order with its
merchant, the buyer's deadline, what the card will be charged, the buyer's personal data the
card page shows or asks for, and where the buyer goes back to the shop (by Assist's priority of
return URLs).

``open_checkout`` only reads, except for one change: an order whose buyer let the merchant's
timeout pass without paying becomes ``Timeout`` (in its own unit of work), so that the page
and every other interface say the same thing.  ``lock_order_number`` and ``may_pay_by_card``
guard ``pay_by_card``: all attempts of an order number are locked together, and a card
payment is refused where the order does not offer cards or another attempt is paid, held or
being paid.  ``return_url_after`` sends the buyer back after "Pay".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ..domain.customer import FormField, customer_form
from ..domain.errors import Duplicate, NotFound, OperationProhibited, Second
from ..domain.model import MeansType, Merchant, OperationType, Order
from ..domain.money import Money
from ..domain.ports import CheckoutUnitOfWork, Clock
from ..domain.states import PAID_STATES, OrderEvent, OrderState
from .common import load_order
from .points import points_ceiling
from .results import OperationResult, OperationView, OrderView


@dataclass(frozen=True)
class Checkout:
    """Everything the payment pages show for one order."""

    order: OrderView
    merchant_name: str
    deadline: datetime
    timeout_minutes: int
    #: Payment means the buyer may choose from (the request's flags within the merchant's).
    means: tuple[str, ...]
    #: The card pay operation once there is one (succeeded, running, unknown or declined).
    payment: OperationView | None
    #: What the card is charged when the center works in another currency, and the rate.
    charge: Money | None
    rate: Decimal | None
    #: Where the buyer goes back to after a successful / a failed payment (None: stay).
    return_ok: str | None
    return_no: str | None
    #: The buyer's personal data as the card page has them: shown, editable or asked for
    #: (``domain.customer.customer_form``).
    customer: tuple[FormField, ...] = ()
    #: The most bonus points the order may be paid with (0: the pages offer none).
    points_ceiling: int = 0

    @property
    def state(self) -> OrderState:
        return OrderState(self.order.state)

    @property
    def timed_out(self) -> bool:
        return self.state is OrderState.TIMEOUT

    @property
    def can_pay(self) -> bool:
        """The buyer may still enter a card: no payment yet, the order waits for one."""
        return self.payment is None and self.state is OrderState.IN_PROCESS

    @property
    def waiting(self) -> bool:
        """A payment was made and the processing center's answer is not in yet."""
        return self.payment is not None and self.state is OrderState.IN_PROCESS

    @property
    def paid(self) -> bool:
        return self.payment is not None and self.payment.state == "Success"

    @property
    def finished(self) -> bool:
        return not self.can_pay and not self.waiting

    def return_url(self) -> str | None:
        """The shop page for this outcome, or None while the outcome is open (or unknown)."""
        if not self.finished:
            return None
        return self.return_ok if self.paid else self.return_no


def _pick(paid: bool, ok: str | None, no: str | None, any_: str | None) -> str | None:
    return (ok if paid else no) or any_ or None


def return_urls(order: Order, merchant: Merchant | None) -> tuple[str | None, str | None]:
    """(success URL, failure URL) by Assist's priority: ``URL_RETURN_OK``/``URL_RETURN_NO`` of
    the request, then its ``URL_RETURN``, then the merchant's settings (where ``URL_RETURN``
    serves the outcomes that have no URL of their own)."""
    def pick(paid: bool) -> str | None:
        return _pick(paid, order.url_return_ok, order.url_return_no, order.url_return) or (
            _pick(paid, merchant.url_return_ok, merchant.url_return_no, merchant.url_return)
            if merchant else None)
    return pick(True), pick(False)


def _payment(order: Order):
    pays = order.operations_of(OperationType.PAY)
    return order.card_payment or (pays[0] if pays else None)


def _view(uow: CheckoutUnitOfWork, order: Order, merchant: Merchant | None) -> Checkout:
    timeout = merchant.timeout_minutes if merchant else 20
    pay = _payment(order)
    charge = rate = None
    if pay is not None:
        if pay.currency != order.currency:
            charge, rate = pay.money, pay.rate
    elif merchant is not None:
        center = uow.centers.get(merchant.center_for(order.currency) or "")
        if center is not None and center.currency != order.currency:
            found = uow.rates.get(order.currency, center.currency)
            if found is not None:
                charge, rate = order.money.convert(center.currency, found.rate), found.rate
    ok, no = return_urls(order, merchant)
    ceiling = 0
    if order.max_points and merchant is not None and pay is None:
        center = uow.centers.get(merchant.center_for(order.currency) or "")
        ceiling = points_ceiling(order, merchant, center) if center is not None else 0
    return Checkout(
        order=OrderView.of(order), merchant_name=merchant.name if merchant else "",
        deadline=order.buyer_deadline(timeout), timeout_minutes=timeout,
        means=tuple(order.payment_means), payment=OperationView.of(order, pay) if pay else None,
        charge=charge, rate=rate, return_ok=ok, return_no=no,
        customer=customer_form(order.customer, merchant), points_ceiling=ceiling)


def open_checkout(uow: CheckoutUnitOfWork, clock: Clock, bill_number: str) -> Checkout:
    """The order as its payment pages show it.  An order still waiting for the buyer past the
    merchant's timeout is closed (``Timeout``) first."""
    now = clock.now()
    with uow.reader() as r:
        order = load_order(r, bill_number)
        merchant = r.merchants.get(order.merchant_id)
        view = _view(r, order, merchant)
    if not (view.can_pay and now > view.deadline):
        return view
    with uow:
        order = load_order(uow, bill_number, lock=True)
        merchant = uow.merchants.get(order.merchant_id)
        timeout = merchant.timeout_minutes if merchant else 20
        if (order.state is OrderState.IN_PROCESS and _payment(order) is None
                and now > order.buyer_deadline(timeout)):
            order.apply(OrderEvent.BUYER_TIMEOUT, now, reason="buyer did not pay in time")
            uow.commit()
        return _view(uow, order, merchant)


def may_pay_by_card(order: Order, attempts: list[Order]) -> None:
    """Refuse a card payment the order does not offer (its payment means), and one while
    another attempt with the same ``OrderNumber`` is paid, held or being paid right now (two
    tabs, a second click in the shop): no double payment.

    ``attempts`` are the order number's attempts as ``lock_order_number`` locked them, in the
    unit of work that creates the pay operation."""
    if MeansType.CARD.value not in order.payment_means:
        raise OperationProhibited(f"order {order.bill_number} does not offer card payment "
                                  f"(it offers {', '.join(order.payment_means)})",
                                  Second.PAYMENT_MEANS)
    for other in attempts:
        if other.bill_number == order.bill_number:
            continue
        running = other.card_payment
        paying = other.state is OrderState.IN_PROCESS and running is not None and \
            running.is_open
        if other.state in PAID_STATES or paying:
            raise Duplicate(
                f"order number {order.order_number} is already paid or being paid "
                f"(billnumber {other.bill_number}, {other.state})", Second.ORDERNUMBER)


def lock_order_number(uow: CheckoutUnitOfWork, bill_number: str) -> tuple[Order, list[Order]]:
    """Lock every attempt of this order's ``OrderNumber`` in one statement (rows in one fixed
    order, so that two payers cannot deadlock): this order and all its attempts, locked."""
    attempts = uow.orders.attempts(bill_number, lock=True)
    for other in attempts:
        if other.bill_number == bill_number:
            return other, attempts
    raise NotFound(f"order {bill_number} not found", Second.ORDER)


def return_url_after(uow: CheckoutUnitOfWork, result: OperationResult) -> str | None:
    """Where the buyer goes after a "Pay": the shop's URL for the outcome, or None to stay on
    the payment page (the outcome is not in yet, or no URL is known).  The order's own URLs
    decide without a look at the merchant's settings."""
    if OrderState(result.order.state) is OrderState.IN_PROCESS:
        return None
    paid, order = result.operation.state == "Success", result.order
    own = _pick(paid, order.url_return_ok, order.url_return_no, order.url_return)
    if own:
        return own
    with uow.reader() as r:
        merchant = r.merchants.get(order.merchant_id)
    return _pick(paid, merchant.url_return_ok, merchant.url_return_no,
                 merchant.url_return) if merchant else None


def shop_order(uow: CheckoutUnitOfWork, merchant_id: int, bill_number: str) -> OrderView:
    """One order of one merchant, read-only (what a shop asks after the buyer came back)."""
    with uow.reader() as r:
        return OrderView.of(load_order(r, bill_number, merchant_id))
