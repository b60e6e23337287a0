"""The WSGI application gunicorn runs: Flask for pages and POST interfaces, with the Spyne
SOAP services mounted beside it (as later issues add them)."""

from __future__ import annotations

from flask import Flask, jsonify

from . import __version__
from .bootstrap import Container, default_container
from .web import pay as payment_pages


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

    payment_pages.register(app, container)  # /pay/* (and /demo-shop when enabled)
    # The merchant web services: POST formats (Flask) and SOAP + WSDLs, one path each.
    from .soap.dispatch import MerchantServices
    from .web.merchant import merchant_blueprint, post_handler
    app.register_blueprint(merchant_blueprint(container.merchant_api))
    app.wsgi_app = MerchantServices(app.wsgi_app, container.merchant_api,
                                    post_handler(container.merchant_api))

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
