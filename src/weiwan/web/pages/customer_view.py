"""The customer card pages' context: the card and everything around it, read in one call
(``card.page.card_page``: the reader's rights on the open tasks, the task history, the
questionnaire asked on each task, tag names, SMS templates, transfer targets), localised and
labelled here.

Every read stays inside the reader's scope: the customer came from ``find_customer`` /
``find_by_phone``; the services filter tasks and users by scope.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from weiwan.core.consent_rules import ALL_CHANNELS, PURPOSE_CHANNELS
from weiwan.core.contact_rules import CHANNELS
from weiwan.ops.campaigns.questionnaires import AskedQuestionnaire
from weiwan.ops.card.page import CardPage, card_page
from weiwan.ops.contacts.state import ChannelState, contact_state
from weiwan.ops.customers.lookups import LookupLimitError
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.events.follow_ups import follow_ups_of
from weiwan.ops.events.service import live_alerts
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role
from weiwan.ops.surveys.models import Question
from weiwan.web import formatting
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import CHANNELS as CHANNEL_WORDS
from weiwan.web.labels import (
    CONSENT_PURPOSES,
    CONTACT_RULES,
    LEAVING_REASONS,
    OUTCOMES,
    PAYMENT_TYPES,
    label,
)

#: how many days back the card shows the real-time alerts acted on
LIVE_ALERT_DAYS = 7
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
#: channel in which a contact without a task is recorded, per role
DEFAULT_CHANNEL = {
    Role.STORE_CLERK: "store",
    Role.HOTLINE_AGENT: "hotline",
}


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


def consent_choices() -> list[tuple[str, str]]:
    """What a customer may consent or object to on the card: ``purpose:channel`` and its
    words (a purpose as a whole, then each of its channels when it has several)."""
    choices = []
    for purpose, channels in PURPOSE_CHANNELS.items():
        choices.append((f"{purpose}:{ALL_CHANNELS}", label(CONSENT_PURPOSES, purpose)))
        if len(channels) > 1:
            for channel in channels:
                words = _(
                    "%(purpose)s: %(channel)s",
                    purpose=label(CONSENT_PURPOSES, purpose),
                    channel=label(CHANNEL_WORDS, channel),
                )
                choices.append((f"{purpose}:{channel}", words))
    return choices


def objection_words(objections: list[dict[str, str]]) -> list[str]:
    """The card's current objections in words, one per purpose ("Outbound calls", or
    "Outbound calls: Account manager call" when only some of its channels are objected to)."""
    by_purpose: dict[str, list[str]] = {}
    for item in objections:
        by_purpose.setdefault(item["purpose"], []).append(item["channel"])
    words = []
    for purpose, channels in by_purpose.items():
        covered = PURPOSE_CHANNELS.get(purpose) or (ALL_CHANNELS,)
        name = label(CONSENT_PURPOSES, purpose)
        if set(covered) <= set(channels):
            words.append(name)
            continue
        for channel in channels:
            words.append(
                _("%(purpose)s: %(channel)s", purpose=name, channel=label(CHANNEL_WORDS, channel))
            )
    return words


def default_channel(actor: Actor) -> str:
    """The channel a contact without a task is recorded in for this role."""
    return DEFAULT_CHANNEL.get(actor.role, "outbound_call")


def refusal_label(code: str | None) -> str:
    """A refusal reason in the reader's language (the text itself when not one of ours)."""
    if code is None:
        return "—"
    word = REFUSAL_REASONS.get(code)
    return str(word) if word is not None else code


def leaving_reason(customer: dict[str, Any]) -> dict[str, Any] | None:
    """The reason the customer would most likely leave over, in the reader's words, and its
    probability; None where the published model has no leaving-reason classifier."""
    code, share = customer.get("leaving_reason"), customer.get("leaving_reason_share")
    if not code or share is None:
        return None
    return {"text": label(LEAVING_REASONS, code), "share": float(share)}


def _localised(language: str, zh: str | None, en: str | None) -> str:
    if language.startswith("zh"):
        return zh or en or ""
    return en or zh or ""


def _questionnaire_view(asked: AskedQuestionnaire, language: str) -> QuestionnaireView:
    questionnaire = asked.questionnaire
    return QuestionnaireView(
        id=questionnaire.id,
        title=_localised(language, questionnaire.title_zh, questionnaire.title_en),
        questions=[_question(q, language) for q in asked.questions],
    )


def _questionnaires(
    asked_on: dict[int, AskedQuestionnaire], language: str
) -> dict[int, QuestionnaireView]:
    """Per workable task id: the questionnaire asked on it, in the reader's language."""
    views: dict[int, QuestionnaireView] = {}
    out: dict[int, QuestionnaireView] = {}
    for task_id, asked in asked_on.items():
        key = id(asked)
        if key not in views:
            views[key] = _questionnaire_view(asked, language)
        out[task_id] = views[key]
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
    tz: ZoneInfo,
    language: str,
    highlight_task: int | None = None,
) -> dict[str, Any]:
    """Everything the card templates need (the view itself is audited by the service), with
    the customer's standing against the contact rules on the channels the reader works in."""
    today = datetime.now(tz).date()
    page = card_page(session, actor, customer, channel=channel, today=today, language=language)
    context = _context(
        page, actor, language=language, highlight_task=highlight_task, view_channel=channel
    )
    states: dict[str, dict[str, Any]] = {}
    if page.may_work:
        wanted = {t["channel"] for t in context["tasks"]} | {context["default_channel"]}
        channels = [c for c in CHANNELS if c in wanted]
        for state in contact_state(session, customer, channels, tz=tz):
            states[state.channel] = {
                "allowed": state.verdict.allowed,
                "text": contact_state_text(state, tz),
            }
    context["contact_states"] = states
    # real-time alerts of the last week (the screen-pop's live alert: why to act now)
    since = datetime.now(tz) - timedelta(days=LIVE_ALERT_DAYS)
    context["live_alerts"] = live_alerts(session, customer.subscriber_id, since)
    context["follow_ups"] = follow_ups_of(session, customer.subscriber_id, since)
    return context


def contact_state_text(state: ChannelState, tz: ZoneInfo) -> str:
    """Contacts today against the day's cap and, when the rules stop a contact now, why and
    from when it is allowed ("今日已接触 1/1，下次 12/5 09:00")."""
    used, cap = state.used["day"], state.caps["day"]
    if cap is None:
        text = _("Contacted today: %(used)s", used=used)
    else:
        text = _("Contacted today: %(used)s/%(cap)s", used=used, cap=cap)
    if state.verdict.allowed:
        return text
    reason = str(CONTACT_RULES.get(state.verdict.reason or "", state.verdict.reason or ""))
    text += _(", ") + reason
    if state.next_allowed_at is not None:
        when = formatting.format_datetime(state.next_allowed_at, tz)
        text += _(", ") + _("next allowed %(at)s", at=when)
    return text


def _context(
    page: CardPage,
    actor: Actor,
    *,
    language: str,
    highlight_task: int | None,
    view_channel: str,
) -> dict[str, Any]:
    """The card page's data localised and labelled for the templates."""
    card, held = page.card, page.work
    tasks = []
    for task in card.open_tasks:
        rights = page.rights[task["task_id"]]
        tasks.append(
            {
                **task,
                "due_at": _parse(task.get("due_at")),
                "title": _localised(language, task.get("title_zh"), task.get("title_en")),
                "workable": rights.workable,
                "claimable": rights.claimable,
                "transferable": rights.transferable,
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
    users, branches = (held.users if page.may_work else []), held.branches
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
        "tag_names": page.tag_names,
        "customer": card.customer,
        "subscriber_id": card.customer["subscriber_id"],
        "reasons": reasons,
        "leaving_reason": leaving_reason(card.customer),
        "policies": policies,
        "policy_names": {p["policy_id"]: p["name"] for p in policies},
        "tasks": tasks,
        "highlight_task": highlight_task,
        "contacts": contacts,
        "acceptances": acceptances,
        "closed_tasks": held.closed,
        "transfers": held.transfers,
        "questionnaires": _questionnaires(page.questionnaires, language),
        "may_work": page.may_work,
        "may_send_sms": page.may_send_sms,
        "sms_templates": page.sms_templates,
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
        "objection_words": objection_words(card.objections),
        "consent_choices": consent_choices(),
    }


def _parse(value: Any) -> datetime | None:
    """The card's ISO texts (both card paths) as datetimes for the ``datetime`` formatter."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
