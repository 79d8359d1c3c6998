"""Branches of the published rows: branch codes of the data → ``branches`` ids.

Every branch code of the customer view is made to exist in ``branches`` (missing ones are
created with the code as both names). When the profile has ``region`` and the data is clean
(each branch code lies in exactly one region, and no region code is also a branch code of the
view) each region becomes a city branch (created when missing) and newly created branch codes
hang under it; branches that already exist are never changed. The other kinds look their
branch codes up (:func:`branch_ids`); a code without a branch keeps ``branch_id`` NULL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from weiwan.core.logging import get_logger
from weiwan.ops.org.models import Branch
from weiwan.ops.org.service import forget_branch_tree
from weiwan.pipeline.publish.transport import table_of

log = get_logger(__name__)


def branch_ids(conn: sa.Connection) -> dict[str, int]:
    """Branch code → id of every branch."""
    return {
        str(code): int(ident)
        for code, ident in conn.execute(sa.select(Branch.code, Branch.id)).all()
    }


def ensure_branches(
    conn: sa.Connection, pairs: Sequence[tuple[str | None, str | None]]
) -> tuple[dict[str, int], int]:
    """Make every branch code of ``pairs`` ((branch code, region)) exist in ``branches``.

    Returns code -> id (for every branch code, and the region branches used as parents) and
    the number of branches created. Existing branches are left as they are.
    """
    table = table_of(Branch)
    existing = branch_ids(conn)
    regions_of: dict[str, set[str]] = {}
    for code, region in pairs:
        if code:
            regions_of.setdefault(code, set())
            if region:
                regions_of[code].add(region)
    codes = set(regions_of)
    clean = all(len(r) <= 1 for r in regions_of.values()) and not (
        {r for rs in regions_of.values() for r in rs} & codes
    )
    if not clean:
        log.warning(
            "publish.branches_flat",
            reason="a branch lies in several regions, or a "
            "region code is also a branch code: new branches get no parent",
        )
    created = 0

    def create(code: str, parent: int | None) -> int:
        nonlocal created
        inserted = conn.execute(
            sa.insert(table).values(code=code, name_zh=code, name_en=code, parent_id=parent)
        )
        created += 1
        key = inserted.inserted_primary_key
        assert key is not None
        return int(key[0])

    for code in sorted(codes - set(existing)):
        parent = None
        region = next(iter(regions_of[code]), None) if clean else None
        if region is not None:
            if region not in existing:
                existing[region] = create(region, None)
            parent = existing[region]
        existing[code] = create(code, parent)
    if created:
        log.info("publish.branches_created", created=created)
        forget_branch_tree()
    return existing, created
