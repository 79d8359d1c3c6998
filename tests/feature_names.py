"""The model's feature names as docs/features.md lists them (the key columns left out)."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "features.md"
KEYS = frozenset({"subscriber_id", "snapshot_date"})


def documented_features() -> list[str]:
    """Every feature named in the first column of the doc's tables."""
    names: list[str] = []
    for line in DOC.read_text("utf-8").splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 3 or not cells[1] or cells[1].startswith(("-", "*", "feature")):
            continue
        names += [n.strip() for n in cells[1].split(",") if n.strip() not in KEYS]
    return names
