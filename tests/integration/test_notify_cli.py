"""Notification settings and commands on the command line, run as a user runs them: clear
messages and non-zero exits on bad input, never a traceback."""

from __future__ import annotations

import functools
import inspect
import shutil

import pytest
from click.testing import CliRunner

from assist_ws.cli import main

# stderr apart from stdout (click < 8.2 needs asking for it)
RUNNER = functools.partial(CliRunner, **(
    {"mix_stderr": False} if "mix_stderr" in inspect.signature(CliRunner).parameters else {}))


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """A migrated database, made once; each test gets a copy."""
    from assist_ws.db.migrate import upgrade
    path = tmp_path_factory.mktemp("notify-cli") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def cli(tmp_path, migrated):
    """The command line in this process (click's runner), on a copy of a migrated
    database; ``notify replay`` and ``list`` also run as real processes in
    test_notifications."""
    shutil.copy(migrated, tmp_path / "cli.db")
    env = {"ASSIST_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "ASSIST_VAR_DIR": str(tmp_path),
           "ASSIST_DEBUG": ""}

    def run(*args, ok=True, **extra):
        result = RUNNER().invoke(main, list(args), env=dict(env, **extra))
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            result.exception
        assert (result.exit_code == 0) == ok, result.stderr or result.stdout
        return result
    return run


def settings(tmp_path, merchant_id):
    from assist_ws.bootstrap import build
    from assist_ws.config import Settings
    c = build(Settings(database_url=f"sqlite:///{tmp_path}/cli.db", var_dir=str(tmp_path)))
    try:
        with c.uow.reader() as uow:
            m = uow.merchants.get(merchant_id)
            return (m.notify_url, m.notify_protocol, m.notify_results, m.notify_only_success,
                    m.notify_expected_reply)
    finally:
        c.close()


def test_notification_settings_from_the_command_line(cli, tmp_path):
    cli("merchant", "add", "--id", "700", "--name", "Shop", "--secret-word", "w",
        "--notify-url", "https://shop.example:8443/assist", "--notify-protocol", "soap",
        "--notify-results", "pay,confirm,cancel,accrual,accrual-cancel",
        "--notify-only-success", "--notify-reply", "packet")
    assert settings(tmp_path, 700) == ("https://shop.example:8443/assist", "soap",
                                       ["pay", "confirm", "cancel", "accrual",
                                        "accrual-cancel"], True, "packet")
    cli("merchant", "update", "700", "--notify-results", "cancel", "--no-notify-only-success")
    assert settings(tmp_path, 700)[2:4] == (["cancel"], False)
    cli("merchant", "update", "700", "--notify-url", "")
    assert settings(tmp_path, 700)[0] is None
    # a port outside Assist's, and a private address, are allowed when the operator says so
    cli("merchant", "update", "700", "--notify-url", "http://127.0.0.1:9000/r",
        ASSIST_NOTIFY_PORTS="9000", ASSIST_NOTIFY_ALLOW_PRIVATE="1")
    assert settings(tmp_path, 700)[0] == "http://127.0.0.1:9000/r"


@pytest.mark.parametrize("args,message", [
    (("--notify-url", "http://shop.example:9000/r"), "port 9000 is not allowed"),
    (("--notify-url", "ftp://shop.example/r"), "http:// or https://"),
    (("--notify-url", "http://169.254.169.254/latest/meta-data/"),
     "169.254.169.254, a link-local address: results go to public addresses only (code 5/154)"),
    (("--notify-url", "http://10.0.0.1/r"), "10.0.0.1, a private address"),
    (("--notify-url", "http://[::1]/r"), "::1, a loopback address"),
    (("--notify-url", "http://0x7f000001/r"), "127.0.0.1, a loopback address"),
    (("--notify-url", "http://2130706433/r"), "127.0.0.1, a loopback address"),
    (("--notify-url", "http://127.1/r"), "127.0.0.1, a loopback address"),
    (("--notify-url", "http://[::ffff:127.0.0.1]/r"), "a loopback address"),
    (("--notify-url", "http://localhost/r"), "host localhost resolves to"),
    (("--notify-results", "pay,refund"), "unknown notification result"),
    (("--notify-protocol", "xml"), "xml"),
    (("--notify-reply", "json"), "json"),
])
def test_bad_notification_settings_are_refused_and_change_nothing(cli, tmp_path, args, message):
    proc = cli("merchant", "add", "--id", "701", "--name", "Shop", *args, ok=False)
    assert message in proc.stderr
    assert "701" not in cli("merchant", "list").stdout


@pytest.mark.parametrize("args,message", [
    (("notify", "replay", "--merchant", "700"), "say what to replay"),
    (("notify", "replay", "--merchant", "700", "--bill", "1234567890123456"), "not found"),
    (("notify", "replay", "--merchant", "700", "--from", "yesterday", "--to", "2026-01-01"),
     "not a date"),
    (("notify", "replay", "--merchant", "700", "--bill", "12ab"), "Billnumber"),
    (("notify", "show", "nope"), "not found"),
])
def test_bad_notify_commands_get_one_clear_line(cli, args, message):
    proc = cli(*args, ok=False)
    assert message in proc.stderr


def test_empty_listing_and_delivery(cli):
    assert "0 notification(s)" in cli("notify", "list").stderr
    assert "0 tries" in cli("notify", "deliver").stdout
