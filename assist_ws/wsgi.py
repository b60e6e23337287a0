"""The WSGI application gunicorn runs: Flask for pages and POST interfaces, with the Spyne
SOAP services mounted beside it, all behind ``serving.edge`` (trusted proxies, body limits,
card data in URLs, the last answer to a failure)."""

from __future__ import annotations

import json

from flask import Flask, Response, jsonify, request

from . import __version__
from .bootstrap import Container, default_container
from .serving.edge import Edge
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

    @app.get("/health")
    def health():
        with container.uow.reader() as uow:
            centers = [c.name for c in uow.centers.list()]
        return jsonify(status="ok", version=__version__, processing_centers=centers)

    @app.get("/")
    def index():
        return (f"<!doctype html><title>assist-ws</title><h1>assist-ws {__version__}</h1>"
                "<p>Payment gateway speaking the Assist merchant protocol.</p>")

    @app.errorhandler(500)
    def failed(_error):  # the payment pages answer theirs with a page of their own
        ctype, body = failure_reply(request.environ)
        return Response(body, 500, content_type=ctype)

    payment_pages.register(app, container)  # /pay/* (and /demo-shop when enabled)
    # The merchant web services: POST formats (Flask) and SOAP + WSDLs, one path each.
    from .soap.dispatch import MerchantServices
    from .web.merchant import merchant_blueprint, post_handler
    app.register_blueprint(merchant_blueprint(container.merchant_api))
    app.wsgi_app = MerchantServices(app.wsgi_app, container.merchant_api,
                                    post_handler(container.merchant_api))
    settings = container.settings
    app.wsgi_app = Edge(app.wsgi_app, trusted_proxies=settings.trusted_proxies,
                        public_url=settings.public_url, failure=_failure)
    return app


_app: Flask | None = None


def __getattr__(name: str):
    # ``assist_ws.wsgi:app`` for gunicorn, built once, on first use, from the environment.
    global _app
    if name == "app":
        if _app is None:
            _app = create_app(default_container())
        return _app
    raise AttributeError(name)
