"""Card data out of Zeep's log lines: Zeep logs every SOAP envelope it sends or receives at
DEBUG level, and an authorization's envelope carries the card number and the CVC.  The filter
installed here (``domain.redaction.RedactSecrets``) rewrites such records before any handler
sees them, whatever the logging configuration of the process."""

from __future__ import annotations

import logging

from ..domain.redaction import RedactSecrets

#: Loggers that write SOAP envelopes.
ENVELOPE_LOGGERS = ("zeep.transports",)


def install() -> None:
    """Attach the filter (once) to the loggers that write envelopes."""
    for name in ENVELOPE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
