"""The production recipe: Debian's nginx in front of ``assist-ws serve``, with the committed
site file (``deploy/nginx/assist-ws.conf``) -- TLS, body limits, the forwarded headers the
gateway believes from this proxy only -- and an order paid through it."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import requests

from ..support import Serve, free_port

NGINX = "/usr/sbin/nginx"
SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "assist-ws.conf"
REQUIRE_NGINX = os.environ.get("ASSIST_REQUIRE_NGINX") == "1"


def _site_for_test(tmp: Path, gateway_port: int, http_port: int, https_port: int) -> str:
    """The committed site file with this test's ports, certificate and log paths (and no
    IPv6 listeners, which a test machine may lack): nothing else changed."""
    text = SITE.read_text()
    replacements = [
        (r"server 127\.0\.0\.1:8080;", f"server 127.0.0.1:{gateway_port};"),
        (r"listen \[::\]:\d+[^;]*;\n", ""),
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        (r"/etc/ssl/certs/pay\.example\.com\.pem", str(tmp / "cert.pem")),
        (r"/etc/ssl/private/pay\.example\.com\.key", str(tmp / "key.pem")),
        (r"/var/log/nginx/", f"{tmp}/"),
        (r"server_name pay\.example\.com;", "server_name 127.0.0.1;"),
    ]
    for pattern, value in replacements:
        text, n = re.subn(pattern, value, text)
        assert n, f"the site file no longer has {pattern!r}"
    return text


@pytest.fixture(scope="module")
def nginx(world, tmp_path_factory):
    if not os.path.exists(NGINX):
        if REQUIRE_NGINX:
            pytest.fail("nginx is required here (ASSIST_REQUIRE_NGINX=1): apt-get install nginx-light")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    tmp = tmp_path_factory.mktemp("nginx")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem")],
                   check=True, capture_output=True)
    http_port, https_port = free_port(), free_port()
    public = f"https://127.0.0.1:{https_port}"
    with Serve(world.container.settings.database_url, str(tmp), ASSIST_SECRET_KEY="e2e-secret",
               ASSIST_PUBLIC_URL=public, ASSIST_TRUSTED_PROXIES="127.0.0.1",
               ASSIST_LOG_LEVEL="INFO") as gateway:
        (tmp / "site.conf").write_text(
            _site_for_test(tmp, gateway.port, http_port, https_port))
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (tmp / d).mkdir()
        user = "user root;\n" if os.geteuid() == 0 else ""
        (tmp / "nginx.conf").write_text(
            f"{user}worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/main-error.log;\n"
            f"events {{ worker_connections 256; }}\n"
            f"http {{\n  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n"
            f"  fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n"
            f"  scgi_temp_path {tmp}/scgi;\n  include {tmp}/site.conf;\n}}\n")
        proc = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"),
                                 "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 20
            while True:
                assert proc.poll() is None, proc.stderr.read().decode(errors="replace")
                try:
                    requests.get(public + "/health", verify=str(tmp / "cert.pem"), timeout=1)
                    break
                except requests.RequestException:
                    assert time.monotonic() < deadline, "nginx did not answer"
                    time.sleep(0.1)
            yield public, f"http://127.0.0.1:{http_port}", str(tmp / "cert.pem"), tmp, gateway
        finally:
            proc.terminate()
            proc.wait(10)
            if proc.returncode not in (0, -15) and proc.stderr:
                print(proc.stderr.read().decode(errors="replace"))


def test_an_order_is_paid_through_nginx_with_tls(nginx, site):
    public, plain, cert, tmp, gateway = nginx
    http = requests.Session()
    http.verify, http.trust_env = cert, False  # (the environment's CA bundle would win)
    fields = site.fields(amount="61.00")
    r = http.post(public + "/pay/payrequest.cfm", data=fields, timeout=30)
    assert r.status_code == 200 and r.json()["orderstate"] == "In Process", r.text
    url = r.json()["url"]
    assert url.startswith(public + "/pay/pay.cfm?CFSID=")  # the public URL, over TLS
    page = http.get(url, timeout=30)
    assert page.status_code == 200 and "Strict-Transport-Security" in page.headers
    sid = re.search(r'name="CFSID" value="([^"]+)"', page.text).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = http.post(public + "/pay/pay.cfm", allow_redirects=False, timeout=30, data={
        "CFSID": sid, "step": "card", "csrf": csrf, "CardNumber": "4111111111111111",
        "ExpireMonth": "12", "ExpireYear": "2030", "Cardholder": "TEST HOLDER", "CVC2": "123"},
        headers={"X-Forwarded-For": "203.0.113.9"})  # a buyer's forgery: nginx replaces it
    assert r.status_code == 303 and r.headers["Location"].startswith(site.shop.url + "/ok")
    bill = re.search(r"billnumber=(\d+)", r.headers["Location"]).group(1)
    order = site.order(bill)
    assert order.state == "Approved"
    assert order.card_payment.client_ip == "127.0.0.1"  # nginx's view of the buyer, not his
    # Plain HTTP is sent to HTTPS, a form with its method kept.
    r = requests.post(plain + "/pay/order.cfm", data=fields, allow_redirects=False, timeout=30)
    assert r.status_code == 308 and r.headers["Location"].startswith("https://")
    # nginx refuses what the gateway would refuse too, before the gateway sees it.
    r = http.post(public + "/orderstate/orderstate.cfm", data=b"a" * (300 * 1024), timeout=30)
    assert r.status_code == 413
    # Neither log shows a query string.
    http.get(public + "/pay/pay.cfm", params={"CFSID": sid, "go": "1"}, timeout=30)
    time.sleep(0.5)
    access = (tmp / "assist-ws.access.log").read_text()
    assert "GET /pay/pay.cfm HTTP" in access and sid not in access
    assert sid not in gateway.log()


def test_the_site_file_is_valid_for_nginx(nginx):
    _, _, _, tmp, _ = nginx
    out = subprocess.run([NGINX, "-t", "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
