"""Configuration of the processing-center emulator.

Holds the :class:`Center` description of one emulated processing center, the
two default centers, the ``NAME:CUR[:partial|nopartial[:HOLD_DAYS]]`` spec
parser used on the command line, the :class:`EmulatorConfig` of a whole
emulator process, and the table of currency exponents (digits after the
decimal point) used to format and validate amounts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "Center",
    "DEFAULT_CENTERS",
    "EmulatorConfig",
    "RESERVED_NAMES",
    "currency_exponent",
    "currency_quantum",
    "parse_center",
]

# Currencies whose minor unit is not 1/100 (ISO 4217). Everything else: 2.
_EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0,
    "KRW": 0, "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0,
    "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")

#: Path segments that cannot be used as a center name (they are routes).
RESERVED_NAMES = frozenset({"ledger"})


def currency_exponent(currency: str) -> int:
    """Number of digits after the decimal point for an ISO 4217 code."""
    return _EXPONENTS.get(currency.upper(), 2)


def currency_quantum(currency: str) -> Decimal:
    """The smallest amount of ``currency`` as a Decimal (``0.01`` for RUB)."""
    return Decimal(1).scaleb(-currency_exponent(currency))


@dataclass(frozen=True)
class Center:
    """One emulated processing center, served at ``/<name>``."""

    name: str
    currency: str
    partial_reversal: bool = True
    hold_days: int = 7

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise ValueError(
                f"invalid center name {self.name!r}: use 1-64 characters "
                "from A-Z a-z 0-9 . _ - starting with a letter or digit")
        if self.name.lower() in RESERVED_NAMES:
            raise ValueError(f"center name {self.name!r} is reserved")
        if not isinstance(self.currency, str) or not _CURRENCY_RE.match(self.currency):
            raise ValueError(
                f"invalid currency {self.currency!r}: expected an ISO 4217 "
                "alphabetic code in upper case, e.g. RUB")
        if not isinstance(self.hold_days, int) or isinstance(self.hold_days, bool) \
                or self.hold_days < 1:
            raise ValueError(
                f"invalid hold_days {self.hold_days!r}: expected an integer >= 1")


DEFAULT_CENTERS: tuple[Center, ...] = (
    Center("emulator-rub", "RUB", partial_reversal=True, hold_days=7),
    Center("emulator-usd", "USD", partial_reversal=False, hold_days=5),
)


def parse_center(spec: str) -> Center:
    """Parse ``NAME:CUR[:partial|nopartial[:HOLD_DAYS]]`` into a :class:`Center`.

    ``CUR`` is case-insensitive; the partial flag defaults to ``partial`` and
    ``HOLD_DAYS`` to 7. Raises :class:`ValueError` with a readable message.
    """
    usage = "expected NAME:CUR[:partial|nopartial[:HOLD_DAYS]], e.g. emulator-eur:EUR:nopartial:5"
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"empty center spec; {usage}")
    parts = spec.strip().split(":")
    if len(parts) < 2 or len(parts) > 4:
        raise ValueError(f"bad center spec {spec!r}; {usage}")
    name, currency = parts[0].strip(), parts[1].strip().upper()
    partial = True
    hold_days = 7
    if len(parts) >= 3:
        flag = parts[2].strip().lower()
        if flag == "partial":
            partial = True
        elif flag == "nopartial":
            partial = False
        else:
            raise ValueError(
                f"bad center spec {spec!r}: third field must be 'partial' or "
                f"'nopartial', got {parts[2]!r}")
    if len(parts) == 4:
        raw = parts[3].strip()
        if not raw.isdigit():
            raise ValueError(
                f"bad center spec {spec!r}: HOLD_DAYS must be a positive "
                f"integer, got {parts[3]!r}")
        hold_days = int(raw)
    try:
        return Center(name, currency, partial_reversal=partial, hold_days=hold_days)
    except ValueError as exc:
        raise ValueError(f"bad center spec {spec!r}: {exc}") from None


@dataclass
class EmulatorConfig:
    """Everything one emulator process needs.

    ``data_path`` is the SQLite ledger file (parent directories are created),
    ``centers`` the centers to serve, ``late_seconds`` how long the answer
    for the "late" test card is delayed after it has been recorded, and
    ``latency`` how long every operation takes before it is answered (a real
    bank takes 0.2 to 3 seconds; 0 answers at once).
    """

    data_path: str
    centers: tuple[Center, ...] = DEFAULT_CENTERS
    late_seconds: float = 25.0
    latency: float = 0.0

    def __post_init__(self) -> None:
        self.centers = tuple(self.centers)
        if not self.centers:
            raise ValueError("at least one center is required")
        names = [c.name for c in self.centers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate center names: {', '.join(dupes)}")
        if self.late_seconds < 0:
            raise ValueError("late_seconds must be >= 0")
        if not 0 <= self.latency <= 600:
            raise ValueError("latency must be between 0 and 600 seconds")

    def center(self, name: str) -> Center | None:
        """The configured center called ``name``, or None."""
        for c in self.centers:
            if c.name == name:
                return c
        return None
