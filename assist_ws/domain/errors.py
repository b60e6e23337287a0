"""Domain errors with Assist's stable codes.

Every refusal the gateway gives carries Assist's ``firstcode``/``secondcode`` pair (the
error codes of Assist's automated interfaces) and a message a person can act on.  The edges (SOAP faults, POST replies, pages, the
command line) turn these into their own form in exactly one place each.

    AssistError(firstcode, secondcode, message)
    ├── ValidationError          3/4/5   a parameter is missing, malformed or out of range
    │   └── CustomerDataRefused          the buyer's data on the card page (domain.customer)
    ├── AuthenticationError      7       login/password wrong (141), merchant unknown (100)
    ├── PermissionDenied         8       the user lacks the right the service needs
    ├── NotFound                 10      no such order / merchant / processing center
    ├── Duplicate                11      the object already exists (e.g. an order number already paid)
    ├── Locked                   12      the object is busy (settlement in progress, locked login)
    ├── OperationProhibited      15      the order's state or rules forbid the operation
    │   └── StateTransitionRefused       a (state, event) pair outside the state table
    ├── LimitExceeded            17      amounts over what was authorized, paid or is left
    └── ProcessingUnavailable    2       the processing center could not be reached or failed
"""

from __future__ import annotations


class Second:
    """Names for the ``secondcode`` values we use: what a refusal is about."""

    NONE = 0
    UNEXPECTED = 1
    RATE = 3
    INTERVAL = 4
    MERCHANT_ID = 100
    LOGIN = 101
    PASSWORD = 102
    FORMAT = 103
    DATE = 104
    CURRENCY = 105
    ORDERNUMBER = 107
    AMOUNT = 108
    DELAY = 109
    COMMENT = 110
    CLIENT_IP = 116
    LANGUAGE = 127
    START_DATE = 129
    END_DATE = 130
    LOGIN_PASSWORD = 141
    BILLNUMBER = 143
    ORDER_STATE = 164
    CURRENCY_RATE = 167
    URL = 154
    ENTERPRISE = 200
    ORDER = 201
    PROCESSING = 205
    CURRENCY_OBJECT = 208
    RATE_OBJECT = 209
    OPERATION = 216
    SOAP_PACKET = 215
    PAYMENT_MEANS = 218
    TRANSACTION = 220
    USER = 221
    REVERSAL = 300
    REFUND = 301
    FINANCIAL = 302
    PAYMENT = 306
    CONFIRM = 307
    CANCEL = 308
    WEB_SERVICE = 350
    SUCCESS_FILTER = 131
    HEADER = 133
    DELIMITER = 135


class AssistError(Exception):
    """A refusal with Assist's ``firstcode``/``secondcode`` and a clear message."""

    firstcode: int = 1

    def __init__(self, message: str, secondcode: int = Second.NONE, firstcode: int | None = None):
        super().__init__(message)
        self.message = message
        self.secondcode = secondcode
        if firstcode is not None:
            self.firstcode = firstcode

    @property
    def codes(self) -> tuple[int, int]:
        return self.firstcode, self.secondcode

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.firstcode}/{self.secondcode}: {self.message})"


class ValidationError(AssistError):
    """A parameter is missing (3), malformed (4) or has an invalid value (5, the default)."""

    firstcode = 5


class AuthenticationError(AssistError):
    firstcode = 7


class PermissionDenied(AssistError):
    firstcode = 8


class NotFound(AssistError):
    firstcode = 10


class Duplicate(AssistError):
    firstcode = 11


class Locked(AssistError):
    firstcode = 12


class OperationProhibited(AssistError):
    firstcode = 15


class StateTransitionRefused(OperationProhibited):
    """An event that the order state table does not allow from the order's current state."""

    def __init__(self, message: str, secondcode: int, state: str, event: str):
        super().__init__(message, secondcode)
        self.state = state
        self.event = event


class LimitExceeded(AssistError):
    firstcode = 17


class ProcessingUnavailable(AssistError):
    firstcode = 2


def missing(name: str, secondcode: int) -> ValidationError:
    return ValidationError(f"{name} is required", secondcode, firstcode=3)


def malformed(name: str, secondcode: int, detail: str = "") -> ValidationError:
    text = f"{name} is malformed" + (f": {detail}" if detail else "")
    return ValidationError(text, secondcode, firstcode=4)
