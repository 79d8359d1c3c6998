"""Outbound call lists for external dialers (外呼平台).

The open outbound-call tasks in the caller's scope with what the dialer and its agents need
(full number — export is a permission and is audited — name, policy and script). The import of
the dialer's results is a contact record: ``contacts/dialer.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.core.tabular_export import Sheet, csv_bytes, xlsx_bytes
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.org.access import Actor
from weiwan.ops.org.service import AuditAction, audit
from weiwan.ops.scope import task_scope_clause
from weiwan.ops.tasks.models import Task

CALL_LIST_COLUMNS = (
    "task_id",
    "subscriber_id",
    "msisdn",
    "name",
    "value_tier",
    "risk_band",
    "policy_id",
    "policy_name",
    "script",
    "due_at",
)


def call_list(
    session: Session, actor: Actor, *, branch_id: int | None = None, lang: str = "zh"
) -> list[dict[str, Any]]:
    """Open outbound-call tasks in scope, most urgent first (export permission; audited)."""
    actor.require_export()
    query = (
        select(Task, CustomerView, PublishedPolicy)
        .join(CustomerView, CustomerView.subscriber_id == Task.subscriber_id)
        .outerjoin(PublishedPolicy, PublishedPolicy.policy_id == Task.policy_id)
        .where(Task.channel == "outbound_call", Task.status == "open", task_scope_clause(actor))
        .order_by(Task.due_at.asc().nulls_last(), Task.priority.desc(), Task.id)
    )
    if branch_id is not None:
        query = query.where(Task.branch_id == branch_id)
    rows = []
    for task, customer, policy in session.execute(query):
        rows.append(
            {
                "task_id": task.id,
                "subscriber_id": task.subscriber_id,
                "msisdn": customer.msisdn,
                "name": customer.name,
                "value_tier": customer.value_tier,
                "risk_band": customer.risk_band,
                "policy_id": task.policy_id,
                "policy_name": (policy.name_en if lang == "en" else policy.name_zh)
                if policy
                else None,
                "script": (policy.script_en if lang == "en" else policy.script_zh)
                if policy
                else None,
                "due_at": task.due_at.isoformat() if task.due_at else None,
            }
        )
    audit(
        session,
        actor.user_id,
        AuditAction.EXPORT,
        "call_list",
        None,
        {"rows": len(rows), "branch_id": branch_id},
    )
    return rows


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> bytes:
    """UTF-8 CSV with a BOM (Excel opens Chinese text correctly); text never a formula."""
    return csv_bytes(columns, ([row.get(c) for c in columns] for row in rows))


def to_xlsx(rows: Sequence[dict[str, Any]], columns: Sequence[str], sheet: str) -> bytes:
    """An Excel workbook with one sheet; text cells are text, never formulas."""
    return xlsx_bytes([Sheet(sheet, columns, ([row.get(c) for c in columns] for row in rows))])
