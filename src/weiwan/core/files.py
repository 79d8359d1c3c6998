"""Local state kept private: directories we create are 0700, database files 0600."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parent as 0700 (existing directories are left alone:
    an operator may have set them up on purpose)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:  # created meanwhile by another process
            continue
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 unless it exists (a new SQLite database is an
    empty file; SQLite gives its -wal and -shm files the same mode)."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    return path


def restrict(path: Path) -> None:
    """Make an existing file 0600 (for files another library creates, e.g. DuckDB's)."""
    if path.exists():
        path.chmod(PRIVATE_FILE)
