"""Publish the policy library (kind ``policies``): every valid policy that loaded, any
approval state, full replace in one transaction with the ``publications`` row."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from weiwan.analytics.policies import PolicyLibrary
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.pipeline.publish.bookkeeping import record_publication
from weiwan.pipeline.publish.transport import insert_rows, table_of

KIND = "policies"


def publish_policies(engine: sa.Engine, snapshot: date, library: PolicyLibrary) -> int:
    """Replace the published policies with ``library``'s; returns the policies written."""
    rows = [
        {
            "policy_id": p.id,
            "name_zh": p.name_zh,
            "name_en": p.name_en,
            "description": p.description,
            "offer_type": p.offer_type,
            "valid_from": p.valid_from,
            "valid_to": p.valid_until,  # open-ended: OPEN_END
            "min_spend": p.min_spend,
            "total_cost": p.total_cost(),
            "benefit_value": p.benefit_value,
            "commitment_months": p.commitment_months,
            "channels": " ".join(p.channels),
            "script_zh": p.script_zh,
            "script_en": p.script_en,
            "approval": p.approval,
            "budget_count": p.budget.count,
            "budget_money": p.budget.money,
        }
        for p in library.policies
    ]
    table = table_of(PublishedPolicy)
    with engine.begin() as conn:
        conn.execute(sa.delete(table))
        written = insert_rows(conn, table, rows)
        record_publication(conn, KIND, snapshot, written)
    return written
