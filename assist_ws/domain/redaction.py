"""Secrets out of every line of text that leaves the process: log lines above all.

``redact`` masks card numbers (``411111******1111``) wherever they stand, and hides the CVC,
the password and the page session id wherever they are named: as an element of a SOAP
envelope (``<cvc>``, ``<password>``, ``<card_number>``) or as a parameter of a URL or a form
(``CVC2=…``, ``Password=…``, ``CFSID=…``).  ``RedactSecrets`` is the logging filter that
applies it to a record before any handler writes it, whatever the logging configuration.
"""

from __future__ import annotations

import logging
import re

from .cards import mask, mask_card_numbers

_CARD_ELEMENT = re.compile(r"(<(?:[\w.-]+:)?card_number\b[^>]*>)([^<]*)(<)", re.I)
_SECRET_ELEMENT = re.compile(r"(<(?:[\w.-]+:)?(?:cvc2?|cvv2?|password)\b[^>]*>)[^<]*(<)",
                             re.I)
#: ``name=value`` of a URL or a form (also ``%3D`` for ``=`` as a URL may carry it).
_SECRET_PARAM = re.compile(r"((?<![\w])(?:password|cvc2?|cvv2?|csc2|cfsid)(?:=|%3d))"
                           r"[^&\s\"'<>;]*", re.I)
HIDDEN = "***"


def redact(text: str) -> str:
    """``text`` without card numbers, CVCs, passwords and page session ids."""
    if not text:
        return text
    text = _CARD_ELEMENT.sub(lambda m: m.group(1) + mask(m.group(2)) + m.group(3), text)
    text = _SECRET_ELEMENT.sub(lambda m: m.group(1) + HIDDEN + m.group(2), text)
    text = _SECRET_PARAM.sub(lambda m: m.group(1) + HIDDEN, text)
    return mask_card_numbers(text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message with ``redact`` (its arguments merged in) when it holds
    anything to hide; a record that cannot be formatted is left to the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is not ours to fix
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_text:
            # Formatted already, by a handler that came first (and may not redact).
            record.exc_text = redact(record.exc_text)
        elif record.exc_info:
            # A traceback may quote a value (an exception's message): format it now,
            # redacted, so that the handler prints this text instead.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True
