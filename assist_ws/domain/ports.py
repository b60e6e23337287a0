"""Ports: what the use cases need from the outside world, as Protocols and plain values.

The database is reached through units of work narrowed to what each caller uses:
``CheckoutUnitOfWork`` (the buyer's pages: create an order, open the checkout, pay),
``MerchantQueries`` (the read models of the merchant's queries and logins),
``BackOfficeUnitOfWork`` (merchants' and operators' requests: confirm, cancel, settings,
notifications, the cabinet) and ``WorkerUnitOfWork`` (the worker's claims: settlement,
unknown outcomes, expired holds, abandoned orders, notification delivery).  Their
repositories are narrowed the same way (``MerchantLookup`` is the part of
``MerchantRepository`` the pages read, and so on).  ``ProcessingGateway`` talks to
processing centers and ``Clock`` gives the time, so tests can move it.  The port to
merchants' servers, ``NotificationSender``, lives with the notifications in
``notifications``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from types import TracebackType
from typing import Iterator, Protocol, Self, Sequence

from .audit import AuditEntry, AuditQuery, CabinetSession, TwoFactor
from .cards import CardData
from .model import CurrencyRate, Merchant, MerchantUser, Order, ProcessingCenter
from .notifications import DeliveryAttempt, Notification
from .money import Money
from .records import (FailureState, LoginKey, LoginRecord, OperationLine, OrderRecord,
                      Window)
from .settlement import DuePayment, ItemResult, SettlementBatch, SettlementItem


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class Outcome(str, enum.Enum):
    """What a processing center said about one request."""

    SUCCESS = "success"      # approved / done
    DECLINED = "declined"    # a definite no: nothing was done
    NOT_FOUND = "not_found"  # (status, reverse) the center has no record of it
    UNKNOWN = "unknown"      # no usable answer after the request may have arrived
    IN_PROGRESS = "in_progress"
    AUTHENTICATE = "authenticate"  # (authorize) the buyer must pass 3-D Secure first


@dataclass(frozen=True)
class ProcessingReply:
    outcome: Outcome
    response_code: str | None = None
    message: str | None = None
    approval_code: str | None = None
    reference: str | None = None
    request_id: str | None = None
    kind: str | None = None
    #: False when the request certainly never reached the center (safe to try again).
    delivered: bool = True
    #: 3-D Secure: the ACS page and the id it is given (outcome AUTHENTICATE), and the
    #: result of an enrolled card's authorization (ECI, Assist's ``authresult``).
    acs_url: str | None = None
    authentication_id: str | None = None
    eci: str | None = None
    auth_result: str | None = None


@dataclass(frozen=True)
class SettlementAnswer:
    """The center's answer to a settlement batch: one reply per item; or, when the batch as
    a whole got no usable answer (no connection, a timeout, a fault), ``failure`` -- then
    nothing is known about any item, and the batch may be sent again with the same ids."""

    replies: dict[str, ProcessingReply]
    failure: ProcessingReply | None = None

    def reply(self, request_id: str) -> ProcessingReply:
        if self.failure is not None:
            return self.failure
        return self.replies.get(request_id) or ProcessingReply(
            Outcome.UNKNOWN, None, "missing from the batch answer")


class ProcessingGateway(Protocol):
    def authorize(self, center: ProcessingCenter, request_id: str, card: CardData,
                  amount: Money, skip_authentication: bool = False) -> ProcessingReply: ...

    def complete_authorization(self, center: ProcessingCenter, request_id: str,
                               authentication_result: str) -> ProcessingReply:
        """Finish an authorization after 3-D Secure; NOT_FOUND when the center does not
        take the result (not the ACS's for this request): nothing was done."""

    def reverse(self, center: ProcessingCenter, request_id: str, authorization_request_id: str,
                amount: Money | None) -> ProcessingReply: ...

    def refund(self, center: ProcessingCenter, request_id: str, authorization_request_id: str,
               amount: Money) -> ProcessingReply: ...

    def settle(self, center: ProcessingCenter, batch_id: str,
               items: Sequence[SettlementItem]) -> SettlementAnswer:
        """Replies by item request_id (items missing from the answer are UNKNOWN), or the
        failure of the whole batch."""

    def status(self, center: ProcessingCenter, request_id: str) -> ProcessingReply: ...

    def points_balance(self, center: ProcessingCenter, card_number: str) -> int | None: ...

    def pay_with_points(self, center: ProcessingCenter, request_id: str, card_number: str,
                        points: int) -> ProcessingReply: ...

    def accrue_points(self, center: ProcessingCenter, request_id: str,
                      authorization_request_id: str, points: int) -> ProcessingReply:
        """Add points to the card of the authorization ``authorization_request_id``."""

    def cancel_accrual(self, center: ProcessingCenter, request_id: str,
                       accrual_request_id: str, points: int) -> ProcessingReply: ...

    def return_points(self, center: ProcessingCenter, request_id: str,
                      payment_request_id: str, points: int) -> ProcessingReply: ...


class MerchantLookup(Protocol):
    def get(self, merchant_id: int) -> Merchant | None: ...


class MerchantRepository(MerchantLookup, Protocol):
    def add(self, merchant: Merchant) -> None: ...
    def list(self) -> list[Merchant]: ...


class LoginLookup(Protocol):
    def login_record(self, merchant_id: int, login: str) -> LoginRecord | None:
        """The user and its merchant's state, read in one cheap query."""


class UserRepository(LoginLookup, Protocol):
    def get(self, merchant_id: int, login: str) -> MerchantUser | None: ...
    def add(self, user: MerchantUser) -> None: ...
    def of_merchant(self, merchant_id: int, *, lock: bool = False) -> list[MerchantUser]:
        """The merchant's users by login (``lock``: locked until the commit)."""
    def remove(self, user: MerchantUser) -> None: ...


class FailureLookup(Protocol):
    def state(self, key: LoginKey) -> FailureState:
        """The failures counted for ``key`` and its refusal, with the refusal of the
        client as a whole (``key.of_client()``)."""


class LoginFailureRepository(FailureLookup, Protocol):
    """Failed logins counted per ``LoginKey`` (client, merchant, login -- known or not), in
    one place every server process and host shares."""

    def count(self, key: LoginKey, now: datetime, since: datetime) -> int:
        """Count one failure of ``key`` at ``now`` and return how many are counted: when
        the first one counted was before ``since``, counting starts again at this one (and
        a refusal is forgotten).  Atomic: failures counted at once by several processes
        are all counted, and the row stays locked until the transaction ends."""

    def refuse(self, key: LoginKey, until: datetime) -> None:
        """Refuse ``key`` until ``until`` (its failures are counted already)."""

    def clear(self, key: LoginKey) -> None:
        """Forget the failures of ``key``."""

    def purge(self, before: datetime, now: datetime, limit: int) -> int:
        """Forget at most ``limit`` keys whose last failure was before ``before`` and which
        are not refused at ``now``; return how many."""


class CenterLookup(Protocol):
    def get(self, name: str) -> ProcessingCenter | None: ...


class CenterRepository(CenterLookup, Protocol):
    def add(self, center: ProcessingCenter) -> None: ...
    def list(self) -> list[ProcessingCenter]: ...


class RateLookup(Protocol):
    def get(self, source: str, target: str) -> CurrencyRate | None: ...


class RateRepository(RateLookup, Protocol):
    def add(self, rate: CurrencyRate) -> None: ...


class CheckoutOrders(Protocol):
    """The orders as the buyer's pages find, add and lock them."""

    def add(self, order: Order) -> None: ...

    def get(self, bill_number: str, *, merchant_id: int | None = None,
            lock: bool = False) -> Order | None:
        """The order with this billnumber (of this merchant, if given); ``lock`` takes the
        row lock (``SELECT … FOR UPDATE``) for the rest of the transaction."""

    def by_order_number(self, merchant_id: int, order_number: str, *,
                        lock: bool = False) -> list[Order]:
        """The merchant's orders with this order number, oldest first."""

    def bill_number_taken(self, bill_number: str) -> bool: ...

    def attempts(self, bill_number: str, *, lock: bool = False) -> list[Order]:
        """Every order of the same merchant with the same ``OrderNumber`` as the order
        ``bill_number`` (that one included), oldest first; ``lock`` locks them all."""

    def loaded(self) -> list[Order]:
        """The orders this unit of work has loaded or added (to collect their results)."""


class OrderRepository(CheckoutOrders, Protocol):
    """The orders as the back office and the worker find and claim them."""

    def with_open_transactions(self, now: datetime, limit: int,
                               older_than: datetime) -> list[Order]:
        """Orders having a transaction in state sent/unknown, last sent before
        ``older_than``, and due for another try, locked, skipping locked rows."""

    def holds_expired(self, now: datetime, limit: int) -> list[Order]:
        """Delayed orders whose hold expired at or before ``now``, locked, skipping locked
        rows."""

    def abandoned(self, merchant_id: int, created_before: datetime, limit: int) -> list[Order]:
        """``In Process`` orders of a merchant created before ``created_before`` (with their
        payments, whatever their state), locked, skipping locked rows."""

    def open_transactions(self, min_attempts: int) -> list[OpenTransactionView]:
        """Transactions still waiting for an outcome after ``min_attempts`` tries."""


class OrderRecords(Protocol):
    """Read models of orders and operations for the merchant's queries."""

    def login_and_records(self, key: LoginKey, order_number: str, window: Window
                          ) -> tuple[LoginRecord | None, FailureState, list[OrderRecord]]:
        """``users.login_record``, ``login_failures.state`` and ``records_by_order_number``
        (of the key's merchant and login) in one query."""

    def records_by_order_number(self, merchant_id: int, order_number: str, window: Window, *,
                                with_operations: bool = False) -> list[OrderRecord]:
        """The merchant's orders with this order number created in ``window``, oldest
        first, as read models (with their operations, if asked)."""

    def operation_lines(self, merchant_id: int, window: Window,
                        after: tuple[datetime, int] | None, limit: int, *,
                        success: bool | None = None) -> list[OperationLine]:
        """At most ``limit`` operations of the merchant created in ``window``, in the stable
        order (creation time, id), starting after the key ``after``; ``success`` True/False
        keeps only successful/unsuccessful ones."""

    def renders_csv(self, delimiter: str) -> bool:
        """Whether ``operation_lines_csv`` can be had here with this delimiter."""

    def operation_lines_csv(self, merchant_id: int, window: Window, delimiter: str, *,
                            success: bool | None = None) -> Iterator[bytes]:
        """All of ``operation_lines`` (in one snapshot) as the lines of results by date in
        CSV, made by the database: UTF-8, the fields of ``OperationLine`` but the id, in
        order, as text -- amounts with their currency's digits, times ``DD.MM.YYYY
        HH:MM:SS``, the test mode ``1``/``0``, the response code ``AS300`` for an operation
        still open, absent values empty -- joined by ``delimiter``, a field holding the
        delimiter, a double quote, CR or LF quoted (``"``, doubled inside), each line ending
        in CRLF; in chunks of about 64 KiB.  Only where ``renders_csv`` says so."""


class Outbox(Protocol):
    """Where result notifications are written, inside the transaction of the change."""

    def add(self, notification: Notification) -> None: ...

    def last_sequence(self, order_id: int) -> int:
        """The highest sequence number of the order's notifications (0: none yet)."""


class NotificationRepository(Outbox, Protocol):
    """The outbox of result notifications and their delivery journal."""

    def add_attempt(self, attempt: DeliveryAttempt) -> None: ...

    def get(self, notification_id: str, *, merchant_id: int | None = None,
            lock: bool = False) -> Notification | None: ...

    def claimable(self, now: datetime, limit: int) -> list[Notification]:
        """Pending notifications due by ``now`` and not claimed by a live try, oldest due
        first, locked, skipping rows other workers hold."""

    def pending_sequences(self, order_ids: Sequence[int]) -> dict[int, list[int]]:
        """The sequence numbers of the pending notifications of these orders, ascending."""

    def find(self, merchant_id: int | None = None, *, bill_number: str | None = None,
             order_number: str | None = None, since: datetime | None = None,
             until: datetime | None = None, states: Sequence[str] | None = None,
             limit: int = 1000, lock: bool = False) -> list[Notification]: ...

    def attempts(self, notification: Notification) -> list[DeliveryAttempt]: ...

    def last_attempts(self, notifications: Sequence[Notification]) -> dict[int, DeliveryAttempt]:
        """The latest journal line of each of these notifications that has been tried, by
        the notification's row id."""


@dataclass(frozen=True)
class OpenTransactionView:
    """A transaction still waiting for its outcome (for ``assist-ws unresolved``)."""

    bill_number: str
    operation_number: int
    operation_type: int
    type: str
    state: str
    center: str
    amount: Decimal | None
    currency: str
    attempts: int
    sent_at: datetime | None
    next_attempt_at: datetime | None
    message: str | None
    request_id: str


class SettlementRepository(Protocol):
    """Settlement in bulk: claims lock order rows and skip those other workers hold."""

    def claim_due(self, center: str, due_before: datetime, limit: int, batch_id: str,
                  after: int = 0) -> list[DuePayment]:
        """Lock up to ``limit`` card payments at ``center`` due for settlement (one-stage
        approved or confirmed at or before ``due_before``, not in a batch yet, no transaction
        of the order waiting for an answer), in order of their orders' ids beyond
        ``after``, skipping rows others hold; mark their orders with ``batch_id`` (so that no
        other claim takes them and a cancel waits for the answer) and return them."""

    def count_due(self, center: str, due_before: datetime) -> int: ...

    def add_batch(self, batch: SettlementBatch, now: datetime) -> None:
        """Record ``batch`` with its entries as sent."""

    def claim_stale(self, now: datetime, lease_until: datetime,
                    center: str | None = None) -> SettlementBatch | None:
        """Lock one batch still ``sent`` whose lease ended (at ``center``, if given), give it
        a new lease and count the attempt; None when there is none.  With its entries."""

    def record(self, batch: SettlementBatch, results: Sequence[ItemResult],
               now: datetime) -> None:
        """Write each answered entry as its pay operation's financial transaction (an entry
        recorded already is left as it is) and store the batch's state and counters."""

    def save(self, batch: SettlementBatch) -> None:
        """Store the batch's state, counters, lease and message."""

    def get(self, batch_id: str) -> SettlementBatch | None: ...

    def stale(self, min_attempts: int) -> list[SettlementBatch]:
        """Batches still ``sent`` after at least ``min_attempts`` sends."""


class AuditRepository(Protocol):
    """The cabinet's audit log (``domain.audit``)."""

    def add(self, entry: AuditEntry) -> None: ...
    def find(self, query: AuditQuery, limit: int) -> list[AuditEntry]: ...


class CabinetSessionRepository(Protocol):
    """The cabinet's signed-in browsers (``domain.audit.CabinetSession``)."""

    def add(self, session: CabinetSession) -> None: ...
    def get(self, session_id: str) -> CabinetSession | None: ...
    def touch(self, session_id: str, now: datetime, stamp: str | None = None) -> None: ...
    def end(self, session_id: str, now: datetime) -> None: ...

    def end_user(self, merchant_id: int, login: str, now: datetime, *,
                 keep: str | None = None) -> int:
        """End the user's open sessions (but ``keep``); how many."""

    def open_count(self, merchant_id: int, login: str) -> int: ...


class TwoFactorRepository(Protocol):
    """The cabinet users' TOTP sign-in and recovery codes (``domain.audit.TwoFactor``)."""

    def get(self, merchant_id: int, login: str) -> TwoFactor | None: ...
    def save(self, record: TwoFactor) -> None: ...

    def update(self, merchant_id: int, login: str, *, enabled: bool | None = None,
               last_step: int | None = None) -> None: ...

    def remove(self, merchant_id: int, login: str) -> None: ...
    def add_codes(self, merchant_id: int, login: str, hashes: list[str]) -> None: ...
    def use_code(self, merchant_id: int, login: str, code_hash: str, now: datetime) -> bool: ...
    def codes_left(self, merchant_id: int, login: str) -> int: ...


class _Transaction(Protocol):
    """One ``with uow:`` block is one database transaction: leaving it without ``commit()``
    rolls back what it wrote."""

    def __enter__(self) -> Self: ...
    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None, /) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def flush(self) -> None: ...


class CheckoutUnitOfWork(_Transaction, Protocol):
    """The buyer's pages: an order written, its checkout read, its payment made (with the
    notification outbox written in the same transaction)."""

    @property
    def merchants(self) -> MerchantLookup: ...
    @property
    def centers(self) -> CenterLookup: ...
    @property
    def rates(self) -> RateLookup: ...
    @property
    def orders(self) -> CheckoutOrders: ...
    @property
    def notifications(self) -> Outbox: ...

    def reader(self) -> "CheckoutUnitOfWork":
        """A unit of work for reading only (its ``commit()`` raises)."""


class MerchantQueries(Protocol):
    """The merchant's queries and logins: read models only, in one read-only block, cheaper
    than a reader."""

    def __enter__(self) -> Self: ...
    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None, /) -> None: ...

    @property
    def users(self) -> LoginLookup: ...
    @property
    def login_failures(self) -> FailureLookup: ...
    @property
    def orders(self) -> OrderRecords: ...


class BackOfficeUnitOfWork(_Transaction, Protocol):
    """Merchants' and operators' requests: confirm, cancel, settings, logins, notifications,
    the merchant cabinet."""

    @property
    def merchants(self) -> MerchantRepository: ...
    @property
    def users(self) -> UserRepository: ...
    @property
    def login_failures(self) -> LoginFailureRepository: ...
    @property
    def centers(self) -> CenterRepository: ...
    @property
    def rates(self) -> RateRepository: ...
    @property
    def orders(self) -> OrderRepository: ...
    @property
    def notifications(self) -> NotificationRepository: ...
    @property
    def audit(self) -> AuditRepository: ...
    @property
    def cabinet_sessions(self) -> CabinetSessionRepository: ...
    @property
    def two_factor(self) -> TwoFactorRepository: ...

    def reader(self) -> "BackOfficeUnitOfWork":
        """A unit of work for reading only (its ``commit()`` raises)."""

    def queries(self) -> MerchantQueries:
        """The read models, on a cheaper read-only block than ``reader()``."""


class WorkerUnitOfWork(_Transaction, Protocol):
    """The worker's jobs: claims of due work (settlement, unknown outcomes, expired holds,
    abandoned orders, notifications to deliver), each locked and skipping what other
    workers hold."""

    @property
    def merchants(self) -> MerchantRepository: ...
    @property
    def centers(self) -> CenterRepository: ...
    @property
    def orders(self) -> OrderRepository: ...
    @property
    def notifications(self) -> NotificationRepository: ...
    @property
    def settlements(self) -> SettlementRepository: ...

    def reader(self) -> "WorkerUnitOfWork":
        """A unit of work for reading only (its ``commit()`` raises)."""
