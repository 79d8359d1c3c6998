"""The shipped nginx configuration (deploy/nginx/weiwan.conf) in front of `weiwan serve`, with a
self-signed certificate: TLS, plain HTTP sent to HTTPS, the session cookie Secure, the client's
own address (not the proxy's) in the audit trail, static files from disk with caching headers.
Debian's nginx is installed by `make test` when missing."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

import weiwan.web
from api_helpers import PASSWORD
from weiwan.core.db import make_engine

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, **options: object) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url, timeout=1, **options)  # type: ignore[arg-type]
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.2)


@contextmanager
def _running(command: list[str], env: dict[str, str] | None = None) -> Iterator[None]:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_the_app_behind_nginx_with_tls(
    engine: Engine, people: dict[str, int], tmp_path: Path
) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx not found: `make test` installs Debian's nginx")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    app_port, https_port, http_port = _port(), _port(), _port()
    static = Path(weiwan.web.__file__).parent / "static"
    site = (REPO / "deploy" / "nginx" / "weiwan.conf").read_text()
    for shipped, here in (
        ("/etc/ssl/weiwan/cert.pem", str(cert)),
        ("/etc/ssl/weiwan/key.pem", str(key)),
        ("/opt/weiwan/static/", f"{static}/"),
        ("127.0.0.1:8000", f"127.0.0.1:{app_port}"),
        ("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
    ):
        assert shipped in site, shipped
        site = site.replace(shipped, here)
    (tmp_path / "weiwan.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"daemon off;\nuser root;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{\n  include /etc/nginx/mime.types;\n"
        f"  access_log {tmp_path}/access.log;\n  client_body_temp_path {tmp_path}/body;\n"
        f"  proxy_temp_path {tmp_path}/proxy;\n  include {tmp_path}/weiwan.conf;\n}}\n"
    )
    url = engine.url.render_as_string(hide_password=False)
    env = {
        **os.environ,
        "WEIWAN_DATABASE_URL": url,
        "WEIWAN_HOME": str(tmp_path),
        "WEIWAN_SECRET_KEY": "nginx-test",
        "WEIWAN_SECURE_COOKIES": "true",
    }
    serve = [sys.executable, "-m", "weiwan", "serve", "--port", str(app_port)]
    proxy = [nginx, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)]
    base = f"https://127.0.0.1:{https_port}"
    # the browser's side: its own address, 127.0.0.2 (the proxy talks to the app from .1)
    trusted = ssl.create_default_context(cafile=str(cert))
    transport = httpx.HTTPTransport(local_address="127.0.0.2", verify=trusted)
    with _running(serve, env), _running(proxy):
        _wait(f"http://127.0.0.1:{app_port}/healthz")
        _wait(f"{base}/healthz", verify=trusted)
        with httpx.Client(transport=transport, base_url=base) as browser:
            answer = browser.post(
                "/api/v1/auth/login", json={"username": "director", "password": PASSWORD}
            )
            assert answer.status_code == 200, answer.text
            cookie = answer.headers["set-cookie"]
            assert "secure" in cookie.lower() and "httponly" in cookie.lower()
            css = browser.get("/static/app.css")
            assert css.status_code == 200 and "max-age=604800" in css.headers["cache-control"]
            assert "public" in css.headers["cache-control"]
        plain = httpx.get(f"http://127.0.0.1:{http_port}/login")
        assert plain.status_code == 301 and plain.headers["location"].startswith("https://")
    audit = make_engine(url)
    try:
        with audit.connect() as conn:
            ip = conn.execute(
                sa.text("SELECT ip FROM audit_events WHERE action = 'login_ok' ORDER BY id DESC")
            ).scalar()
    finally:
        audit.dispose()
    assert ip == "127.0.0.2"
