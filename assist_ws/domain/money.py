"""Money: a Decimal amount in an ISO 4217 currency, with the currency's exponent.

Amounts are never floats.  Parsing from wire strings and formatting back to them happen only
at the edges, through ``parse_amount`` and ``Money.wire``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .errors import Second, ValidationError, malformed

#: ISO 4217 minor-unit exponents of the currencies we know.  Unknown codes are refused.
EXPONENTS: dict[str, int] = {
    "RUB": 2, "USD": 2, "EUR": 2, "BYN": 2, "KZT": 2, "GBP": 2, "CHF": 2, "CNY": 2,
    "UAH": 2, "AMD": 2, "AZN": 2, "GEL": 2, "KGS": 2, "MDL": 2, "TJS": 2, "UZS": 2,
    "PLN": 2, "CZK": 2, "TRY": 2, "AED": 2, "INR": 2, "CAD": 2, "AUD": 2, "SEK": 2,
    "NOK": 2, "DKK": 2, "HKD": 2, "SGD": 2, "ILS": 2,
    "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0,
    "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3,
}

#: Legacy currency codes that older integrations still send.
ALIASES = {"RUR": "RUB"}

#: At most 15 digits in all, as Assist allows.
MAX_DIGITS = 15

#: ASCII digits only: ``\d`` and ``Decimal`` would take any script's digits (``１００``).
_AMOUNT_RE = re.compile(r"[0-9]{1,15}(?:[.,][0-9]{1,15})?")


def normalize_currency(code: str | None) -> str:
    """The canonical ISO code for ``code``, or a ValidationError (secondcode 105)."""
    value = (code or "").strip().upper()
    value = ALIASES.get(value, value)
    if value not in EXPONENTS:
        raise ValidationError(f"currency {code!r} is not supported", Second.CURRENCY)
    return value


def exponent(currency: str) -> int:
    return EXPONENTS[normalize_currency(currency)]


@dataclass(frozen=True, order=True)
class Money:
    """An amount in a currency, quantized to the currency's exponent."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("Money needs a Decimal amount, never a float")
        currency = normalize_currency(self.currency)
        object.__setattr__(self, "currency", currency)
        quantized = self.amount.quantize(_quantum(currency))
        if quantized != self.amount:
            raise ValidationError(
                f"amount {self.amount} has more decimals than {currency} allows "
                f"({EXPONENTS[currency]})",
                Second.AMOUNT,
            )
        object.__setattr__(self, "amount", quantized)

    @classmethod
    def zero(cls, currency: str) -> "Money":
        return cls(Decimal(0), currency)

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> "Money":
        return cls(Decimal(amount), currency)

    def _same(self, other: "Money") -> None:
        if not isinstance(other, Money) or other.currency != self.currency:
            raise ValidationError(
                f"cannot combine {self.currency} with "
                f"{getattr(other, 'currency', type(other).__name__)}",
                Second.CURRENCY,
            )

    def __add__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> "Money":
        return Money(-self.amount, self.currency)

    def is_positive(self) -> bool:
        return self.amount > 0

    def is_zero(self) -> bool:
        return self.amount == 0

    @property
    def minor_units(self) -> int:
        return int(self.amount.scaleb(EXPONENTS[self.currency]))

    @property
    def wire(self) -> str:
        """The amount as a string with exactly the currency's digits (``4.00``)."""
        return f"{self.amount:.{EXPONENTS[self.currency]}f}"

    def __str__(self) -> str:
        return f"{self.wire} {self.currency}"

    def convert(self, currency: str, rate: Decimal) -> "Money":
        """This amount in ``currency`` at ``rate`` (units of ``currency`` per unit of ours),
        rounded half up to the target's exponent."""
        target = normalize_currency(currency)
        if target == self.currency:
            return self
        value = (self.amount * rate).quantize(_quantum(target), rounding=ROUND_HALF_UP)
        return Money(value, target)


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-EXPONENTS[currency])


def parse_amount(text: str | None, currency: str, *, name: str = "amount",
                 allow_comma: bool = True) -> Money:
    """Parse a wire amount (``10.34``; ``10,34`` where allowed) into Money.

    Refuses signs, exponents, digits other than ASCII ones, more than 15 digits and more
    decimals than the currency has.
    """
    raw = (text or "").strip()
    if not raw:
        raise ValidationError(f"{name} is required", Second.AMOUNT, firstcode=3)
    if not _AMOUNT_RE.fullmatch(raw) or (not allow_comma and "," in raw):
        raise malformed(name, Second.AMOUNT, f"{text!r} is not a decimal amount like 10.34")
    raw = raw.replace(",", ".")
    digits = raw.replace(".", "").lstrip("0")
    if len(digits) > MAX_DIGITS:
        raise malformed(name, Second.AMOUNT, f"more than {MAX_DIGITS} digits")
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the regex already refuses these
        raise malformed(name, Second.AMOUNT, repr(text)) from None
    cur = normalize_currency(currency)
    if "." in raw and len(raw.split(".")[1].rstrip("0")) > EXPONENTS[cur]:
        raise ValidationError(
            f"{name} {text} has more decimals than {cur} allows ({EXPONENTS[cur]})",
            Second.AMOUNT,
        )
    return Money(value.quantize(_quantum(cur)), cur)


def positive_amount(text: str | None, currency: str, *, name: str = "amount") -> Money:
    money = parse_amount(text, currency, name=name)
    if not money.is_positive():
        raise ValidationError(f"{name} must be greater than zero", Second.AMOUNT)
    return money
