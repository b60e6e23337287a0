"""The committed OpenAPI document (``wsdl/openapi.json``) as the judge of JSON replies: ``check``
says what in a reply breaks it (an undeclared status, a body its schema refuses), and
``Validating`` wraps the served application so that every JSON reply the tests get from
the merchant services and ``payrequest.cfm`` is checked, the problems kept for the test
to fail on."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from jsonschema import Draft4Validator

DOC_PATH = Path(__file__).resolve().parents[1] / "wsdl" / "openapi.json"
DOC = json.loads(DOC_PATH.read_text(encoding="utf-8"))


def _validator(ref: str) -> Draft4Validator:
    # OpenAPI 3.0 schema objects as used here are JSON Schema draft 4; the document's
    # components travel with the schema so that its references resolve.
    return Draft4Validator({"$ref": ref, "components": DOC["components"]})


def check(path: str, status: int, body: bytes) -> list[str]:
    """What in this JSON reply to a POST to ``path`` the document does not allow."""
    operation = DOC["paths"].get(path, {}).get("post")
    if operation is None:
        return [f"{path} is not in the document"]
    response = operation["responses"].get(str(status))
    if response is None:
        return [f"{path}: status {status} is not declared"]
    try:
        doc = json.loads(body)
    except ValueError as exc:
        return [f"{path} {status}: not JSON ({exc})"]
    ref = response["content"]["application/json"]["schema"]["$ref"]
    return [f"{path} {status}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in _validator(ref).iter_errors(doc)]


def json_status(firstcode: int) -> int:
    """The HTTP status a JSON refusal with this ``firstcode`` comes with: 401 authentication,
    403 rights or a password in the URL, 404 nothing found, 503 the processing center
    unreachable, 400 every other refusal."""
    return {7: 401, 8: 403, 19: 403, 10: 404, 2: 503}.get(firstcode, 400)


def assert_valid(path: str, status: int, body: bytes) -> None:
    problems = check(path, status, body)
    assert not problems, problems


class Validating:
    """WSGI middleware: each JSON reply to a path of the document is checked (``check``)
    and what breaks it added to ``problems``."""

    def __init__(self, app):
        self.app = app
        self.problems: list[str] = []
        self.checked = 0
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path not in DOC["paths"]:
            return self.app(environ, start_response)
        seen: dict = {}

        def capture(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        result = self.app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        ctype = dict((k.lower(), v) for k, v in seen.get("headers", ())).get("content-type", "")
        if ctype.startswith("application/json"):
            problems = check(path, int(seen["status"].split()[0]), body)
            with self._lock:
                self.checked += 1
                self.problems += problems
        return [body]

    def take(self) -> list[str]:
        with self._lock:
            problems, self.problems = self.problems, []
        return problems
