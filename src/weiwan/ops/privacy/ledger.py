"""The erasure ledger: every erasure appended to a file kept apart from the backups, so that a
backup made before an erasure, once restored, is erased again (``weiwan restore``).

One JSON object per line: first the installation's pseudonym salt (``{"salt": …}``: the
digests mean nothing without it, and a backup made before the first erasure holds none), then
per erasure its salted digest and pseudonym (``{"digest": …, "pseudonym": …, "erased_at": …}``)
— never an id, number or name. Written by hand: a few lines appended per erasure need no
library. The file is created readable by its owner only; keep a copy with the backups' keys,
not with the backups.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from weiwan.core.errors import ConfigError, localisable
from weiwan.core.files import private_dir


@dataclass(frozen=True)
class Ledger:
    """A ledger's salt and its erasures (digest, pseudonym), in the order made."""

    salt: str | None
    erasures: list[tuple[str, str]]


def record_erasure(path: Path, salt: str, digest: str, pseudonym: str) -> None:
    """Append one erasure to the ledger at ``path`` (created, with the salt, when missing);
    flushed to disk before the erasure's transaction commits, so a committed erasure is never
    missing from it (one appended for a transaction that then failed re-erases a subscriber
    who asked to be erased). :class:`ConfigError` when it cannot be written."""
    try:
        private_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            if out.tell() == 0:
                out.write(json.dumps({"salt": salt}) + "\n")
            at = datetime.now(UTC).isoformat(timespec="seconds")
            entry = {"digest": digest, "pseudonym": pseudonym, "erased_at": at}
            out.write(json.dumps(entry) + "\n")
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:  # the erasure's transaction then rolls back: nothing erased
        raise localisable(
            ConfigError(
                f"the erasure ledger {path} cannot be written ({exc.strerror}): nothing "
                "erased; check WEIWAN_ERASURE_LEDGER"
            ),
            "The erasure ledger cannot be written: nothing was erased. Ask IT to check "
            "WEIWAN_ERASURE_LEDGER.",
        ) from exc


def read_ledger(path: Path) -> Ledger:
    """The ledger at ``path``; :class:`ConfigError` naming the file and line of a line that
    is not a ledger entry."""
    salt: str | None = None
    erasures: list[tuple[str, str]] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                if "salt" in entry:
                    salt = str(entry["salt"])
                else:
                    erasures.append((str(entry["digest"]), str(entry["pseudonym"])))
            except (ValueError, TypeError, KeyError) as exc:
                raise ConfigError(
                    f"{path}, line {number}: not an erasure ledger entry ({exc})"
                ) from exc
    return Ledger(salt, erasures)
