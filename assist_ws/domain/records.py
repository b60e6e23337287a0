"""Read models: what the merchant queries (order state, order result, results by date) get
from the database, as frozen plain values.

They carry the same attribute names as ``services.results.OrderView``/``OperationView``, so
one reply renderer serves both the queries and the answers of confirm and cancel.  The rows
of results by date are flat named tuples: a million of them are made for a big window, and a
tuple is made ten times faster than a frozen dataclass.

The login of every query reads its user (``LoginRecord``) and what is known of the client's
failed logins (``FailureState``, counted per ``LoginKey``) with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple


class OperationRecord(NamedTuple):
    bill_number: str          # extended: billnumber.N
    number: int
    type: int
    state: str
    amount: Decimal
    currency: str
    rate: Decimal | None
    means: str
    means_type: str | None
    means_number: str | None
    cardholder: str | None
    card_expiry: str | None
    response_code: str | None
    approval_code: str | None
    message: str | None
    processing_name: str | None
    client_ip: str | None
    created_at: datetime
    finished_at: datetime | None
    auth_result: str | None = None  # 3-D Secure (Assist's ``authresult``), if it took part


class OrderRecord(NamedTuple):
    bill_number: str
    merchant_id: int
    order_number: str
    amount: Decimal
    currency: str
    state: str
    test_mode: bool
    comment: str | None
    lastname: str | None
    firstname: str | None
    middlename: str | None
    email: str | None
    created_at: datetime
    updated_at: datetime
    operations: tuple[OperationRecord, ...] = ()


class OperationLine(NamedTuple):
    """One row of results by date: an operation with the fields of its order it is shown
    with, flat and in the order of the reply -- a million of them are made
    for a big window, straight from the database's rows."""

    order_number: str
    bill_number: str          # the operation's, extended: billnumber.N
    test_mode: bool
    order_created_at: datetime
    order_amount: Decimal
    order_currency: str
    order_state: str
    type: int
    state: str
    amount: Decimal
    currency: str
    rate: Decimal | None
    means_type: str | None
    means_number: str | None
    cardholder: str | None
    approval_code: str | None
    response_code: str | None
    message: str | None
    processing_name: str | None
    created_at: datetime
    client_ip: str | None
    firstname: str | None
    lastname: str | None
    middlename: str | None
    email: str | None
    #: The operation's id: with ``created_at``, the row's place in the stable order.
    id: int

    @property
    def key(self) -> tuple[datetime, int]:
        """The position of the row in the stable order (operation time, then id); the next
        page starts after it."""
        return (self.created_at, self.id)


@dataclass(frozen=True, slots=True)
class Window:
    """A time window, UTC: ``start <= t < end``."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class LoginRecord:
    """What authenticating a merchant user needs: the user row and its merchant's state."""

    merchant_id: int
    login: str
    password_hash: str
    rights: tuple[str, ...]
    active: bool
    merchant_active: bool
    secret_word: str | None


#: The merchant and login of the key that counts a client's failures on every login.
ANY_MERCHANT, ANY_LOGIN = 0, ""


class LoginKey(NamedTuple):
    """Whose failed logins are counted together: a client (its address, or the network it
    stands for) trying one login of one merchant -- which need not exist."""

    client: str
    merchant_id: int
    login: str

    def of_client(self) -> "LoginKey":
        """The key of every login this client tries (no real login is empty)."""
        return LoginKey(self.client, ANY_MERCHANT, ANY_LOGIN)


@dataclass(frozen=True, slots=True)
class FailureState:
    """What is known of a client's failed logins when it tries again: its failures on this
    login (0: none counted), until when this login is refused to it, and until when every
    login is refused to it (None: not refused)."""

    failures: int = 0
    refused_until: datetime | None = None
    client_refused_until: datetime | None = None
