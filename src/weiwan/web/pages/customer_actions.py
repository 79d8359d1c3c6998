"""The card's actions, from form fields to the same services the API calls: record a contact
with its outcomes (``contacts.service.record_call``) and the campaign's questionnaire
(``surveys.answers.record_answers``), send an SMS (``sms.service.send_one``), record the
customer's consent or objection (``consents.service.record_for_customer``), claim and
transfer a task (``tasks.service``).

The outcome form's optional "data is wrong" part (field, right value, note) files a
data-quality report with the contact's id in the same transaction
(``dataquality.service.file_report``); left empty, the form works as before.

Each returns a :class:`FormMessage` for the form instead of raising for what the user can fix
(a contact-policy refusal, a missing refusal reason, an offer already accepted elsewhere).
A refused request leaves nothing behind (the transaction is rolled back), except a contact the
contact policy blocked, which is kept as the API keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from weiwan.core.consent_rules import CONSENT, OBJECTION, check_statement
from weiwan.core.contact_rules import CHANNELS
from weiwan.core.errors import ConflictError, InvalidRequestError
from weiwan.ops.consents.schemas import ConsentIn
from weiwan.ops.consents.service import record_for_customer
from weiwan.ops.contacts.policy_check import Verdict
from weiwan.ops.contacts.schemas import CallIn, OutcomeIn
from weiwan.ops.contacts.service import record_call
from weiwan.ops.dataquality.fields import FIELDS, normalise_value
from weiwan.ops.dataquality.schemas import ReportIn
from weiwan.ops.dataquality.service import DuplicateReportError, file_report
from weiwan.ops.org.access import Actor
from weiwan.ops.sms.service import send_one
from weiwan.ops.surveys.answers import record_answers
from weiwan.ops.surveys.library import get_questionnaire, questions_of
from weiwan.ops.surveys.schemas import AnswerIn
from weiwan.ops.tasks.service import claim_task, get_task, transfer_task
from weiwan.web import formatting
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import CONSENT_PURPOSES, OUTCOMES, label

OUTCOME_CODES = tuple(OUTCOMES)
#: what a contact-policy refusal means, per reason code
BLOCK_REASONS: dict[str, Any] = {
    "quiet_hours": _l("Quiet hours: no contact on this channel now."),
    "cap_day": _l("The daily contact limit for this customer is reached."),
    "cap_week": _l("The weekly contact limit for this customer is reached."),
    "cap_month": _l("The monthly contact limit for this customer is reached."),
    "cross_channel_cap": _l("The customer has been contacted enough across channels."),
    "objection": _l("The customer objected to being contacted this way (consent ledger)."),
    "dnd": _l("The customer asked not to be contacted on this channel (do not disturb)."),
    "cool_off": _l("The customer refused recently: cool-off period."),
    "unknown_channel": _l("Unknown channel."),
}


@dataclass(slots=True)
class FormMessage:
    """The result shown in the form: ``kind`` is a Bootstrap alert kind."""

    kind: str
    text: str
    task_id: int | None = None
    form: str = "outcome"
    next_allowed_at: datetime | None = None
    closed_task_ids: list[int] = field(default_factory=list)
    #: what was typed and chosen, put back into the form when it was refused
    kept: dict[str, Any] = field(default_factory=dict)


#: the fields each form puts back after a refusal (lists: several values of one name)
_OUTCOME_FIELDS = ("channel", "refusal_reason", "policy_id", "call_back_at", "note", "dq_field",
                   "dq_value", "dq_note")  # fmt: skip
_SMS_FIELDS = ("template_id", "language", "body", "acceptance_id")
_CONSENT_FIELDS = ("what", "state", "reference")
_LISTS = ("outcome", "var_name", "var_value")


def kept_input(form: FormData, fields: tuple[str, ...]) -> dict[str, Any]:
    """The form's typed values of ``fields`` (and its multi-valued fields), to show again."""
    kept: dict[str, Any] = {
        name: str(form.get(name) or "")[:2000] for name in fields if form.get(name)
    }
    for name in _LISTS:
        values = [str(v)[:200] for v in form.getlist(name) if isinstance(v, str)]
        if values:
            kept[name] = values
    return kept


class FormError(Exception):
    """An input the user can correct; the message is already translated."""


def _text(form: FormData, name: str, limit: int = 2000) -> str | None:
    value = form.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:limit] if value else None


def _id(form: FormData, name: str) -> int | None:
    value = _text(form, name, 20)
    if value is None:
        return None
    if not value.isdigit() or not 0 < int(value) < 2**31:
        raise FormError(_("Please check your input"))
    return int(value)


def _local_time(value: str | None, tz: ZoneInfo) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise FormError(_("Give the call-back time as date and time.")) from exc
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def blocked_text(verdict: Verdict, tz: ZoneInfo) -> str:
    """A contact-policy refusal in the reader's words, with the next allowed time."""
    text = str(BLOCK_REASONS.get(verdict.reason or "", verdict.reason or ""))
    if verdict.next_allowed_at is not None:
        when = formatting.format_datetime(verdict.next_allowed_at, tz)
        text += " " + _("Next allowed time: %(at)s.", at=when)
    return text


def call_from_form(
    session: Session, actor: Actor, subscriber_id: str, form: FormData, tz: ZoneInfo
) -> CallIn:
    """The contact the outcome form describes (checked with translated messages first)."""
    task_id = _id(form, "task_id")
    channel = _text(form, "channel", 32)
    if task_id is not None:
        channel = get_task(session, actor, task_id).channel  # 404 outside the scope
    if channel not in CHANNELS:
        raise FormError(_("Choose the channel of the contact."))
    kinds = [k for k in form.getlist("outcome") if k in OUTCOME_CODES]
    if not kinds:
        raise FormError(_("Choose at least one outcome."))
    if len(set(kinds)) != len(kinds):
        kinds = list(dict.fromkeys(kinds))
    if "not_reached" in kinds and len(kinds) > 1:
        raise FormError(_("“Not reached” cannot go with other outcomes."))
    if "accepted" in kinds and "refused" in kinds:
        raise FormError(_("“Accepted” and “Refused” exclude each other."))
    reason = _text(form, "refusal_reason", 200)
    if "refused" in kinds and reason is None:
        raise FormError(_("Choose why the customer refused."))
    call_back = _local_time(_text(form, "call_back_at", 32), tz)
    if "call_back" in kinds and call_back is None:
        raise FormError(_("Give the time to call back."))
    policy = _text(form, "policy_id", 64)
    outcomes = [
        OutcomeIn(
            outcome=kind,
            refusal_reason=reason if kind == "refused" else None,
            call_back_at=call_back if kind == "call_back" else None,
            policy_id=policy if kind == "accepted" else None,
        )
        for kind in kinds
    ]
    try:
        return CallIn(
            subscriber_id=subscriber_id,
            channel=channel,
            task_id=task_id,
            outcomes=outcomes,
            note=_text(form, "note", 2000),
        )
    except ValidationError as exc:
        raise FormError(_("Please check your input")) from exc


def answers_from_form(session: Session, form: FormData) -> tuple[int, list[AnswerIn]] | None:
    """The questionnaire answers of the form (``None`` when no question was answered)."""
    questionnaire_id = _id(form, "questionnaire_id")
    if questionnaire_id is None:
        return None
    get_questionnaire(session, questionnaire_id)
    answers: list[AnswerIn] = []
    for question in questions_of(session, questionnaire_id):
        key = f"q{question.id}"
        values = [v.strip() for v in form.getlist(key) if isinstance(v, str) and v.strip()]
        if not values:
            continue
        value: str | list[str] = values if question.kind == "multiple" else values[0]
        answers.append(AnswerIn(question_id=question.id, value=value))
    return (questionnaire_id, answers) if answers else None


#: what a refused reported value means, per field (the service's checks, in the reader's words)
BAD_VALUE: dict[str, Any] = {
    "msisdn": _l("A phone number has 11 digits and starts with 13 to 19."),
    "id_number": _l("An ID number has 17 digits and a final digit or X."),
    "plan_id": _l("A code has letters, digits, “-”, “_” or “.” only."),
    "branch": _l("A code has letters, digits, “-”, “_” or “.” only."),
}


def report_from_form(form: FormData, subscriber_id: str, kinds: list[str]) -> ReportIn | None:
    """The "data is wrong" part of the outcome form (``None`` when no right value is typed).
    A wrong number with no field chosen reports the phone number."""
    value = _text(form, "dq_value", 200)
    if value is None:
        return None
    field_code = _text(form, "dq_field", 32)
    if field_code is None and "wrong_number" in kinds:
        field_code = "msisdn"
    if field_code is None or field_code not in FIELDS:
        raise FormError(_("Choose which data is wrong."))
    try:
        normalise_value(field_code, value)
    except InvalidRequestError as exc:
        raise FormError(str(BAD_VALUE.get(field_code, _("Please check the right value.")))) from exc
    return ReportIn(
        subscriber_id=subscriber_id,
        field=field_code,
        reported_value=value,
        note=_text(form, "dq_note", 2000),
    )


def _saved_text(body: CallIn, closed: list[int]) -> str:
    words = ", ".join(label(OUTCOMES, o.outcome) for o in body.outcomes)
    text = _("Saved: %(outcomes)s.", outcomes=words)
    if closed:
        text += " " + _(
            "%(num)s other open tasks for this offer were closed.",
            num=formatting.format_number(len(closed)),
        )
    if body.task_id is not None and {o.outcome for o in body.outcomes} <= {
        "not_reached",
        "call_back",
    }:
        text += " " + _("The task stays open.")
    return text


def record_outcome(
    session: Session, actor: Actor, subscriber_id: str, form: FormData, tz: ZoneInfo
) -> FormMessage:
    """Record the contact of the outcome form, and the questionnaire answers when given."""
    actor.require_customer_work()
    task_id = None
    try:
        task_id = _id(form, "task_id")
        body = call_from_form(session, actor, subscriber_id, form, tz)
        answers = answers_from_form(session, form)
        report = report_from_form(form, subscriber_id, [o.outcome for o in body.outcomes])
        record = record_call(session, actor, body, tz=tz)
        if answers is not None:
            record_answers(session, actor, record.contact.id, answers[0], answers[1])
        text = _saved_text(body, record.closed_task_ids)
        if report is not None:
            text += " " + _file_with_contact(session, actor, report, record.contact.id)
        if record.contact.over_rule is not None:  # recorded: it happened; but say so
            text += " " + _("Note: %(rule)s", rule=blocked_text(record.verdict, tz))
            return FormMessage(
                "warning", text, task_id=task_id, closed_task_ids=record.closed_task_ids
            )
        return FormMessage("success", text, task_id=task_id, closed_task_ids=record.closed_task_ids)
    except FormError as exc:
        session.rollback()
        return FormMessage(
            "danger", str(exc), task_id=task_id, kept=kept_input(form, _OUTCOME_FIELDS)
        )
    except (InvalidRequestError, ConflictError) as exc:
        session.rollback()
        why = _("Not possible now: %(why)s", why=str(exc))
        return FormMessage("danger", why, task_id=task_id, kept=kept_input(form, _OUTCOME_FIELDS))


def _file_with_contact(session: Session, actor: Actor, report: ReportIn, contact_id: int) -> str:
    """File the form's data-quality report with the contact just recorded; a report of the
    same value still open is not filed twice (the contact is kept). A report the service
    refuses raises :class:`FormError`, so the whole submission is rolled back."""
    try:
        filed = file_report(session, actor, report.model_copy(update={"contact_id": contact_id}))
    except DuplicateReportError as exc:
        return _("This data error is already reported (report %(id)s).", id=exc.report_id)
    except InvalidRequestError as exc:  # e.g. the data already holds the value: nothing kept
        raise FormError(_("Please check the right value.") + f" ({exc})") from exc
    return _("Data error reported (report %(id)s).", id=filed.id)


def _variables(form: FormData) -> dict[str, str]:
    out: dict[str, str] = {}
    names = form.getlist("var_name")
    values = form.getlist("var_value")
    for name, value in zip(names, values, strict=False):
        if isinstance(name, str) and isinstance(value, str) and name.strip():
            out[name.strip()[:64]] = value.strip()[:200]
    return out


SMS_STATUS: dict[str, Any] = {
    "queued": _l("The message is queued for sending."),
    "sent": _l("The message was sent."),
}


def send_sms(
    session: Session, actor: Actor, subscriber_id: str, form: FormData, tz: ZoneInfo
) -> FormMessage:
    """One message to the customer: a template (with its free variables) or a free text."""
    try:
        template_id = _id(form, "template_id")
        text = None if template_id is not None else _text(form, "body", 1000)
        if template_id is None and text is None:
            raise FormError(_("Choose a template or write a text."))
        language = "en" if form.get("language") == "en" else "zh"
        confirms = _id(form, "acceptance_id")
        message = send_one(
            session,
            actor,
            subscriber_id,
            tz=tz,
            template_id=template_id,
            body=text,
            variables=_variables(form) if template_id is not None else None,
            language=language,
            confirms=confirms,
        )
    except FormError as exc:
        session.rollback()
        return FormMessage("danger", str(exc), form="sms", kept=kept_input(form, _SMS_FIELDS))
    except (InvalidRequestError, ConflictError) as exc:
        session.rollback()
        why = _("Not possible now: %(why)s", why=str(exc))
        return FormMessage("danger", why, form="sms", kept=kept_input(form, _SMS_FIELDS))
    if message.status == "blocked":
        verdict = Verdict(False, message.blocked_reason)
        text = _("Not sent.") + " " + blocked_text(verdict, tz)
        return FormMessage("warning", text, form="sms", kept=kept_input(form, _SMS_FIELDS))
    if message.status == "scheduled" and message.scheduled_at is not None:
        when = formatting.format_datetime(message.scheduled_at, tz)
        return FormMessage(
            "info",
            _("Quiet hours: the message will go at %(at)s.", at=when),
            form="sms",
            next_allowed_at=message.scheduled_at,
        )
    return FormMessage("success", str(SMS_STATUS.get(message.status, message.status)), form="sms")


def consent_from_form(form: FormData) -> ConsentIn:
    """The statement the consent form describes: ``what`` (``purpose:channel``), ``state``
    and an optional ``reference``."""
    purpose, _sep, channel = (_text(form, "what", 80) or "").partition(":")
    state = _text(form, "state", 16) or ""
    if check_statement(purpose, channel, CONSENT) is not None:
        raise FormError(_("Choose what the customer consents or objects to."))
    if state not in (CONSENT, OBJECTION):
        raise FormError(_("Choose whether the customer consents or objects."))
    try:
        return ConsentIn(
            purpose=purpose, channel=channel, state=state, reference=_text(form, "reference", 100)
        )
    except ValidationError as exc:
        raise FormError(_("Please check your input")) from exc


def record_consent(
    session: Session, actor: Actor, subscriber_id: str, form: FormData
) -> FormMessage:
    """Record the customer's consent or objection (in force at once, audited)."""
    actor.require_customer_work()
    try:
        body = consent_from_form(form)
        record_for_customer(session, actor, subscriber_id, body)
    except FormError as exc:
        session.rollback()
        return FormMessage(
            "danger", str(exc), form="consent", kept=kept_input(form, _CONSENT_FIELDS)
        )
    except (InvalidRequestError, ConflictError) as exc:
        session.rollback()
        why = _("Not possible now: %(why)s", why=str(exc))
        return FormMessage("danger", why, form="consent", kept=kept_input(form, _CONSENT_FIELDS))
    purpose = label(CONSENT_PURPOSES, body.purpose)
    if body.state == OBJECTION:
        text = _("Recorded: the customer objects to %(purpose)s, from now on.", purpose=purpose)
    else:
        text = _("Recorded: the customer consents to %(purpose)s.", purpose=purpose)
    return FormMessage("success", text, form="consent")


def transfer(session: Session, actor: Actor, task_id: int, form: FormData) -> FormMessage:
    """Hand a task to an agent, a branch's queue (e.g. a store) or another channel."""
    try:
        to_user = _id(form, "to_user_id")
        to_branch = _id(form, "to_branch_id")
        channel = _text(form, "to_channel", 32)
        if to_user is None and to_branch is None and channel is None:
            raise FormError(_("Choose an agent, a branch or a channel."))
        transfer_task(
            session,
            actor,
            task_id,
            to_user_id=to_user,
            to_branch_id=to_branch,
            to_channel=channel,
            reason=_text(form, "reason", 500),
        )
    except FormError as exc:
        session.rollback()
        return FormMessage("danger", str(exc), task_id=task_id, form="transfer")
    except (InvalidRequestError, ConflictError) as exc:
        session.rollback()
        return FormMessage(
            "danger", _("Not possible now: %(why)s", why=str(exc)), task_id=task_id, form="transfer"
        )
    return FormMessage("success", _("The task was transferred."), task_id=task_id, form="transfer")


def claim(session: Session, actor: Actor, task_id: int) -> FormMessage:
    """Take a queued task."""
    try:
        claim_task(session, actor, task_id)
    except (InvalidRequestError, ConflictError) as exc:
        session.rollback()
        return FormMessage(
            "danger", _("Not possible now: %(why)s", why=str(exc)), task_id=task_id, form="claim"
        )
    return FormMessage("success", _("The task is yours now."), task_id=task_id, form="claim")
