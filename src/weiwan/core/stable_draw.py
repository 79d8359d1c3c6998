"""The stable random draw behind every hold-out and strategy arm: the first 8 hex digits of
md5("<group>:<subscriber>") as an integer in [0, 16⁸). A subscriber draws the same number in
every run, newcomers move nobody, and different groups draw independently. In core because the
daily decisions (which also compile it to SQL: DuckDB and Spark give the same md5), the
strategy arms and the event rules' hold-outs all use it."""

from __future__ import annotations

import hashlib

#: the draw's range: 8 hex digits
SPAN = 16**8


def draw(group: str, subscriber_id: str) -> int:
    """The subscriber's number in ``group``."""
    digest = hashlib.md5(f"{group}:{subscriber_id}".encode(), usedforsecurity=False)
    return int(digest.hexdigest()[:8], 16)


def holdout_bound(share: float) -> int:
    """The bound a hold-out of ``share`` is drawn below (held out: ``draw < bound``)."""
    return min(int(share * SPAN), SPAN - 1)
