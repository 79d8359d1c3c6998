"""A throw-away PostgreSQL server for benchmarks: a temp dir, 127.0.0.1, a free port.

PostgreSQL refuses to run as root; as root the server runs as ``nobody`` on a directory that
user owns (see docs in /work/shared/DESIGN.md, "Measured on these machines"). Usage::

    with pg_server() as url:   # a SQLAlchemy URL (psycopg 3)
        ...
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")
SERVER_USER = "nobody"


def _binary(name: str) -> str:
    for directory in BIN_DIRS:
        path = Path(directory) / name
        if path.exists():
            return str(path)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"PostgreSQL server binary {name!r} not found (install postgresql-15)")
    return found


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(args: list[str], *, check: bool = True) -> None:
    command = ["runuser", "-u", SERVER_USER, "--", *args] if os.geteuid() == 0 else args
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    subprocess.run(command, check=check, capture_output=True, env=env)


@contextmanager
def pg_server(*settings: str) -> Iterator[str]:
    """Start a server (extra ``-c name=value`` ``settings``), yield its URL, stop and delete it.

    Durability is off (``fsync=off``): figures show the database's work, not the disk's.
    """
    root = Path(tempfile.mkdtemp(prefix="weiwan-bench-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, user=SERVER_USER)
    port = _port()
    _run([_binary("initdb"), "-D", str(data), "-A", "trust", "-U", "weiwan", "-E", "UTF8"])
    options = " ".join(
        [f"-p {port}", f"-k {root}", "-c listen_addresses=127.0.0.1", "-c fsync=off"]
        + [f"-c {s}" for s in settings]
    )
    _run(
        [_binary("pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]
    )
    try:
        yield f"postgresql+psycopg://weiwan@127.0.0.1:{port}/postgres"
    finally:
        _run([_binary("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], check=False)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":  # start one by hand: prints the URL, stops on Enter
    with pg_server() as url:
        print(url, flush=True)
        input("press Enter to stop ")
