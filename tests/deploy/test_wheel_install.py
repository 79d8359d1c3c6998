"""The built wheel, installed into a fresh venv beside the lock's packages, runs `weiwan serve`.

Built once per module from a copy of the working tree (``pip wheel --no-deps``; the build never
writes into the repository), installed with ``--no-deps`` into a new venv that sees the lock's
packages of the venv running the tests (a ``.pth`` line naming its site-packages), then ``pip
check``. Every command runs from a temp directory, without ``PYTHONPATH`` or ``WEIWAN_*``
variables, so that the installed package is the one imported. This catches data files the
wheel leaves out.

The lock itself is installed into a fresh venv by `make` on every fresh clone (CI's first
step); installing it a second time here cost 38-80 s of the module's 105-150 s on the 2-core
CI machine and unlinking its 27,000 files as long again, for no check of its own. The test
venv's own site-packages comes first on its path, so the wheel's package is the one imported
(the tests' venv holds weiwan as an editable path, which a path named by a ``.pth`` line does
not process; `test_the_installed_package_reads_its_shipped_files` checks the module's file).
The module is one xdist group (tests/conftest.py groups every module).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "weiwan"
ADMIN, PASSWORD = "first.admin", "Wheel-test-passw0rd"
#: variables of the test's own environment that would point the venv at the source tree or at
#: another installation's settings
_LEAKS = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PROMETHEUS_MULTIPROC_DIR")


@dataclass(frozen=True)
class Installed:
    """The fresh venv, the wheel installed into it, and a clean environment to run it in."""

    root: Path
    #: the copy of the working tree the wheel was built from (others may edit the tree meanwhile)
    tree: Path
    venv: Path
    wheel: Path
    env: dict[str, str]

    @property
    def package(self) -> Path:
        """The source of the package the wheel was built from."""
        return self.tree / "src" / "weiwan"

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def run(self, *args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
        """A command of the venv, run from an empty directory (with ``home`` as WEIWAN_HOME);
        fails with its output."""
        env = self.env if home is None else {**self.env, "WEIWAN_HOME": str(home)}
        done = subprocess.run(
            args, cwd=self.root / "cwd", env=env, capture_output=True, text=True, timeout=300,
            check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        return done


@dataclass(frozen=True)
class Served:
    """`weiwan serve` of the installed package on a fresh home."""

    url: str
    home: Path


def _clean_env() -> dict[str, str]:
    """This process's environment without what would point at the source tree (with src/ on
    PYTHONPATH, pip would even take the wheel's package as installed already) or at settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("WEIWAN_") and k not in _LEAKS}


def _pip(python: str, *args: str) -> None:
    done = subprocess.run(
        [python, "-m", "pip", "--disable-pip-version-check", "--no-input", *args],
        env=_clean_env(), cwd=tempfile.gettempdir(), capture_output=True, text=True,
        check=False, timeout=900,
    )  # fmt: skip
    output = f"{done.stdout[-3000:]}{done.stderr[-3000:]}"
    assert done.returncode == 0, f"pip {' '.join(args)}:\n{output}"


def _build_wheel(root: Path, tree: Path) -> Path:
    """The wheel of a copy of the working tree (an in-tree build would write build/ and the
    egg-info into the repository other people are editing)."""
    shutil.copytree(PACKAGE, tree / "src" / "weiwan", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "requirements.lock"):
        shutil.copy2(REPO / name, tree / name)
    _pip(sys.executable, "wheel", "--no-deps", "--wheel-dir", str(root / "dist"), str(tree))
    (wheel,) = (root / "dist").glob("weiwan-*.whl")
    return wheel


def _see_the_lock_packages(venv: Path) -> None:
    """Put the site-packages of the venv running the tests (installed from the lock) on
    ``venv``'s path, after its own."""
    purelib = sysconfig.get_paths()["purelib"]
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    (site / "site-packages" / "zz_lock_packages.pth").write_text(f"{purelib}\n", "utf-8")


@pytest.fixture(scope="module")
def installed() -> Iterator[Installed]:
    """Build the wheel, make a venv that sees the lock's packages, install the wheel."""
    root = Path(tempfile.mkdtemp(prefix="weiwan-wheel-"))
    try:
        tree = root / "tree"
        wheel = _build_wheel(root, tree)
        venv = root / "venv"
        subprocess.run(
            [sys.executable, "-m", "venv", str(venv)], env=_clean_env(), check=True, timeout=300
        )
        python = str(venv / "bin" / "python")
        _see_the_lock_packages(venv)
        _pip(python, "install", "--no-deps", "--no-compile", str(wheel))
        _pip(python, "check")  # the lock holds every requirement of the wheel
        (root / "cwd").mkdir()
        env = _clean_env()
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        yield Installed(root=root, tree=tree, venv=venv, wheel=wheel, env=env)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(installed: Installed) -> Iterator[Served]:
    """A fresh home (SQLite), its first administrator made with the CLI, `weiwan serve` on a
    free port until /healthz answers."""
    home = installed.root / "home"
    installed.run(
        installed.bin("weiwan"), "users", "create", "--username", ADMIN, "--role", "admin",
        "--branch", "HQ", "--password", PASSWORD, home=home,
    )  # fmt: skip
    port = _free_port()
    log = (installed.root / "serve.log").open("w")
    process = subprocess.Popen(
        [installed.bin("weiwan"), "serve", "--port", str(port)],
        cwd=installed.root / "cwd", env={**installed.env, "WEIWAN_HOME": str(home)},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (installed.root / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (installed.root / "serve.log").read_text()
            time.sleep(0.3)
        yield Served(url=url, home=home)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        log.close()


def _summary(installed: Installed, *, of_source: bool) -> dict[str, Any]:
    """installed_summary.py's answer, run by the venv (the installed package) or by this
    Python on the copy of src/ the wheel was built from."""
    script = str(Path(__file__).with_name("installed_summary.py"))
    if of_source:
        env = {**installed.env, "PYTHONPATH": str(installed.package.parent)}
        done = subprocess.run(
            [sys.executable, script], cwd=installed.root / "cwd", env=env, capture_output=True,
            text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    else:
        done = installed.run(installed.bin("python"), script)
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_the_wheel_holds_every_file_of_the_package(installed: Installed) -> None:
    """Every file under src/weiwan (Python or data) is in the wheel, byte for byte."""
    with zipfile.ZipFile(installed.wheel) as wheel:
        packed = {n: wheel.read(n) for n in wheel.namelist() if n.startswith("weiwan/")}
    sources = {
        path.relative_to(installed.package.parent).as_posix(): path
        for path in installed.package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert sorted(set(sources) - set(packed)) == [], "files the wheel leaves out"
    assert sorted(set(packed) - set(sources)) == [], "files in the wheel that are not in src"
    changed = [name for name, path in sources.items() if path.read_bytes() != packed[name]]
    assert changed == []


def test_the_installed_package_reads_its_shipped_files(installed: Installed) -> None:
    """The venv imports the installed package (not src/) and its loaders read the shipped YAML,
    templates, catalogues, SQL and migrations as the source tree's do."""
    found = _summary(installed, of_source=False)
    site = installed.venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert Path(found["module"]).is_relative_to(site / "site-packages")
    source = _summary(installed, of_source=True)
    assert Path(source["module"]).is_relative_to(installed.package)
    assert found["summary"] == source["summary"]
    assert found["summary"]["zh_CN_messages"] > 1000 and found["summary"]["tags"] > 0
    version = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]["version"]
    shown = installed.run(installed.bin("python"), "-m", "pip", "show", "weiwan").stdout
    assert f"Version: {version}" in shown


def test_health_readiness_and_migrations(installed: Installed, served: Served) -> None:
    """/healthz and /readyz answer; the migrations ran to the release's head (readiness checks
    it, and `weiwan db upgrade` finds nothing to do); /metrics answers this machine."""
    assert httpx.get(f"{served.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{served.url}/readyz")
    body = ready.json()
    # no publication yet: ready before the due time, 503 "late" after it
    assert ready.status_code == (200 if body["publication"] == "not yet due" else 503), body
    assert (body["database"], body["migrations"]) == ("ok", "ok"), body
    assert body["publication"] in {"not yet due", "late"}
    assert (served.home / "weiwan.db").is_file()
    upgraded = installed.run(installed.bin("weiwan"), "db", "upgrade", home=served.home).stdout
    versions = installed.package / "ops" / "migrations" / "versions"
    newest = max(path.stem for path in versions.glob("[0-9]*.py"))  # file name = revision
    assert f"already at {newest}" in upgraded
    metrics = httpx.get(f"{served.url}/metrics")
    assert metrics.status_code == 200 and "weiwan_http_requests_total" in metrics.text


def test_the_login_page_in_chinese_with_its_assets(installed: Installed, served: Served) -> None:
    """The login page renders in Chinese by default (and in English on request) and every
    stylesheet and script it names is served from /static, identical to the source's."""
    with httpx.Client(base_url=served.url) as browser:
        page = browser.get("/login")
        assert page.status_code == 200
        assert '<html lang="zh-CN">' in page.text and "<title>登录" in page.text
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
        assert any(a.endswith(".css") for a in assets) and any(a.endswith(".js") for a in assets)
        for asset in assets:
            answer = browser.get(asset)
            assert answer.status_code == 200, asset
            kind = "text/css" if asset.endswith(".css") else "javascript"
            assert kind in answer.headers["content-type"], asset
            shipped = installed.package / "web" / asset.removeprefix("/")
            assert answer.content == shipped.read_bytes(), asset
        english = browser.get("/lang/en", params={"next": "/login"}, follow_redirects=True)
        assert english.status_code == 200
        assert '<html lang="en">' in english.text and "Log in to weiwan" in english.text


def test_the_first_administrator_logs_in_through_the_api(served: Served) -> None:
    """The administrator the CLI created logs in, is known to the API, and logs out."""
    with httpx.Client(base_url=f"{served.url}/api/v1") as client:
        wrong = client.post("/auth/login", json={"username": ADMIN, "password": "not-it-at-all"})
        assert wrong.status_code == 401
        assert client.get("/auth/me").status_code == 401
        answer = client.post("/auth/login", json={"username": ADMIN, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        session = answer.json()
        assert session["user"]["role"] == "admin" and session["permissions"]["may_configure"]
        assert "httponly" in answer.headers["set-cookie"].lower()
        assert client.get("/auth/me").json()["user"]["username"] == ADMIN
        users = client.get("/users")
        assert users.status_code == 200 and [u["username"] for u in users.json()] == [ADMIN]
        headers = {"X-CSRF-Token": session["csrf_token"]}
        assert client.post("/auth/logout", headers=headers).status_code == 204
        assert client.get("/auth/me").status_code == 401
