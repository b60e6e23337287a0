"""How the gateway meets the network under ``assist-ws serve``: the gunicorn worker that
receives each request whole before a thread takes it (``worker``), what every request passes
through before the application (``edge``: trusted proxies, body limits, card data in URLs, a
last answer for failures), and the logs with nothing secret in them (``logs``).

This package imports the domain and the settings only: it knows nothing of orders."""
