"""Card data as the buyer types it: checks (Luhn, expiry, holder, CVC), masking, fingerprints;
and finding card numbers where they must not be (a URL, a log line).

A ``CardData`` lives only for the length of one authorization: it is never stored, logged or
put in a URL.  What is kept is ``mask(number)`` and, at most, a keyed fingerprint.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from .errors import ValidationError
from .text import is_digits

_HOLDER_RE = re.compile(r"^[A-Za-z][A-Za-z .'\-]{0,58}[A-Za-z.]$")

BRANDS = (("4", "VISA"), ("51", "MasterCard"), ("52", "MasterCard"), ("53", "MasterCard"),
          ("54", "MasterCard"), ("55", "MasterCard"), ("22", "MIR"), ("2", "MasterCard"),
          ("34", "AMEX"), ("37", "AMEX"), ("35", "JCB"), ("6", "Maestro"))


def digits_only(number: str) -> str:
    return re.sub(r"[\s-]", "", number or "")


def luhn_ok(number: str) -> bool:
    if not is_digits(number) or not 12 <= len(number) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mask(number: str) -> str:
    """``411111******1111``: the first six and the last four digits."""
    n = digits_only(number)
    return n[:6] + "*" * (len(n) - 10) + n[-4:] if len(n) > 10 else "*" * len(n)


#: A run of 13 to 19 digits, single spaces or hyphens allowed between them, that begins with
#: a digit card numbers begin with (2 to 6) and is not part of a longer number.
_CARD_LIKE = re.compile(r"(?<![0-9])[2-6](?:[ -]?[0-9]){12,18}(?![0-9])")
#: Parameter names that carry card data: refused anywhere in a URL, whatever their value.
CARD_PARAMS = frozenset({"cardnumber", "cvc2", "cvc", "cvv", "cvv2", "csc2", "expiremonth",
                         "expireyear", "meannumber", "pan"})
#: Parameters that carry the shop's or our own identifiers, which may look like a card number
#: by chance (a shop numbering its orders by a 13-digit timestamp): not taken for one.
IDENTIFIERS = frozenset({"ordernumber", "billnumber", "cfsid"})


def card_numbers_in(text: str) -> list[str]:
    """The card numbers in ``text``: runs of 13 to 19 digits that pass the Luhn check (spaces
    or hyphens between the digits allowed), as they stand in the text."""
    return [m.group(0) for m in _CARD_LIKE.finditer(text or "")
            if luhn_ok(digits_only(m.group(0)))]


def mask_card_numbers(text: str) -> str:
    """``text`` with every card number in it masked (``411111******1111``)."""
    if not text or not _CARD_LIKE.search(text):
        return text
    return _CARD_LIKE.sub(lambda m: mask(m.group(0)) if luhn_ok(digits_only(m.group(0)))
                          else m.group(0), text)


def card_data_in(params: Iterable[tuple[str, str]]) -> list[str]:
    """The names of the parameters that carry card data: a card parameter's name (any value),
    or a card number in the value of any other parameter but our identifiers.  Names in lower
    case, sorted, each once."""
    found = set()
    for name, value in params:
        key = str(name).strip().lower()
        if key in CARD_PARAMS or (key not in IDENTIFIERS and card_numbers_in(str(value))):
            found.add(key)
    return sorted(found)


def brand(number: str) -> str:
    n = digits_only(number)
    if n.startswith("220"):
        return "MIR"
    for prefix, name in BRANDS:
        if n.startswith(prefix):
            return name
    return "Card"


def fingerprint(number: str, key: bytes) -> str:
    """A keyed fingerprint of a card number: equal for the same card, useless without ``key``."""
    return hmac.new(key, digits_only(number).encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str
    secondcode: int


@dataclass(frozen=True)
class CardData:
    number: str
    expire_month: int
    expire_year: int
    cardholder: str
    cvc: str = field(repr=False)

    def __repr__(self) -> str:  # never show the number or the CVC
        return f"CardData({mask(self.number)}, {self.expire_month:02d}/{self.expire_year})"

    __str__ = __repr__

    @property
    def masked(self) -> str:
        return mask(self.number)

    @property
    def expiry(self) -> str:
        return f"{self.expire_month:02d}/{self.expire_year}"


def card_errors(number: str, month: str, year: str, holder: str, cvc: str,
                now: datetime) -> list[FieldError]:
    """Every problem with what the buyer typed, one per field, in form order."""
    errors: list[FieldError] = []
    n = digits_only(number)
    if not n:
        errors.append(FieldError("CardNumber", "Enter the card number", 106))
    elif not luhn_ok(n):
        errors.append(FieldError("CardNumber", "This card number is not valid", 106))
    m = (month or "").strip()
    y = (year or "").strip()
    if not is_digits(m) or len(m) > 2 or not 1 <= int(m) <= 12:
        errors.append(FieldError("ExpireMonth", "Enter the expiry month (01-12)", 112))
    elif not is_digits(y) or len(y) not in (2, 4):
        errors.append(FieldError("ExpireYear", "Enter the expiry year", 113))
    else:
        yy = int(y) + (2000 if len(y) == 2 else 0)
        if (yy, int(m)) < (now.year, now.month):
            errors.append(FieldError("ExpireYear", "The card has expired", 142))
        elif yy > now.year + 20:
            errors.append(FieldError("ExpireYear", "The expiry year is too far ahead", 113))
    h = " ".join((holder or "").split())
    if not h:
        errors.append(FieldError("Cardholder", "Enter the name on the card", 114))
    elif not _HOLDER_RE.match(h):
        errors.append(FieldError(
            "Cardholder", "Use Latin letters, spaces, dots, apostrophes and hyphens", 114))
    c = (cvc or "").strip()
    if not is_digits(c) or len(c) not in (3, 4):
        errors.append(FieldError("CVC2", "Enter the 3 or 4 digits on the back of the card", 115))
    return errors


def parse_card(number: str, month: str, year: str, holder: str, cvc: str,
               now: datetime) -> CardData:
    """A valid CardData, or a ValidationError for the first problem (see ``card_errors``)."""
    errors = card_errors(number, month, year, holder, cvc, now)
    if errors:
        first = errors[0]
        raise ValidationError(f"{first.field}: {first.message}", first.secondcode)
    y = int(year.strip())
    return CardData(digits_only(number), int(month), y + (2000 if y < 100 else 0),
                    " ".join(holder.split()).upper(), cvc.strip())


def auth_required(auth_result: str | None) -> str | None:
    """Assist's ``authrequired`` for a payment's 3-D Secure result (its ``authresult``):
    ``1`` when 3-D Secure took part (Y, N, A), ``0`` when the card was authorized without it
    (U), nothing for a payment that never met 3-D Secure."""
    if not auth_result:
        return None
    return "1" if auth_result in ("Y", "N", "A") else "0"
