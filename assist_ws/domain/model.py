"""Entities: processing centers, merchants and their users, orders, operations, transactions.

Plain Python classes; ``assist_ws.db`` maps them to tables without them knowing it.  The
rules that decide what an order may do live here (``Order``), the states in ``states``.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Iterable

from .cards import luhn_ok
from .errors import LimitExceeded, OperationProhibited, Second, ValidationError
from .money import Money, normalize_currency
from .states import FINAL_STATES, INITIAL_STATE, OrderEvent, OrderState, next_state


class Right(str, enum.Enum):
    MONITOR = "monitor"
    CONFIRM = "confirm"
    CANCEL = "cancel"
    EXPORT = "export"
    ADMIN = "admin"

    @classmethod
    def parse_list(cls, text: str) -> list["Right"]:
        names = [part.strip().lower() for part in text.split(",") if part.strip()]
        valid = {r.value for r in cls}
        bad = [n for n in names if n not in valid]
        if bad or not names:
            raise ValidationError(
                f"unknown right(s) {', '.join(bad) or '(none given)'}; "
                f"use any of {', '.join(sorted(valid))}", Second.USER)
        return [cls(n) for n in dict.fromkeys(names)]


class OperationType(enum.IntEnum):
    PAY = 100
    CONFIRM = 200
    CANCEL = 300
    ACCRUAL = 500
    ACCRUAL_CANCEL = 510


class OperationState(enum.StrEnum):
    IN_PROCESS = "In Process"
    SUCCESS = "Success"
    DECLINED = "Declined"
    UNKNOWN = "Unknown"


#: Operation states after which an operation's result is known (and may be notified).
FINAL_OPERATION_STATES = frozenset({OperationState.SUCCESS, OperationState.DECLINED})


class MeansType(str, enum.Enum):
    CARD = "card"
    POINTS = "points"


class TransactionType(enum.StrEnum):
    AUTHORIZATION = "authorization"
    FINANCIAL = "financial"
    REVERSAL = "reversal"
    REFUND = "refund"
    BONUS_PAY = "bonus_pay"
    BONUS_ACCRUAL = "bonus_accrual"
    BONUS_ACCRUAL_CANCEL = "bonus_accrual_cancel"
    BONUS_RETURN = "bonus_return"


class TransactionState(enum.StrEnum):
    NEW = "new"
    SENT = "sent"
    SUCCESS = "success"
    DECLINED = "declined"
    UNKNOWN = "unknown"


OPEN_TRANSACTION_STATES = frozenset({TransactionState.NEW, TransactionState.SENT,
                                     TransactionState.UNKNOWN})

#: Transactions that move bonus points, not money.
POINTS_TRANSACTION_TYPES = frozenset({TransactionType.BONUS_PAY, TransactionType.BONUS_RETURN,
                                      TransactionType.BONUS_ACCRUAL,
                                      TransactionType.BONUS_ACCRUAL_CANCEL})

#: The means type the replies name for operations in bonus points.
POINTS_MEANS_NAME = "SPASIBO"


class ProcessingCenter:
    """A remote processing center: where authorizations, settlements and refunds go."""

    def __init__(self, name: str, url: str, currency: str, partial_reversal: bool = True,
                 hold_days: int = 7, cutoff: str = "21:00", active: bool = True,
                 bonus_program: bool = False):
        self.name = name
        self.url = url
        self.currency = normalize_currency(currency)
        self.partial_reversal = partial_reversal
        self.hold_days = hold_days
        self.cutoff = cutoff
        self.active = active
        #: The latest cut-off whose due payments were all settled (None: none yet).
        self.settled_through: datetime | None = None
        #: Whether the center runs the bonus program (balances, points payments, accruals).
        self.bonus_program = bonus_program


class Merchant:
    """A shop, ``Merchant_ID``, with its settings."""

    def __init__(self, merchant_id: int, name: str, base_currency: str = "RUB",
                 currencies: Iterable[str] | None = None, *, test_mode: bool = False,
                 timeout_minutes: int = 20, url_return: str | None = None,
                 url_return_ok: str | None = None, url_return_no: str | None = None,
                 secret_word: str | None = None, check_order_code: bool = False,
                 legacy_checkvalue: bool = False, two_stage: bool = False, payment_means: Iterable[str] | None = None,
                 processing: dict[str, str] | None = None, bonus_program: bool = False,
                 notify_url: str | None = None, notify_protocol: str = "post",
                 notify_results: Iterable[str] | None = None, notify_only_success: bool = False,
                 notify_expected_reply: str = "http200", customer_fields: Iterable[str] = (),
                 customer_required: Iterable[str] = (), customer_editable: bool = False,
                 time_zone: str = "UTC", accrual_rate: Decimal = Decimal(0),
                 active: bool = True):
        self.merchant_id = merchant_id
        self.name = name
        self.base_currency = normalize_currency(base_currency)
        curs = [normalize_currency(c) for c in (currencies or [self.base_currency])]
        if self.base_currency not in curs:
            curs.insert(0, self.base_currency)
        self.currencies = list(dict.fromkeys(curs))
        self.test_mode = test_mode
        self.timeout_minutes = timeout_minutes
        self.url_return = url_return
        self.url_return_ok = url_return_ok
        self.url_return_no = url_return_no
        self.secret_word = secret_word
        self.check_order_code = check_order_code
        #: The old unjoined Checkvalue form counts too (ambiguous: off unless asked for).
        self.legacy_checkvalue = legacy_checkvalue
        self.two_stage = two_stage
        self.payment_means = list(payment_means or ["card"])
        self.processing = dict(processing or {})
        self.bonus_program = bonus_program
        self.notify_url = notify_url
        self.notify_protocol = notify_protocol
        self.notify_results = list(notify_results or ["pay"])
        self.notify_only_success = notify_only_success
        self.notify_expected_reply = notify_expected_reply
        #: The customer fields (``customer.FIELDS`` names) the payment pages ask for when
        #: the shop's request lacks them, the required ones among them, and whether the
        #: buyer may change those the request carried (``domain.customer``).
        self.customer_fields = list(customer_fields)
        self.customer_required = list(customer_required)
        self.customer_editable = customer_editable
        #: The IANA time zone of the merchant's cabinet (its days and times).
        self.time_zone = time_zone
        #: Bonus points accrued per 100 units of a payment's card part (0: none).
        self.accrual_rate = accrual_rate
        self.active = active
        #: 3-D Secure: whether the shop's ``Disable3DS=1`` is honoured, and what a card whose
        #: ACS is unavailable gets: ``decline``, or ``authorize`` without 3-D Secure.
        self.allow_disable_3ds = False
        self.threeds_unavailable = "decline"

    def offers_points(self, center: ProcessingCenter) -> bool:
        """Whether this merchant's buyers may pay with points (and earn them) at ``center``:
        the merchant takes part in the bonus program and the center runs it."""
        return self.bonus_program and center.bonus_program

    def accrual_for(self, card_part: Money) -> int:
        """The whole points accrued on ``card_part`` at the merchant's rate (rounded down)."""
        if not self.bonus_program or self.accrual_rate <= 0 or not card_part.is_positive():
            return 0
        return int(card_part.amount * self.accrual_rate / 100)

    def accepts(self, currency: str) -> bool:
        return currency in self.currencies

    def center_for(self, currency: str) -> str | None:
        """The processing center that takes payments in ``currency``: the one configured for
        it, else the one of the base currency (the amount is then converted)."""
        return self.processing.get(currency) or self.processing.get(self.base_currency) or (
            next(iter(self.processing.values()), None))


class MerchantUser:
    """A login of a person or an ERP, with rights on one merchant."""

    def __init__(self, merchant_id: int, login: str, password_hash: str,
                 rights: Iterable[Right | str], active: bool = True):
        self.merchant_id = merchant_id
        self.login = login
        self.password_hash = password_hash
        self.rights = sorted({Right(r).value for r in rights})
        self.active = active

    def has(self, right: Right) -> bool:
        return right.value in self.rights or Right.ADMIN.value in self.rights


class CurrencyRate:
    """How many units of ``target`` one unit of ``source`` buys."""

    def __init__(self, source: str, target: str, rate: Decimal, updated_at: datetime):
        self.source = normalize_currency(source)
        self.target = normalize_currency(target)
        if rate <= 0:
            raise ValidationError("a rate must be greater than zero", Second.CURRENCY_RATE)
        self.rate = rate
        self.updated_at = updated_at


def new_bill_number() -> str:
    """A unique-by-chance, unpredictable 16-digit billnumber (first digit never 0) that never
    passes the Luhn check: nothing that looks for card numbers (in URLs, in log lines) takes a
    billnumber for one."""
    while True:
        number = str(10**15 + secrets.randbelow(9 * 10**15))
        if not luhn_ok(number):
            return number


def new_request_id() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Customer:
    lastname: str | None = None
    firstname: str | None = None
    middlename: str | None = None
    email: str | None = None
    address: str | None = None
    home_phone: str | None = None
    work_phone: str | None = None
    mobile_phone: str | None = None
    fax: str | None = None
    country: str | None = None
    region: str | None = None  # Assist's ``State`` parameter
    city: str | None = None
    zip: str | None = None


CUSTOMER_FIELDS = tuple(Customer.__dataclass_fields__)


class Transaction:
    """A message to a processing center on behalf of an operation."""

    def __init__(self, type: TransactionType, center: str, amount: Decimal | None,
                 currency: str, now: datetime, *, authorization_request_id: str | None = None,
                 points: int | None = None, batch_id: str | None = None):
        self.request_id = new_request_id()
        self.type = type
        self.state = TransactionState.NEW
        self.center = center
        self.amount = amount
        self.currency = currency
        self.points = points
        self.authorization_request_id = authorization_request_id
        self.batch_id = batch_id
        self.processing_reference: str | None = None
        self.response_code: str | None = None
        self.message: str | None = None
        self.attempts = 0
        self.next_attempt_at: datetime | None = None
        self.created_at = now
        self.sent_at: datetime | None = None
        self.finished_at: datetime | None = None

    @property
    def money(self) -> Money:
        """The amount of a money transaction (not of a points one)."""
        if self.amount is None:
            raise ValueError(f"transaction {self.request_id} moves points, not money")
        return Money(self.amount, self.currency)

    def mark_sent(self, now: datetime) -> None:
        self.state = TransactionState.SENT
        self.sent_at = now
        self.attempts = (self.attempts or 0) + 1

    def finish(self, state: TransactionState, now: datetime, *, response_code: str | None = None,
               message: str | None = None, reference: str | None = None) -> None:
        self.state = state
        self.response_code = response_code or self.response_code
        self.message = message or self.message
        self.processing_reference = reference or self.processing_reference
        if state in (TransactionState.SUCCESS, TransactionState.DECLINED):
            self.finished_at = now


class Operation:
    """A step of an order: pay, confirm, cancel, bonus accrual, accrual cancel."""

    id: int  # the row's id, given by the database when it is first stored
    #: Whether the operation reached a final state since its order's results were last taken
    #: (``Order.take_results``); not stored.
    result_pending: bool = False

    def __init__(self, number: int, type: OperationType, amount: Decimal, currency: str,
                 now: datetime, *, rate: Decimal | None = None, means: MeansType = MeansType.CARD,
                 client_ip: str | None = None):
        self.number = number
        self.type = OperationType(type)
        self.state = OperationState.IN_PROCESS
        self.amount = amount
        self.currency = currency
        self.rate = rate
        self.means = means.value
        self.means_type: str | None = None
        self.means_number: str | None = None
        self.card_fingerprint: str | None = None
        self.cardholder: str | None = None
        self.card_expiry: str | None = None
        self.response_code: str | None = None
        self.approval_code: str | None = None
        self.message: str | None = None
        self.processing_name: str | None = None
        self.client_ip = client_ip
        self.external_id: str | None = None
        self.cancel_reason: int | None = None
        self.points: int | None = None
        self.auto_deposit = False
        #: 3-D Secure of a card payment: ECI and Assist's ``authresult`` (Y, N, U...); while
        #: the buyer is at the ACS, its page, the id it is given and the nonce of the return.
        self.eci: str | None = None
        self.auth_result: str | None = None
        self.acs_url: str | None = None
        self.acs_request: str | None = None
        self.acs_nonce: str | None = None
        self.created_at = now
        self.finished_at: datetime | None = None
        self.transactions: list[Transaction] = []

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def is_open(self) -> bool:
        return self.state in (OperationState.IN_PROCESS, OperationState.UNKNOWN)

    @property
    def succeeded(self) -> bool:
        return self.state is OperationState.SUCCESS

    def finish(self, state: OperationState, now: datetime, *, response_code: str | None = None,
               message: str | None = None, approval_code: str | None = None) -> None:
        if state in FINAL_OPERATION_STATES and self.state not in FINAL_OPERATION_STATES:
            self.result_pending = True
        self.state = state
        if response_code:
            self.response_code = response_code
        if message:
            self.message = message
        if approval_code:
            self.approval_code = approval_code
        if state is not OperationState.UNKNOWN:
            self.finished_at = now

    def add_transaction(self, tx: Transaction) -> Transaction:
        self.transactions.append(tx)
        return tx

    def transactions_of(self, kind: TransactionType) -> list[Transaction]:
        return [t for t in self.transactions if t.type == kind]

    @property
    def authorization(self) -> Transaction | None:
        found = self.transactions_of(TransactionType.AUTHORIZATION)
        return found[0] if found else None

    def authorization_id(self) -> str:
        """The request id of this payment's authorization at the center."""
        auth = self.authorization
        if auth is None:
            raise OperationProhibited(f"operation {self.number} was not authorized",
                                      Second.PAYMENT)
        return auth.request_id

    def follows(self, pay: "Operation") -> None:
        """This operation (a confirm, a cancel) acts on payment ``pay``: it shows the same
        means, card and processing center."""
        self.means_type, self.means_number = pay.means_type, pay.means_number
        self.cardholder, self.card_expiry = pay.cardholder, pay.card_expiry
        self.processing_name = pay.processing_name

    @property
    def financial(self) -> Transaction | None:
        found = self.transactions_of(TransactionType.FINANCIAL)
        return found[-1] if found else None


class Order:
    """One payment attempt, ``billnumber``; the state rules live in its methods."""

    id: int  # the row's id, given by the database when it is first stored
    #: The changes of state since the results were last taken (``take_results``); not
    #: stored.
    state_changes: tuple[OrderEvent, ...] = ()

    # The buyer's data (``Customer``'s fields), kept on the order itself.
    lastname: str | None
    firstname: str | None
    middlename: str | None
    email: str | None
    address: str | None
    home_phone: str | None
    work_phone: str | None
    mobile_phone: str | None
    fax: str | None
    country: str | None
    region: str | None
    city: str | None
    zip: str | None

    def __init__(self, merchant_id: int, order_number: str, amount: Money, now: datetime, *,
                 delay: bool = False, language: str = "RU", comment: str | None = None,
                 customer: Customer | None = None, client_ip: str | None = None,
                 url_return: str | None = None, url_return_ok: str | None = None,
                 url_return_no: str | None = None, max_points: int | None = None,
                 payment_means: Iterable[str] | None = None, test_mode: bool = False,
                 bill_number: str | None = None):
        self.bill_number = bill_number or new_bill_number()
        self.merchant_id = merchant_id
        self.order_number = order_number
        self.amount = amount.amount
        self.currency = amount.currency
        self.delay = delay
        self.language = language
        self.comment = comment
        for name in CUSTOMER_FIELDS:
            setattr(self, name, getattr(customer or Customer(), name))
        self.client_ip = client_ip
        self.url_return = url_return
        self.url_return_ok = url_return_ok
        self.url_return_no = url_return_no
        self.max_points = max_points
        #: ``Disable3DS=1`` of a merchant allowed it: cards are authorized without 3-D Secure.
        self.disable_3ds = False
        self.payment_means = list(payment_means or ["card"])
        self.test_mode = test_mode
        self.state = INITIAL_STATE
        self.center: str | None = None
        self.hold_expires_at: datetime | None = None
        self.state_reason: str | None = None
        #: The settlement batch that took the card payment (set when it is claimed).
        self.settlement_batch_id: str | None = None
        self.created_at = now
        self.updated_at = now
        self.operations: list[Operation] = []

    # -- reading --------------------------------------------------------------------------
    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def customer(self) -> Customer:
        return Customer(**{name: getattr(self, name) for name in CUSTOMER_FIELDS})

    def operations_of(self, kind: OperationType) -> list[Operation]:
        return sorted((o for o in self.operations if o.type == kind),
                      key=lambda o: o.number)

    def operation(self, number: int) -> Operation | None:
        return next((o for o in self.operations if o.number == number), None)

    @property
    def card_payment(self) -> Operation | None:
        """The card pay operation that succeeded, is running or is unresolved."""
        for op in self.operations_of(OperationType.PAY):
            if op.means == MeansType.CARD.value and op.state is not OperationState.DECLINED:
                return op
        return None

    @property
    def confirmation(self) -> Operation | None:
        return next((o for o in self.operations_of(OperationType.CONFIRM) if o.succeeded), None)

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    def paid_card(self) -> Operation:
        """The card payment that succeeded (else ``OperationProhibited``)."""
        pay = self.card_payment
        if pay is None or not pay.succeeded:
            raise OperationProhibited(
                f"order {self.bill_number} has no successful payment", Second.PAYMENT)
        return pay

    def paid(self) -> Money:
        """What the buyer owes after confirmation: the pay operation's amount for one-stage
        payments and unconfirmed holds, the confirmed amount once confirmed."""
        pay = self.paid_card()
        confirm = self.confirmation
        return confirm.money if confirm else pay.money

    def canceled(self, *, include_open: bool = True) -> Money:
        """The sum of cancels that succeeded (and, by default, of those still running or
        unresolved, which may yet succeed)."""
        pay = self.card_payment
        total = Money.zero(pay.currency if pay else self.currency)
        for op in self.operations_of(OperationType.CANCEL):
            if op.means == MeansType.CARD.value and (
                    op.succeeded or (include_open and op.is_open)):
                total = total + op.money
        return total

    # -- bonus points ---------------------------------------------------------------------
    @property
    def points_payment(self) -> Operation | None:
        """The points pay operation that succeeded, is running or is unresolved."""
        for op in self.operations_of(OperationType.PAY):
            if op.means == MeansType.POINTS.value and op.state is not OperationState.DECLINED:
                return op
        return None

    def points_paid(self) -> int:
        """The points the buyer paid (0 unless the points payment succeeded)."""
        op = self.points_payment
        return (op.points or 0) if op is not None and op.succeeded else 0

    def _points_of(self, kind: OperationType, means: MeansType, include_open: bool) -> int:
        return sum(op.points or 0 for op in self.operations_of(kind)
                   if op.means == means.value and (op.succeeded or (include_open and op.is_open)))

    def points_returned(self, *, include_open: bool = True) -> int:
        """The points given back by cancels that succeeded (and by default those running)."""
        return self._points_of(OperationType.CANCEL, MeansType.POINTS, include_open)

    def points_returnable(self) -> int:
        return self.points_paid() - self.points_returned()

    @property
    def accrual(self) -> Operation | None:
        """The accrual of bonus points that succeeded, is running or is unresolved."""
        return next((op for op in self.operations_of(OperationType.ACCRUAL)
                     if op.state is not OperationState.DECLINED), None)

    def accrual_left(self) -> int:
        """The accrued points not cancelled (cancels running count as done)."""
        accrual = self.accrual
        if accrual is None or not accrual.succeeded:
            return 0
        return (accrual.points or 0) - self._points_of(OperationType.ACCRUAL_CANCEL,
                                                       MeansType.POINTS, True)

    def accrual_share(self, card_returned: Money) -> int:
        """The accrued points to cancel when ``card_returned`` of the card part goes back:
        in proportion to the card part paid, all that is left once nothing of it is."""
        left = self.accrual_left()
        if left <= 0:
            return 0
        paid = self.paid()
        rest = paid - self.canceled()
        if not rest.is_positive():
            return left
        accrual = self.accrual
        assert accrual is not None
        share = int((accrual.points or 0) * card_returned.amount / paid.amount)
        return min(left, share)

    def cancelable(self) -> Money:
        return self.paid() - self.canceled()

    def check_points_cancel(self, points: int | None) -> int:
        """Validate a cancel of the points payment: the points to return (default: all)."""
        if self.state not in (OrderState.DELAYED, OrderState.APPROVED,
                               OrderState.PARTIAL_DELAYED, OrderState.PARTIAL_CANCELED):
            next_state(self.state, OrderEvent.CANCEL_REST, bill_number=self.bill_number)
        left = self.points_returnable()
        if left <= 0:
            raise OperationProhibited(
                f"no points are left to return on order {self.bill_number} (returns waiting "
                f"for the processing center count as spent)", Second.CANCEL)
        if points is None:
            return left
        if points <= 0:
            raise ValidationError("the points to return must be greater than zero",
                                  Second.AMOUNT)
        if points > left:
            raise LimitExceeded(f"{points} points exceed what is left to return ({left})",
                                Second.AMOUNT)
        return points

    def settled(self) -> bool:
        """True once the financial transaction of the card payment went to the center."""
        pay = self.card_payment
        fin = pay.financial if pay else None
        return fin is not None and fin.state is TransactionState.SUCCESS

    def settlement_open(self) -> bool:
        """True while the card payment's settlement waits for the center's answer: in a
        batch not recorded yet, or its financial transaction unresolved."""
        pay = self.card_payment
        fin = pay.financial if pay else None
        if fin is None:
            return pay is not None and self.settlement_batch_id is not None
        return fin.state in OPEN_TRANSACTION_STATES

    def next_operation_number(self) -> int:
        return max((o.number for o in self.operations), default=0) + 1

    def extended(self, op: Operation) -> str:
        return f"{self.bill_number}.{op.number}"

    # -- changing -------------------------------------------------------------------------
    def apply(self, event: OrderEvent, now: datetime, reason: str | None = None) -> OrderState:
        new = next_state(self.state, event, bill_number=self.bill_number)
        if new is not self.state:
            self.state = new
            self.state_reason = reason
            self.state_changes += (event,)
        self.updated_at = now
        return new

    def take_results(self) -> list["FinishedResult"]:
        """The results reached since the last call, in this unit of work: the operations that
        reached a final state (Success or Declined), and a change of the order's state that
        no such operation accompanies (a buyer timeout, an expired hold).  Clears them.

        Use cases do nothing for this: ``Operation.finish`` and ``Order.apply`` note it, and
        the unit of work turns the results into outbox rows before it commits."""
        changes, self.state_changes = self.state_changes, ()
        found = []
        for op in sorted(self.operations, key=lambda o: o.number):
            if op.result_pending:
                op.result_pending = False
                found.append(FinishedResult(op.number, None))
        if not found and changes:
            found.append(FinishedResult(None, changes[-1]))
        return found

    def add_operation(self, kind: OperationType, amount: Money, now: datetime, **kw) -> Operation:
        op = Operation(self.next_operation_number(), kind, amount.amount, amount.currency, now, **kw)
        self.operations.append(op)
        self.updated_at = now
        return op

    def check_confirm(self, amount: Money | None) -> Money:
        """Validate a confirm request; the amount to confirm."""
        pay = self.card_payment
        if self.state is not OrderState.DELAYED or pay is None or not pay.succeeded:
            # Let the state table phrase the refusal.
            next_state(self.state, OrderEvent.CONFIRM_FULL, bill_number=self.bill_number)
        assert pay is not None
        if amount is None:
            return pay.money
        if amount.currency != pay.currency:
            raise ValidationError(
                f"confirm currency {amount.currency} differs from the payment's currency "
                f"{pay.currency}", Second.CURRENCY)
        if not amount.is_positive():
            raise ValidationError("confirm amount must be greater than zero", Second.AMOUNT)
        if amount.amount > pay.amount:
            raise LimitExceeded(
                f"confirm amount {amount} exceeds the authorized amount {pay.money}", Second.AMOUNT)
        return amount

    def check_cancel(self, amount: Money | None) -> Money:
        """Validate a cancel request: the amount to cancel."""
        if self.state is OrderState.DELAYED:
            pay = self.card_payment
            assert pay is not None
            if amount is not None and amount != pay.money:
                self._check_currency(amount, pay.currency)
                raise OperationProhibited(
                    f"order {self.bill_number} is Delayed: only a cancel of the whole hold "
                    f"({pay.money}) is possible; confirm the part to keep instead",
                    Second.CANCEL)
            return pay.money
        if self.state not in (OrderState.APPROVED, OrderState.PARTIAL_DELAYED,
                               OrderState.PARTIAL_CANCELED):
            next_state(self.state, OrderEvent.CANCEL_REST, bill_number=self.bill_number)
        left = self.cancelable()
        if amount is not None:
            self._check_currency(amount, left.currency)
            if not amount.is_positive():
                raise ValidationError("cancel amount must be greater than zero", Second.AMOUNT)
        if not left.is_positive():
            raise OperationProhibited(
                f"nothing is left to cancel on order {self.bill_number} (cancels waiting for "
                f"the processing center count as spent)", Second.CANCEL)
        if amount is None:
            return left
        if amount.amount > left.amount:
            raise LimitExceeded(
                f"cancel amount {amount} exceeds what is left to cancel ({left})", Second.AMOUNT)
        return amount

    @staticmethod
    def _check_currency(amount: Money, currency: str) -> None:
        if amount.currency != currency:
            raise ValidationError(
                f"cancel currency {amount.currency} differs from the payment's currency "
                f"{currency}", Second.CURRENCY)

    def buyer_deadline(self, timeout_minutes: int) -> datetime:
        return self.created_at + timedelta(minutes=timeout_minutes)


@dataclass(frozen=True)
class FinishedResult:
    """A result reached in the current unit of work: an operation (by number) that reached a
    final state, or — with no operation — the event that closed the order."""

    operation_number: int | None
    event: OrderEvent | None


def held_at_center(order: Order) -> Money:
    """What the center still holds for the card payment's authorization: its amount less the
    reversals that succeeded or may yet succeed.  Zero once settled."""
    pay = order.card_payment
    if pay is None or not pay.succeeded or order.settled():
        return Money.zero(pay.currency if pay else order.currency)
    held = pay.money
    for op in order.operations:
        for tx in op.transactions_of(TransactionType.REVERSAL):
            if tx.state is not TransactionState.DECLINED and tx.amount is not None:
                held = held - Money(tx.amount, tx.currency)
    return held


def find_transaction(order: Order, request_id: str) -> tuple[Operation, Transaction]:
    for op in order.operations:
        for tx in op.transactions:
            if tx.request_id == request_id:
                return op, tx
    raise KeyError(request_id)


def open_transactions(order: Order) -> list[tuple[Operation, Transaction]]:
    return [(op, tx) for op in order.operations for tx in op.transactions
            if tx.state in OPEN_TRANSACTION_STATES]
