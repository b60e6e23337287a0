"""Logs with nothing secret in them, one line per event, as text or as JSON.

* ``configure`` sends the process's own log lines (the application's audit lines: orders
  created, payment results, confirms and cancels; warnings; errors) to stderr at
  ``ASSIST_LOG_LEVEL``, each through ``RedactSecrets`` (card numbers masked; CVCs, passwords
  and page session ids hidden), whatever logger wrote it.  The server and the worker both
  call it.
* ``ASSIST_LOG_FORMAT=json`` writes every line as one JSON object (``JsonFormatter``): the
  time in UTC (ISO 8601), level, logger, message, process, and ``billnumber`` when the line
  is about an order (a line names its order with ``extra={"billnumber": …}``); a traceback
  goes into ``exception``, on the same line.  The text format (the default) shows the same
  lines as ``FORMAT`` does.
* ``AccessLog`` is the gunicorn logger class of ``assist-ws serve``: its access log never
  shows the values in a payment page's URL (page session ids, and whatever a shop or a
  buyer put there: names, e-mails, card data) but those that say which step was seen
  (``go``, ``lang``, ``means``), redacts every other URL and referrer, and its error log lines go through
  the same filter (gunicorn quotes a broken request line there); both are written in the
  format of the application's lines.  When the operator brings a
  logging configuration of their own (``--log-config*``), gunicorn's handlers are theirs; the
  access log lines are still built redacted.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from urllib.parse import urlsplit, urlunsplit

from gunicorn.glogging import Logger

from ..domain.redaction import RedactSecrets, redact

FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"
#: The access log: client, time, request line (redacted), status, size, time taken, agent.
ACCESS_FORMAT = '%(h)s - - %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
_HIDDEN = "…"
#: Parameters of the payment pages' URLs whose values a log line shows: which step was seen.
_PAGE_STEPS = frozenset({"go", "lang", "means"})


#: The formats of ``ASSIST_LOG_FORMAT``.
FORMATS = ("text", "json")
#: The key of a log record's ``extra`` naming the order a line is about.
BILLNUMBER = "billnumber"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: ``time`` (UTC, ISO 8601, milliseconds),
    ``level``, ``logger``, ``message``, ``process``, and ``billnumber`` and ``exception``
    when the record has them.  The message is the record's, redacted by the handler's
    ``RedactSecrets`` before any formatter sees it (``configure`` and ``AccessLog`` put one
    on every handler); so is the traceback the filter left in ``exc_text``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        bill = getattr(record, BILLNUMBER, None)
        if bill:
            entry[BILLNUMBER] = str(bill)
        if record.exc_info or record.exc_text:
            entry["exception"] = record.exc_text or redact(
                self.formatException(record.exc_info) if record.exc_info else "")
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter(kind: str = "text", fmt: str = FORMAT) -> logging.Formatter:
    """The formatter of ``ASSIST_LOG_FORMAT`` ``kind``: ``fmt`` for text, else JSON."""
    kind = (kind or "text").strip().lower()
    if kind not in FORMATS:
        raise ValueError(f"ASSIST_LOG_FORMAT={kind!r}: use one of {', '.join(FORMATS)}")
    return JsonFormatter() if kind == "json" else logging.Formatter(fmt)


def _filtered(handler: logging.Handler) -> logging.Handler:
    if not any(isinstance(f, RedactSecrets) for f in handler.filters):
        handler.addFilter(RedactSecrets())
    return handler


def configure(level: str = "INFO", fmt: str = FORMAT, kind: str = "text") -> None:
    """The process's log lines to stderr at ``level``, redacted, as text in ``fmt`` or as
    JSON (``kind``); Python's warnings become log lines too.  A second call changes the
    level and the format and keeps one handler."""
    chosen = formatter(kind, fmt)
    root = logging.getLogger()
    root.setLevel(level.upper())
    ours = [h for h in root.handlers if getattr(h, "_assist", False)]
    if not ours:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler._assist = True  # type: ignore[attr-defined]
        root.addHandler(_filtered(handler))
        ours = [handler]
    for handler in ours:
        handler.setFormatter(chosen)
    logging.captureWarnings(True)


def redacted_uri(path: str, query: str) -> str:
    """A request's path and query as a log line may show them: a payment page's parameters
    by name only (but the few that say which page was seen), others redacted."""
    if path.startswith("/pay/") and query:
        shown = []
        for item in query.split("&"):
            name, eq, value = item.partition("=")
            keep = name.lower() in _PAGE_STEPS and value.isascii() and value.isalnum()
            shown.append(f"{name}={value}" if keep else f"{name}{eq}{_HIDDEN if eq else ''}")
        return redact(f"{path}?{'&'.join(shown)}")
    return redact(f"{path}?{query}" if query else path)


def redacted_referer(url: str) -> str:
    """A ``Referer`` as a log line may show it (a payment page's query hidden)."""
    parts = urlsplit(url)
    if parts.query and parts.path.startswith("/pay/"):
        return urlunsplit(parts._replace(path="", query="", fragment="")) + redacted_uri(
            parts.path, parts.query)
    return redact(url)


class AccessLog(Logger):
    """gunicorn's logger, redacting (see the module doc).  ``gunicorn_config`` sets
    ``level``, the level of the application's own log lines, from the settings."""

    level = "INFO"
    #: ``ASSIST_LOG_FORMAT``: ``text`` or ``json``.
    kind = "text"

    def setup(self, cfg) -> None:
        super().setup(cfg)
        if cfg.logconfig or cfg.logconfig_dict or cfg.logconfig_json:
            return
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                _filtered(handler)
                if self.kind == "json":
                    handler.setFormatter(JsonFormatter())
        configure(self.level, kind=self.kind)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        uri = redacted_uri(environ.get("PATH_INFO") or "", environ.get("QUERY_STRING") or "")
        atoms["r"] = f"{environ.get('REQUEST_METHOD')} {uri} {environ.get('SERVER_PROTOCOL')}"
        atoms["U"] = redact(environ.get("PATH_INFO") or "")
        atoms["q"] = uri.partition("?")[2]
        referer = environ.get("HTTP_REFERER")
        atoms["f"] = redacted_referer(referer) if referer else "-"
        for key in ("{raw_uri}e", "{query_string}e", "{http_referer}e", "{referer}i"):
            atoms.pop(key, None)
        return atoms
