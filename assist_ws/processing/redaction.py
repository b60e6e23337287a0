"""Card data out of log lines: Zeep logs every SOAP envelope it sends or receives at DEBUG
level, and an authorization's envelope carries the card number and the CVC.  The filter
installed here rewrites such records before any handler sees them: card numbers masked
(``411111******1111``), CVCs replaced by ``***``, whatever the logging configuration."""

from __future__ import annotations

import logging
import re

from ..domain.cards import digits_only, luhn_ok, mask

#: Loggers that write SOAP envelopes.
ENVELOPE_LOGGERS = ("zeep.transports",)

_CARD = re.compile(r"(<(?:[\w.-]+:)?card_number\b[^>]*>)([^<]*)(<)")
_CVC = re.compile(r"(<(?:[\w.-]+:)?cvc\b[^>]*>)([^<]*)(<)")
_DIGITS = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")


def redact(text: str) -> str:
    text = _CARD.sub(lambda m: m.group(1) + mask(m.group(2)) + m.group(3), text)
    text = _CVC.sub(lambda m: m.group(1) + "***" + m.group(3), text)
    return _DIGITS.sub(lambda m: mask(m.group(0)) if luhn_ok(digits_only(m.group(0)))
                       else m.group(0), text)


class RedactCardData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is not ours to fix
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install() -> None:
    """Attach the filter (once) to the loggers that write envelopes."""
    for name in ENVELOPE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCardData) for f in logger.filters):
            logger.addFilter(RedactCardData())
