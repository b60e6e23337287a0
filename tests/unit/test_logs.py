"""Log lines as JSON (``ASSIST_LOG_FORMAT=json``): one object per line with the time in UTC,
level, logger, message, process and the order's billnumber; redacted like text lines; and
the look for secrets the end of every test session makes in the logs."""

from __future__ import annotations

import json
import logging

import pytest

from assist_ws.serving import logs
from assist_ws.services.results import about

from ..support import secrets_in


class Captured:
    def __init__(self, capsys):
        self.capsys, self.text = capsys, ""

    def getvalue(self) -> str:
        self.text += self.capsys.readouterr().err
        return self.text


@pytest.fixture
def stderr(capsys):
    """What ``logs.configure``'s handler (made in the test, on the test's stderr) writes;
    the handler is removed afterwards."""
    root = logging.getLogger()
    before = list(root.handlers), root.level
    for handler in [h for h in root.handlers if getattr(h, "_assist", False)]:
        root.removeHandler(handler)
    yield Captured(capsys)
    for handler in [h for h in root.handlers if getattr(h, "_assist", False)]:
        root.removeHandler(handler)
    for handler in before[0]:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(before[1])
    logging.captureWarnings(False)


def lines(buffer: Captured) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_json_line_has_the_keys_and_the_billnumber(stderr):
    logs.configure("INFO", kind="json")
    logging.getLogger("assist_ws.audit").info("order %s: pay %s.1 Success", "1234567890",
                                             "1234567890", extra=about("1234567890"))
    logging.getLogger("assist_ws.web").warning("something else")
    first, second = lines(stderr)
    assert first["level"] == "INFO" and first["logger"] == "assist_ws.audit"
    assert first["message"] == "order 1234567890: pay 1234567890.1 Success"
    assert first["billnumber"] == "1234567890"
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert isinstance(first["process"], int)
    assert "billnumber" not in second and second["level"] == "WARNING"


def test_json_lines_are_redacted_and_a_traceback_stays_on_its_line(stderr):
    logs.configure("INFO", kind="json")
    log = logging.getLogger("assist_ws.test")
    log.info("CardNumber=4111111111111111&CVC2=123&Password=DemoPass123")
    try:
        raise ValueError("card 5555 5555 5555 4444 refused")
    except ValueError:
        log.exception("failed")
    text = stderr.getvalue()
    assert len(text.splitlines()) == 2
    assert secrets_in(text) == []
    message, failure = lines(stderr)
    assert "411111******1111" in message["message"] and "CVC2=***" in message["message"]
    assert "Traceback" in failure["exception"] and "ValueError" in failure["exception"]


def test_text_stays_the_default_and_an_unknown_format_is_refused(stderr):
    logs.configure("INFO")
    logging.getLogger("assist_ws.test").warning("plain %s", "line")
    assert stderr.getvalue().rstrip().endswith("[WARNING] assist_ws.test: plain line")
    with pytest.raises(ValueError, match="ASSIST_LOG_FORMAT"):
        logs.configure("INFO", kind="xml")


def test_warnings_become_log_lines(stderr):
    import warnings
    logs.configure("INFO", kind="json")
    warnings.warn("old thing", DeprecationWarning, stacklevel=1)
    assert [entry["logger"] for entry in lines(stderr)] == ["py.warnings"]


def test_gunicorns_error_and_access_logs_are_json_too(stderr, tmp_path, monkeypatch):
    from gunicorn.config import Config
    cfg = Config()
    cfg.set("errorlog", str(tmp_path / "error.log"))
    cfg.set("accesslog", str(tmp_path / "access.log"))
    monkeypatch.setattr(logs.AccessLog, "kind", "json")
    log = logs.AccessLog(cfg)
    log.info("Booting worker with pid: %s", 42)
    log.access_log.info('127.0.0.1 - - "GET /pay/pay.cfm?CFSID=abc HTTP/1.1" 200')
    for handler in log.error_log.handlers + log.access_log.handlers:
        handler.flush()
    error = json.loads((tmp_path / "error.log").read_text().splitlines()[-1])
    access = json.loads((tmp_path / "access.log").read_text().splitlines()[-1])
    assert error["logger"] == "gunicorn.error" and error["message"].endswith("pid: 42")
    assert access["logger"] == "gunicorn.access" and "CFSID=***" in access["message"]


def test_the_session_finds_test_cards_in_any_spacing_and_the_passwords():
    assert secrets_in("paid with 4111 1111 1111 1111 today") == ["4111111111111111"]
    assert secrets_in("4000-0000-0000-0002") == ["4000000000000002"]
    assert secrets_in("<card>5555555555554444</card> exp 2030") == ["5555555555554444"]
    assert secrets_in("a 2200 0000 0000 0004\n") == ["2200000000000004"]
    assert secrets_in("Password=DemoPass123&x=Passw0rd1") == ["DemoPass123", "Passw0rd1"]
    assert secrets_in("411111******1111 and billnumber 1234567890123456") == []


def test_the_session_reads_every_log_file_under_its_directory():
    import tempfile
    from pathlib import Path

    from ..conftest import secrets_in_logs
    # Outside the session's own directory, which the session reads at its end.
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        (root / "serve").mkdir()
        (root / "serve" / "serve-1.log").write_text("ok 411111******1111\n")
        (root / "gateway.log").write_text("POST Password=Passw0rd1\n")
        (root / "worker-2.log").write_text("card 4000 0000 0000 0002\n")
        (root / "notes.txt").write_text("4111111111111111 (not a log)\n")
        assert secrets_in_logs(root) == {root / "gateway.log": ["Passw0rd1"],
                                         root / "worker-2.log": ["4000000000000002"]}
