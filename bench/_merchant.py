"""A merchant's result endpoint for the notification benchmark: answers every POST with 200
(run as ``gunicorn bench._merchant:app``)."""


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(length)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"OK"]
