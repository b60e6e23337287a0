"""The notification sender against real HTTP servers: allowed schemes and ports, redirects
only to the same host, reply size cap, timeouts, what counts as delivered."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from assist_ws.domain.notifications import (ASSIST_PORTS, ExpectedReply, PushNotice,
                                            PushProtocol, PushTarget, Verdict)
from assist_ws.notify import HttpNotificationSender

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
