"""Card helpers and the emulator's table of test cards.

Normalizing card numbers (spaces removed), the Luhn check, masking
(``411111******1111``), SHA-256 fingerprints, and :data:`TEST_CARDS`, which
maps the magic test numbers to the behaviour the emulator gives them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = [
    "BONUS_CARDS",
    "Behaviour",
    "DEFAULT_BEHAVIOUR",
    "NO_REFUND_FINGERPRINTS",
    "TEST_CARDS",
    "behaviour",
    "fingerprint",
    "is_card_number",
    "luhn_ok",
    "mask",
    "normalize",
]


def normalize(number: str) -> str:
    """The card number without spaces (other characters are kept)."""
    return "".join((number or "").split())


def is_card_number(number: str) -> bool:
    """True when ``number`` (normalized) is 12-19 ASCII digits passing Luhn."""
    return (12 <= len(number) <= 19 and number.isascii() and number.isdigit()
            and luhn_ok(number))


def luhn_ok(number: str) -> bool:
    """Luhn (mod 10) check of an all-digit string."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def mask(number: str) -> str:
    """First 6 and last 4 digits, the rest replaced by ``*``."""
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def fingerprint(number: str) -> str:
    """Hex SHA-256 of the normalized card number."""
    return hashlib.sha256(number.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class Behaviour:
    """What the emulator does with one test card on Authorize."""

    outcome: str                 # approve | decline | late | system_error
    response_code: str = "AS000"
    message: str = "approved"
    no_refund: bool = False      # later refunds are declined AS100
    bonus_points: int | None = None  # enrolled in the bonus program with N points
    #: 3-D Secure: None (not enrolled), "challenge" (the ACS asks for a code),
    #: "frictionless" (authenticated without a challenge) or "unavailable" (the ACS is down).
    authentication: str | None = None


TEST_CARDS: dict[str, Behaviour] = {
    "4111111111111111": Behaviour("approve"),
    "5555555555554444": Behaviour("approve"),
    "2200000000000004": Behaviour("approve"),
    "4000000000000002": Behaviour("decline", "AS100", "declined by issuer"),
    "4000000000009995": Behaviour("decline", "AS102", "insufficient funds"),
    "4000000000000069": Behaviour("decline", "AS104", "expired card"),
    "4000000000000119": Behaviour("late"),
    "4000000000000259": Behaviour("system_error"),
    "4000000000000127": Behaviour("approve", no_refund=True),
    "4276000000000009": Behaviour("approve", bonus_points=1000),
    "4276000000000017": Behaviour("approve", bonus_points=0),
    "4000000000003220": Behaviour("approve", authentication="challenge"),
    "4000000000003055": Behaviour("approve", authentication="frictionless"),
    "4000000000003097": Behaviour("approve", authentication="unavailable"),
}

#: Cards enrolled in the bonus program when a ledger is created: number -> points.
BONUS_CARDS: dict[str, int] = {
    number: b.bonus_points for number, b in TEST_CARDS.items()
    if b.bonus_points is not None
}

DEFAULT_BEHAVIOUR = Behaviour("approve")

#: Fingerprints of the cards whose refunds are always declined.
NO_REFUND_FINGERPRINTS = frozenset(
    fingerprint(n) for n, b in TEST_CARDS.items() if b.no_refund)


def behaviour(number: str) -> Behaviour:
    """The behaviour of a (normalized, Luhn-valid) card number."""
    return TEST_CARDS.get(number, DEFAULT_BEHAVIOUR)
