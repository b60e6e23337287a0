"""The WSGI application gunicorn runs: Flask for pages and POST interfaces, with the Spyne
SOAP services mounted beside it, all behind ``serving.edge`` (trusted proxies, body limits,
card data in URLs, the last answer to a failure); ``/health``, ``/ready`` and ``/metrics``
answered by ``monitoring.probes`` just inside the edge; every request counted and timed by
route, outermost."""

from __future__ import annotations

import functools
import json
from typing import Callable

from flask import Flask, Response, request
from werkzeug.exceptions import MethodNotAllowed

from . import __version__
from .bootstrap import Container, default_container
from .monitoring import multiproc
from .monitoring.probes import OTHER, PATHS, Probes, RequestMetrics, exposition
from .monitoring.readiness import Readiness
from .monitoring.state import StateCollector
from .serving.edge import Edge
from .web import account as merchant_cabinet
from .web import pay as payment_pages

#: What a request that failed inside is answered: nothing about why (that is in the log).
FAILURE = "internal error"


def failure_reply(environ) -> tuple[str, bytes]:
    """(content type, body) of the 500 answering a request that failed: a SOAP fault for a
    SOAP request, JSON for JSON, plain text otherwise -- each with Assist's 2/1."""
    ctype = (environ.get("CONTENT_TYPE") or "").lower()
    if "xml" in ctype or "HTTP_SOAPACTION" in environ:
        from .soap.faults import fault_envelope
        return "text/xml; charset=utf-8", fault_envelope(2, 1, FAILURE, "Server")
    if "json" in ctype:
        return "application/json", json.dumps(
            {"firstcode": 2, "secondcode": 1, "message": FAILURE}).encode()
    return "text/plain; charset=utf-8", f"{FAILURE}: firstcode 2, secondcode 1\n".encode()


def _failure(environ, start_response):
    ctype, body = failure_reply(environ)
    start_response("500 Internal Server Error",
                   [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def create_app(container: Container) -> Flask:
    app = Flask("assist_ws")
    app.config["CONTAINER"] = container

    @app.get("/")
    def index():
        return ("<!doctype html><title>assist-ws</title><h1>assist-ws</h1>"  # no version
                "<p>Payment gateway speaking the Assist merchant protocol.</p>")

    @app.errorhandler(500)
    def failed(_error):  # the payment pages answer theirs with a page of their own
        ctype, body = failure_reply(request.environ)
        return Response(body, 500, content_type=ctype)

    payment_pages.register(app, container)  # /pay/* (and /demo-shop when enabled)
    merchant_cabinet.register(app, container)  # /account/*
    # The merchant web services: POST formats (Flask) and SOAP + WSDLs, one path each.
    from .soap.dispatch import MerchantServices
    from .web.merchant import merchant_blueprint, post_handler
    app.register_blueprint(merchant_blueprint(container.merchant_api))
    wsgi: Callable = app.wsgi_app
    wsgi = MerchantServices(wsgi, container.merchant_api, post_handler(container.merchant_api))
    settings = container.settings
    state = StateCollector(container.snapshot, container.clock.now)
    readiness = Readiness(container.ready_targets,
                          timeout=min(2.0, settings.processing_connect_timeout))
    wsgi = Probes(wsgi, metrics=exposition(multiproc.registry(state)), readiness=readiness,
                  token=settings.metrics_token, version=__version__)
    wsgi = Edge(wsgi, trusted_proxies=settings.trusted_proxies,
                public_url=settings.public_url, failure=_failure)
    wsgi = RequestMetrics(wsgi, routes(app))
    app.wsgi_app = wsgi  # type: ignore[method-assign]  # Flask's way to add middlewares
    return app


def routes(app: Flask) -> Callable[[str], str]:
    """``route(path)``: the route a request's path is counted under -- a path the
    application serves (a rule of Flask's, a web service's WSDL, a probe), else ``other``."""
    from .services.merchant_services import BY_PATH
    known = {rule.rule for rule in app.url_map.iter_rules() if not rule.arguments}
    known.update(PATHS)
    known.update(f"{path}.wsdl" for path in BY_PATH)
    known.update(f"{path}.cfm" for path in BY_PATH)
    adapter = app.url_map.bind("localhost")

    @functools.lru_cache(maxsize=1024)
    def matched(path: str) -> str:
        for method in ("GET", "POST"):
            try:
                rule, _args = adapter.match(path, method=method, return_rule=True)
                return rule.rule
            except MethodNotAllowed:
                continue
            except Exception:  # noqa: BLE001 - not found, a redirect: not a route of ours
                return OTHER
        return OTHER

    def route(path: str) -> str:
        return path if path in known else matched(path)

    return route


_app: Flask | None = None


def __getattr__(name: str):
    # ``assist_ws.wsgi:app`` for gunicorn, built once, on first use, from the environment.
    global _app
    if name == "app":
        if _app is None:
            _app = create_app(default_container())
        return _app
    raise AttributeError(name)
