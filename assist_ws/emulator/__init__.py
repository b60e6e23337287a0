"""Processing-center emulator: a SOAP 1.1 server standing in for banks.

One process serves several named centers at ``http://HOST:PORT/<name>``
(WSDL at ``?wsdl``), keeps a SQLite ledger that survives restarts and shows
it at ``GET /ledger``. This package depends only on Spyne, lxml, the
standard library and ``assist_ws.compat`` (which makes Spyne import on every
Python we support), so it can run on its own::

    python -m assist_ws.emulator --port 8081 --data var/emulator.db

Public API: :class:`Center`, :data:`DEFAULT_CENTERS`, :func:`parse_center`,
:class:`EmulatorConfig`, :func:`make_wsgi_app`, :func:`make_server`,
:func:`serve` and :func:`wsdl_document`.
"""

from .. import compat  # noqa: F401 - before Spyne: makes it import on every Python
from .config import DEFAULT_CENTERS, Center, EmulatorConfig, parse_center
from .server import make_server, make_wsgi_app, serve
from .service import wsdl_document

__all__ = [
    "Center",
    "DEFAULT_CENTERS",
    "EmulatorConfig",
    "make_server",
    "make_wsgi_app",
    "parse_center",
    "serve",
    "wsdl_document",
]
