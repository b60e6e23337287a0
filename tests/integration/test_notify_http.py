"""The notification sender against real HTTP servers: allowed schemes and ports, public
addresses only (resolved once, connected to as checked, https verified for the name),
redirects only to the same host, reply size cap, timeouts, what counts as delivered."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import time
from datetime import datetime, timezone

import pytest

from assist_ws.domain.errors import ValidationError
from assist_ws.domain.notifications import (ASSIST_PORTS, ExpectedReply, PushNotice,
                                            PushProtocol, PushTarget, Verdict)
from assist_ws.notify import HttpNotificationSender
from assist_ws.notify import http as http_module

from ..merchant_endpoint import Answer, MerchantEndpoint, packet_reply

NOTICE = PushNotice("0123456789abcdef0123456789abcdef", 3,
                    datetime(2026, 11, 27, 10, 30, 5, tzinfo=timezone.utc), {
                        "kind": "pay", "success": True,
                        "order": {"merchant_id": 1, "order_number": "A-1",
                                  "bill_number": "1234567890123456", "test_mode": True,
                                  "amount": "10.00", "currency": "RUB", "state": "Approved",
                                  "created_at": "2026-11-27T10:29:00+00:00"},
                        "operations": []})


@pytest.fixture
def endpoint():
    e = MerchantEndpoint().start()
    yield e
    e.stop()


def sender(**kw):
    """A sender to the test's merchants, on loopback: private addresses allowed."""
    kw.setdefault("allow_private", True)
    kw.setdefault("allowed_ports", None)
    kw.setdefault("timeout", 3)
    kw.setdefault("connect_timeout", 1)
    return HttpNotificationSender(**kw)


def target(url, reply=ExpectedReply.HTTP200, protocol=PushProtocol.POST):
    return PushTarget(url, protocol, reply, "secret")


def test_a_port_outside_the_allowed_ones_is_not_contacted(endpoint):
    got = sender(allowed_ports=ASSIST_PORTS).send(target(endpoint.url()), NOTICE)
    assert got.verdict is Verdict.FAILED and f"port {endpoint.port} is not allowed" in got.error
    assert endpoint.received == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "http:///x",
                                 "http://user:pw@127.0.0.1/x", "not a url"])
def test_only_http_and_https_urls_are_used(url):
    got = sender().send(target(url), NOTICE)
    assert got.verdict is Verdict.FAILED and got.error and got.http_status is None


def test_a_redirect_to_another_host_is_not_followed(endpoint):
    other = MerchantEndpoint().start()
    try:
        # "localhost" is another host name than "127.0.0.1", although the same machine
        endpoint.default = Answer(307, b"", {"Location": other.url("/x", host="localhost")})
        got = sender().send(target(endpoint.url()), NOTICE)
        assert got.verdict is Verdict.FAILED and "another host" in got.error
        assert got.http_status == 307
        assert len(endpoint.received) == 1 and other.received == []
    finally:
        other.stop()


def test_a_redirect_on_the_same_host_is_followed_with_the_same_body(endpoint):
    endpoint.script = [Answer(308, b"", {"Location": "/moved"}),
                       Answer(302, b"", {"Location": endpoint.url("/final")})]
    got = sender().send(target(endpoint.url("/start")), NOTICE)
    assert got.verdict is Verdict.DELIVERED and got.url == endpoint.url("/final")
    assert [r.path for r in endpoint.received] == ["/start", "/moved", "/final"]
    assert len({r.body for r in endpoint.received}) == 1


def test_redirects_are_limited(endpoint):
    endpoint.default = Answer(302, b"", {"Location": "/again"})
    got = sender().send(target(endpoint.url()), NOTICE)
    assert got.verdict is Verdict.FAILED and "redirects" in got.error
    assert len(endpoint.received) == 4


def test_the_reply_is_read_only_up_to_the_cap(endpoint):
    endpoint.default = Answer(200, b"<" + b"x" * 2_000_000)
    small = sender(max_reply_bytes=1024)
    got = small.send(target(endpoint.url(), ExpectedReply.PACKET), NOTICE)
    assert got.verdict is Verdict.FAILED and "size limit" in got.error
    got = small.send(target(endpoint.url()), NOTICE)  # plain 200 expected: fine
    assert got.verdict is Verdict.DELIVERED and len(got.excerpt) <= 500


def test_a_slow_merchant_is_a_failed_try_within_the_timeout(endpoint):
    endpoint.default = Answer(200, delay=3)
    started = time.monotonic()
    got = sender(timeout=0.5).send(target(endpoint.url()), NOTICE)
    assert time.monotonic() - started < 2
    assert got.verdict is Verdict.FAILED and "0.5" in got.error


@pytest.mark.parametrize("status,verdict", [(200, Verdict.DELIVERED), (204, Verdict.DELIVERED),
                                            (404, Verdict.FAILED), (500, Verdict.FAILED)])
def test_an_http_2xx_counts_as_delivered(endpoint, status, verdict):
    endpoint.default = Answer(status, b"")
    got = sender().send(target(endpoint.url()), NOTICE)
    assert got.verdict is verdict and got.http_status == status


def test_the_packet_reply_must_echo_what_was_sent(endpoint):
    endpoint.default = packet_reply
    assert sender().send(target(endpoint.url(), ExpectedReply.PACKET),
                         NOTICE).verdict is Verdict.DELIVERED
    endpoint.default = Answer(200, b'<pushpaymentresult firstcode="0" secondcode="0"><order>'
                                   b'<billnumber>1234567890123456</billnumber><packetdate>'
                                   b'01.01.2020 00:00:00</packetdate></order></pushpaymentresult>')
    got = sender().send(target(endpoint.url(), ExpectedReply.PACKET), NOTICE)
    assert got.verdict is Verdict.FAILED and "echo" in got.error


def test_soap_is_sent_as_soap(endpoint):
    endpoint.default = packet_reply
    got = sender().send(target(endpoint.url(), ExpectedReply.PACKET, PushProtocol.SOAP), NOTICE)
    assert got.verdict is Verdict.DELIVERED
    [r] = endpoint.received
    assert r.headers["content-type"].startswith("text/xml")
    assert r.xml.find(".//{http://www.paysecure.ru/ws/}PushPaymentResult") is not None


def test_a_closed_port_is_a_failed_try():
    closed = MerchantEndpoint()  # never started
    got = sender().send(target(closed.url()), NOTICE)
    assert got.verdict is Verdict.FAILED and "refused" in got.error


# -- only public addresses ----------------------------------------------------------------
def public(monkeypatch, *addresses):
    """Let the sender take these (loopback) addresses for public ones: the test's merchant
    stands for one on the Internet."""
    real = http_module.refuse_address
    monkeypatch.setattr(http_module, "refuse_address", lambda what, address: None
                        if str(address) in addresses else real(what, address))


class Resolver:
    """Names resolved from a script: each call takes the next answer (the last one stays)."""

    def __init__(self, *answers):
        self.answers, self.calls = list(answers), []

    def __call__(self, host, port):
        self.calls.append(host)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.mark.parametrize("form", [
    "127.0.0.1:{port}", "[::1]:{port}", "0x7f000001:{port}", "2130706433:{port}",
    "127.1:{port}", "[::ffff:127.0.0.1]:{port}", "localhost:{port}", "169.254.169.254",
    "10.0.0.1", "[fe80::1]"])
def test_a_non_public_address_is_not_contacted(endpoint, form):
    url = f"http://{form.format(port=endpoint.port)}/assist/result"
    got = sender(allow_private=False).send(target(url), NOTICE)
    assert got.verdict is Verdict.FAILED and "public addresses only" in got.error
    assert got.http_status is None and endpoint.received == []


def test_a_name_resolving_to_any_private_address_is_not_contacted(endpoint):
    for answer in (["10.1.2.3"], ["93.184.216.34", "127.0.0.1"], ["::ffff:10.0.0.1"]):
        resolver = Resolver(answer)
        got = sender(allow_private=False, resolver=resolver).send(
            target(endpoint.url(host="merchant.test")), NOTICE)
        assert got.verdict is Verdict.FAILED and "resolves to" in got.error
        assert "public addresses only" in got.error and resolver.calls == ["merchant.test"]
    assert endpoint.received == []


def test_the_checked_address_is_the_one_connected_to(endpoint, monkeypatch):
    public(monkeypatch, "127.0.0.1")
    # The name resolves once, to the merchant; asked again it would point inside (DNS
    # rebinding) -- and the system's resolver does not know it at all.
    resolver = Resolver(["127.0.0.1"], ["10.0.0.1"])
    got = sender(allow_private=False, resolver=resolver).send(
        target(endpoint.url(host="merchant.test")), NOTICE)
    assert got.verdict is Verdict.DELIVERED, got.error
    assert resolver.calls == ["merchant.test"]
    [r] = endpoint.received
    assert r.headers["host"] == f"merchant.test:{endpoint.port}"


def test_a_redirect_to_a_private_address_is_not_followed(endpoint, monkeypatch):
    public(monkeypatch, "127.0.0.1")
    endpoint.default = Answer(302, b"", {"Location": "/moved"})
    resolver = Resolver(["127.0.0.1"], ["10.0.0.1"])  # the same name, elsewhere by then
    got = sender(allow_private=False, resolver=resolver).send(
        target(endpoint.url(host="merchant.test")), NOTICE)
    assert got.verdict is Verdict.FAILED and got.http_status == 302
    assert "redirect not followed" in got.error and "10.0.0.1, a private address" in got.error
    assert resolver.calls == ["merchant.test"] * 2 and len(endpoint.received) == 1
    endpoint.default = Answer(302, b"", {"Location": f"http://127.1:{endpoint.port}/x"})
    got = sender(allow_private=True).send(target(endpoint.url()), NOTICE)
    assert got.verdict is Verdict.FAILED and "another host" in got.error


def test_urls_are_checked_the_same_way_when_set():
    strict = sender(allow_private=False, allowed_ports=ASSIST_PORTS)
    for url in ("http://localhost:8080/r", "http://127.1/r", "http://[::1]/r"):
        with pytest.raises(ValidationError) as info:
            strict.check_url(url)
        assert info.value.codes == (5, 154) and "public addresses only" in info.value.message
    resolving = sender(allow_private=False, resolver=Resolver(["10.0.0.7"]))
    with pytest.raises(ValidationError, match="resolves to 10.0.0.7"):
        resolving.check_url("https://shop.example/r")
    # a name that does not resolve (yet) passes: each try resolves and checks again
    assert strict.check_url("https://no-such-host.invalid/r") == \
        "https://no-such-host.invalid/r"
    assert sender(allow_private=True, allowed_ports=ASSIST_PORTS).check_url(
        "http://localhost:8080/r") == "http://localhost:8080/r"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """Self-signed certificates for merchant.test and other.test (files: cert, key)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    made = {}
    for name in ("merchant.test", "other.test"):
        d = tmp_path_factory.mktemp(name)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                        "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
                        "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                       check=True, capture_output=True)
        made[name] = (str(d / "cert.pem"), str(d / "key.pem"))
    return made


def tls_endpoint(cert, key) -> MerchantEndpoint:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return MerchantEndpoint(tls=context).start()


def test_https_goes_to_the_checked_address_verified_for_the_name(certificates, monkeypatch):
    public(monkeypatch, "127.0.0.1")
    cert, key = certificates["merchant.test"]
    e = tls_endpoint(cert, key)
    try:
        resolver = Resolver(["127.0.0.1"])
        tls = sender(allow_private=False, resolver=resolver, ca_certs=cert)
        got = tls.send(target(e.url(host="merchant.test")), NOTICE)
        assert got.verdict is Verdict.DELIVERED, got.error
        assert e.server_names == ["merchant.test"]          # SNI: the name, not the address
        assert e.received[0].headers["host"] == f"merchant.test:{e.port}"
        # a certificate of another name is refused, even at the checked address
        other = sender(allow_private=False, resolver=resolver,
                       ca_certs=certificates["other.test"][0])
        got = other.send(target(e.url(host="merchant.test")), NOTICE)
        assert got.verdict is Verdict.FAILED and "certificate verify failed" in got.error
        assert len(e.received) == 1
    finally:
        e.stop()
