"""Tables of the campaign pages (plan list, approval queue, plan library) and the choices of
the plan form (branches, policies, channels, questionnaires, filter fields)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from weiwan.core.contact_rules import CHANNELS
from weiwan.core.filters import OPS
from weiwan.ops.campaigns import service
from weiwan.ops.campaigns.models import Campaign
from weiwan.ops.customers.tags import tag_labels
from weiwan.ops.offers.service import list_policies
from weiwan.ops.org.access import Actor
from weiwan.ops.org.admin import list_branches
from weiwan.ops.surveys.library import list_questionnaires
from weiwan.ops.surveys.models import Questionnaire
from weiwan.web.i18n import current_language
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import OFFER_TYPES, label, template_globals
from weiwan.web.pages.campaign_forms import (
    FIELD_LABELS,
    FILTER_FIELDS,
    INTERNAL_FIELDS,
    OP_LABELS,
    value_choices,
)
from weiwan.web.tables import Column, Table


def _href(row: Any) -> str:
    return f"/campaigns/{row['id']}"


def branch_names(session: Session) -> dict[int, str]:
    """Branch names in the reader's language by id."""
    english = current_language() == "en"
    return {b.id: (b.name_en if english else b.name_zh) for b in list_branches(session)}


def campaign_row(campaign: Campaign, names: dict[int, str]) -> dict[str, Any]:
    """One plan as a table row."""
    labels = template_globals()
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": labels["campaign_state_label"](campaign.status),
        "branch": names.get(campaign.branch_id, str(campaign.branch_id)),
        "channels": ", ".join(labels["channel_label"](c) for c in service.loads(campaign.channels)),
        "start_date": campaign.start_date,
        "end_date": campaign.end_date,
        "holdout_share": campaign.holdout_share,
        "approval_level": campaign.approval_level,
        "updated_at": campaign.updated_at,
    }


def campaign_table(
    table_id: str, campaigns: Sequence[Campaign], names: dict[int, str], title: Any
) -> Table:
    """Plans as a table (id and name link to the plan)."""
    return Table(
        table_id,
        (
            Column("id", _l("No."), "link", href=_href),
            Column("name", _l("Plan name"), "link", href=_href),
            Column("status", _l("State")),
            Column("branch", _l("Branch")),
            Column("channels", _l("Channels")),
            Column("start_date", _l("Start"), "date"),
            Column("end_date", _l("End"), "date"),
            Column("holdout_share", _l("Hold-out share"), "percent"),
            Column("approval_level", _l("Approval level"), "int"),
            Column("updated_at", _l("Changed"), "datetime"),
        ),
        [campaign_row(c, names) for c in campaigns],
        title=title,
        empty=_l("No campaigns."),
    )


def library_table(campaigns: Sequence[Campaign], names: dict[int, str]) -> Table:
    """The plan library with each plan's evaluation figures (empty until evaluated)."""
    rows: list[dict[str, Any]] = []
    for campaign in campaigns:
        row = campaign_row(campaign, names)
        figures = service.loads(campaign.evaluation) or {}
        arms = figures.get("arms", {})
        row.update(
            treated=arms.get("treated", {}).get("members"),
            retention_treated=arms.get("treated", {}).get("retention_rate"),
            retention_holdout=arms.get("holdout", {}).get("retention_rate"),
            incremental_saves=figures.get("incremental_saves"),
            cost=figures.get("cost"),
            roi=figures.get("roi"),
        )
        rows.append(row)
    return Table(
        "plan-library",
        (
            Column("id", _l("No."), "link", href=_href),
            Column("name", _l("Plan name"), "link", href=_href),
            Column("status", _l("State")),
            Column("branch", _l("Branch")),
            Column("start_date", _l("Start"), "date"),
            Column("end_date", _l("End"), "date"),
            Column("treated", _l("Treated members"), "int"),
            Column("retention_treated", _l("Retention rate (treated)"), "percent"),
            Column("retention_holdout", _l("Retention rate (hold-out)"), "percent"),
            Column("incremental_saves", _l("Incremental saves"), "number"),
            Column("cost", _l("Cost"), "money"),
            Column("roi", _l("ROI"), "percent"),
        ),
        rows,
        title=_l("Plan library"),
        empty=_l("No finished plans yet."),
    )


def questionnaire_title(session: Session, questionnaire_id: int | None) -> str | None:
    """The title of a plan's questionnaire in the reader's language (None without one)."""
    if questionnaire_id is None:
        return None
    found = session.get(Questionnaire, questionnaire_id)
    if found is None:
        return str(questionnaire_id)
    english = current_language() == "en"
    return (found.title_en or found.title_zh) if english else found.title_zh


def form_choices(session: Session, actor: Actor) -> dict[str, Any]:
    """What the plan form offers: the actor's branches, the published policies, channels,
    active questionnaires, the filter fields and operators."""
    english = current_language() == "en"
    return {
        "branches": [
            (b.id, b.name_en if english else b.name_zh)
            for b in list_branches(session)
            if service.sees_branch(actor, b.id)
        ],
        "policies": [
            (p.policy_id, p.name_en if english else p.name_zh, label(OFFER_TYPES, p.offer_type))
            for p in list_policies(session)
        ],
        "all_channels": CHANNELS,
        "questionnaires": [
            (q.id, (q.title_en or q.title_zh) if english else q.title_zh)
            for q in list_questionnaires(session)
        ],
        "filter_fields": [
            (f, str(FIELD_LABELS.get(f, f))) for f in FILTER_FIELDS if f not in INTERNAL_FIELDS
        ],
        "internal_fields": {f: str(FIELD_LABELS.get(f, f)) for f in INTERNAL_FIELDS},
        "filter_ops": [(op, str(OP_LABELS.get(op, op))) for op in OPS],
        "value_choices": value_choices(tag_labels(session)),
    }
