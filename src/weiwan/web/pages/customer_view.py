"""What the customer card pages show around the unified view (``card.service``): which of the
open tasks the reader may work or transfer, the transfer history, recently closed tasks, the
questionnaire asked on each task (its campaign's, or the return visit's), SMS templates,
transfer targets.

Every read stays inside the reader's scope: the customer came from ``find_customer`` /
``find_by_phone``, tasks are filtered by ``task_scope_clause``, users by ``user_scope_clause``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.core.contact_rules import CHANNELS
from weiwan.ops.campaigns.models import Campaign
from weiwan.ops.card.service import CustomerCard, customer_card
from weiwan.ops.customers.lookups import LookupLimitError
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.tags import tag_names
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import Branch, User
from weiwan.ops.org.roles import Role
from weiwan.ops.scope import task_scope_clause, user_scope_clause
from weiwan.ops.sms.service import SENDERS, list_templates
from weiwan.ops.surveys.arrivals import VISIT_SOURCE
from weiwan.ops.surveys.models import Question, Questionnaire
from weiwan.ops.surveys.return_visit import return_visit_questionnaire
from weiwan.ops.surveys.service import questions_of
from weiwan.ops.tasks.models import Task, TaskTransfer
from weiwan.ops.tasks.service import DISPATCHERS
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import OUTCOMES

#: codes of refusal reasons offered in the outcome form (stored as the code)
REFUSAL_REASONS: dict[str, Any] = {
    "price": _l("Price too high"),
    "network_quality": _l("Network quality"),
    "service": _l("Unhappy with the service"),
    "competitor_offer": _l("Competitor's offer"),
    "moving_away": _l("Moving away"),
    "not_interested": _l("Not interested"),
    "other": _l("Other reason"),
}
MANAGER_KINDS: dict[str, Any] = {
    "account_manager": _l("Account manager"),
    "retention_manager": _l("Retention manager"),
    "outbound_manager": _l("Outbound manager"),
}
PAYMENT_TYPES: dict[str, Any] = {"prepaid": _l("Prepaid"), "postpaid": _l("Postpaid")}
#: channel in which a contact without a task is recorded, per role
DEFAULT_CHANNEL = {
    Role.STORE_CLERK: "store",
    Role.HOTLINE_AGENT: "hotline",
}
CLOSED_SHOWN = 10
WORKING_ROLES_EXCLUDED = (Role.ADMIN, Role.ANALYST)
TRANSFER_TARGET_ROLES = (Role.AGENT, Role.STORE_CLERK, Role.HOTLINE_AGENT, Role.SHIFT_LEAD)


@dataclass(slots=True)
class QuestionView:
    """One question of a questionnaire in the reader's language."""

    id: int
    kind: str
    text: str
    required: bool
    options: list[tuple[str, str]]


@dataclass(slots=True)
class QuestionnaireView:
    """The questionnaire asked on a task (a campaign's, or the return visit's)."""

    id: int
    title: str
    questions: list[QuestionView] = field(default_factory=list)


def may_work(actor: Actor) -> bool:
    """Whether the role records contacts, sends messages and works tasks."""
    return actor.role not in WORKING_ROLES_EXCLUDED


def default_channel(actor: Actor) -> str:
    """The channel a contact without a task is recorded in for this role."""
    return DEFAULT_CHANNEL.get(actor.role, "outbound_call")


def refusal_label(code: str | None) -> str:
    """A refusal reason in the reader's language (the text itself when not one of ours)."""
    if code is None:
        return "—"
    word = REFUSAL_REASONS.get(code)
    return str(word) if word is not None else code


def _localised(language: str, zh: str | None, en: str | None) -> str:
    if language.startswith("zh"):
        return zh or en or ""
    return en or zh or ""


def _questionnaire_view(
    session: Session, questionnaire: Questionnaire, language: str
) -> QuestionnaireView:
    return QuestionnaireView(
        id=questionnaire.id,
        title=_localised(language, questionnaire.title_zh, questionnaire.title_en),
        questions=[_question(q, language) for q in questions_of(session, questionnaire.id)],
    )


def _questionnaires(
    session: Session, tasks: list[dict[str, Any]], language: str
) -> dict[int, QuestionnaireView]:
    """Per workable task id: the questionnaire asked on it — its campaign's (active), or the
    return-visit questionnaire on a new subscriber's visit (source ``arrival``)."""
    campaign_ids = {t["campaign_id"] for t in tasks if t.get("campaign_id") and t["workable"]}
    by_campaign: dict[int, QuestionnaireView] = {}
    if campaign_ids:
        rows = session.execute(
            select(Campaign.id, Questionnaire)
            .join(Questionnaire, Questionnaire.id == Campaign.questionnaire_id)
            .where(Campaign.id.in_(campaign_ids), Questionnaire.status == "active")
        ).all()
        by_campaign = {cid: _questionnaire_view(session, q, language) for cid, q in rows}
    visit: QuestionnaireView | None = None
    if any(t.get("source") == VISIT_SOURCE and t["workable"] for t in tasks):
        found = return_visit_questionnaire(session)
        visit = _questionnaire_view(session, found, language) if found is not None else None
    out: dict[int, QuestionnaireView] = {}
    for task in tasks:
        is_visit = task.get("source") == VISIT_SOURCE
        asked = visit if is_visit else by_campaign.get(task.get("campaign_id") or 0)
        if task["workable"] and asked is not None:
            out[task["task_id"]] = asked
    return out


def _question(question: Question, language: str) -> QuestionView:
    options = [
        (str(o["value"]), _localised(language, o.get("label_zh"), o.get("label_en")))
        for o in json.loads(question.options or "[]")
    ]
    return QuestionView(
        id=question.id,
        kind=question.kind,
        text=_localised(language, question.text_zh, question.text_en),
        required=question.required,
        options=options,
    )


def _task_rights(session: Session, actor: Actor, task_ids: list[int]) -> dict[int, int | None]:
    """Open tasks of the card in the reader's task scope, with their assignee."""
    if not task_ids:
        return {}
    return {
        task_id: assignee
        for task_id, assignee in session.execute(
            select(Task.id, Task.assignee_id).where(Task.id.in_(task_ids), task_scope_clause(actor))
        )
    }


def _transfers(session: Session, actor: Actor, subscriber_id: str) -> list[dict[str, Any]]:
    """Transfer steps of the customer's tasks in the reader's scope, newest first."""
    steps = list(
        session.scalars(
            select(TaskTransfer)
            .join(Task, Task.id == TaskTransfer.task_id)
            .where(Task.subscriber_id == subscriber_id, task_scope_clause(actor))
            .order_by(TaskTransfer.at.desc(), TaskTransfer.id.desc())
            .limit(30)
        )
    )
    ids = {u for t in steps for u in (t.by_user_id, t.from_user_id, t.to_user_id) if u}
    names: dict[int, str] = (
        {
            user_id: name
            for user_id, name in session.execute(
                select(User.id, User.display_name).where(User.id.in_(ids))
            )
        }
        if ids
        else {}
    )
    return [
        {
            "task_id": t.task_id,
            "at": t.at,
            "by": names.get(t.by_user_id),
            "from_user": names.get(t.from_user_id) if t.from_user_id else None,
            "to_user": names.get(t.to_user_id) if t.to_user_id else None,
            "from_branch_id": t.from_branch_id,
            "to_branch_id": t.to_branch_id,
            "from_channel": t.from_channel,
            "to_channel": t.to_channel,
            "reason": t.reason,
        }
        for t in steps
    ]


def _recently_closed(session: Session, subscriber_id: str) -> list[dict[str, Any]]:
    """The customer's latest finished tasks (the card lists only open ones)."""
    rows = session.execute(
        select(
            Task.id,
            Task.channel,
            Task.status,
            Task.policy_id,
            Task.closed_at,
            Task.closed_reason,
        )
        .where(Task.subscriber_id == subscriber_id, Task.status != "open")
        .order_by(Task.closed_at.desc().nulls_last(), Task.id.desc())
        .limit(CLOSED_SHOWN)
    )
    return [dict(r._mapping) for r in rows]


def transfer_targets(session: Session, actor: Actor) -> tuple[list[Any], list[Any]]:
    """Active colleagues the reader may hand a task to, and the branches (stores) by code."""
    users = session.execute(
        select(User.id, User.display_name, User.role)
        .where(
            User.active.is_(True),
            User.id != actor.user_id,
            User.role.in_([r.value for r in TRANSFER_TARGET_ROLES]),
            user_scope_clause(actor, User.id),
        )
        .order_by(User.display_name)
        .limit(500)
    ).all()
    branches = session.execute(
        select(Branch.id, Branch.code, Branch.name_zh, Branch.name_en).order_by(Branch.code)
    ).all()
    return list(users), list(branches)


def too_many_text(exc: LookupLimitError) -> str:
    """The reader's message for a refused lookup (the rate limit per minute)."""
    return _(
        "Too many customer lookups: at most %(limit)s a minute. Try again in %(seconds)s s.",
        limit=exc.limit,
        seconds=exc.retry_after,
    )


def card_context(
    session: Session,
    actor: Actor,
    customer: CustomerView,
    *,
    channel: str,
    today: Any,
    language: str,
    highlight_task: int | None = None,
) -> dict[str, Any]:
    """Everything the card templates need (the view itself is audited by the service)."""
    card: CustomerCard = customer_card(session, actor, customer, channel=channel, today=today)
    return work_context(
        session,
        actor,
        card,
        language=language,
        highlight_task=highlight_task,
        view_channel=channel,
    )


def work_context(
    session: Session,
    actor: Actor,
    card: CustomerCard,
    *,
    language: str,
    highlight_task: int | None = None,
    view_channel: str = "workbench",
) -> dict[str, Any]:
    """The card plus the reader's rights on its tasks and the forms' choices."""
    sid = card.customer["subscriber_id"]
    rights = _task_rights(session, actor, [t["task_id"] for t in card.open_tasks])
    working = may_work(actor)
    tasks = []
    for task in card.open_tasks:
        in_scope = task["task_id"] in rights
        assignee = rights.get(task["task_id"])
        tasks.append(
            {
                **task,
                "due_at": _parse(task.get("due_at")),
                "title": _localised(language, task.get("title_zh"), task.get("title_en")),
                "workable": working and in_scope,
                "claimable": working and in_scope and assignee is None,
                "transferable": working
                and in_scope
                and (actor.role in DISPATCHERS or assignee == actor.user_id),
            }
        )
    if highlight_task is not None:
        tasks.sort(key=lambda t: t["task_id"] != highlight_task)
    workable = [t for t in tasks if t["workable"]]
    first_workable = next(
        (t for t in workable if t["task_id"] == highlight_task),
        next((t for t in workable if t["channel"] == view_channel), None),
    ) or next(iter(workable), None)
    if first_workable is not None:
        first_workable["form_open"] = True
    users, branches = transfer_targets(session, actor)
    if not working:
        users = []
    policies = [
        {
            **p,
            "name": _localised(language, p.get("name_zh"), p.get("name_en")),
            "script": _localised(language, p.get("script_zh"), p.get("script_en")),
        }
        for p in card.policies
    ]
    reasons = [{**r, "text": _localised(language, r.get("zh"), r.get("en"))} for r in card.reasons]
    contacts = [
        {
            **c,
            "at": _parse(c.get("at")),
            "outcomes": [
                {**o, "call_back_at": _parse(o.get("call_back_at"))} for o in c["outcomes"]
            ],
        }
        for c in card.contacts
    ]
    acceptances = [{**a, "at": _parse(a.get("at"))} for a in card.acceptances]
    return {
        "card": card,
        "tag_names": tag_names(session, card.tags, language),
        "customer": card.customer,
        "subscriber_id": sid,
        "reasons": reasons,
        "policies": policies,
        "policy_names": {p["policy_id"]: p["name"] for p in policies},
        "tasks": tasks,
        "highlight_task": highlight_task,
        "contacts": contacts,
        "acceptances": acceptances,
        "closed_tasks": _recently_closed(session, sid),
        "transfers": _transfers(session, actor, sid),
        "questionnaires": _questionnaires(session, tasks, language),
        "may_work": working,
        "may_send_sms": actor.role in SENDERS,
        "sms_templates": list_templates(session) if actor.role in SENDERS else [],
        "refusal_reasons": REFUSAL_REASONS,
        "outcome_codes": tuple(OUTCOMES),
        "manager_kinds": MANAGER_KINDS,
        "payment_words": PAYMENT_TYPES,
        "refusal_label": refusal_label,
        "channels": CHANNELS,
        "default_channel": default_channel(actor),
        "transfer_users": users,
        "transfer_branches": branches,
        "branch_names": {b.id: _localised(language, b.name_zh, b.name_en) for b in branches},
        "view_channel": view_channel,
    }


def _parse(value: Any) -> datetime | None:
    """The card's ISO texts (both card paths) as datetimes for the ``datetime`` formatter."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def local_input(moment: datetime, tz: ZoneInfo) -> str:
    """A moment as a ``datetime-local`` input value in the centre's time zone."""
    return moment.astimezone(tz).strftime("%Y-%m-%dT%H:%M")
