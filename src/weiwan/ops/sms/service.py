"""SMS: templates, sending through the contact policy, the outbox dispatch, receipts.

Every message goes through the contact policy as one ``sms`` contact
(``contacts.service.record_system_contact``, under the subscriber's lock), and the message
row keeps the contact's id. During the SMS quiet hours a message is not refused but
``scheduled`` for the end of them: its contact is recorded at that time, so it counts
against the caps of the day it goes out. Caps, cool-off and cross-channel caps block it
(``blocked`` with the reason; the blocked contact is kept, as for calls).

Who may do what (docs/surveys-and-sms.md): templates — centre head and director (audited as
``config_change``), read by every role that sends; bulk sends — centre head (own branches'
customers) and director; one message — agents, shift leads, centre heads, directors, store
clerks and hotline agents to a customer in their scope (agents: their own customers);
message lists — agents their own sends, shift leads their team's, branch roles their
branches', director/analyst/admin all, numbers masked per role; dispatch — centre head,
director, admin.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, insert, or_, select
from sqlalchemy.orm import Session

from weiwan.core.contact_rules import ContactRules
from weiwan.core.errors import ConflictError, InvalidRequestError, NotFoundError
from weiwan.ops.base import as_utc, utcnow
from weiwan.ops.campaigns.models import Campaign
from weiwan.ops.contacts.models import Contact
from weiwan.ops.contacts.rules import current_rules
from weiwan.ops.contacts.service import record_system_contact
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.service import find_customer
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role
from weiwan.ops.org.service import AuditAction, audit
from weiwan.ops.scope import customer_scope_clause, message_scope_clause
from weiwan.ops.sms.gateway import GatewayResult, OutgoingSms, SmsGateway
from weiwan.ops.sms.models import SENDING, UNKNOWN, WAITING, SmsMessage, SmsTemplate
from weiwan.ops.sms.render import (
    MAX_SEGMENTS,
    Length,
    check_free_values,
    check_template,
    customer_values,
    measure,
    render,
)
from weiwan.ops.sms.schemas import LengthOut, ReceiptIn, TemplateIn, TemplateOut, TemplateUpdate

CHANNEL = "sms"
TEMPLATE_EDITORS = (Role.CENTRE_HEAD, Role.DIRECTOR)
BULK_SENDERS = (Role.CENTRE_HEAD, Role.DIRECTOR)
SENDERS = (
    Role.AGENT,
    Role.SHIFT_LEAD,
    Role.CENTRE_HEAD,
    Role.DIRECTOR,
    Role.STORE_CLERK,
    Role.HOTLINE_AGENT,
)
DISPATCHERS = (Role.CENTRE_HEAD, Role.DIRECTOR, Role.ADMIN)
BULK_BATCH = 1000
DISPATCH_BATCH = 500
#: how long a message may stay ``sending`` before it is marked ``unknown`` (the setting
#: ``sms_sending_grace_minutes``; above the HTTP gateway's timeouts)
SENDING_GRACE = timedelta(minutes=10)

T = TypeVar("T")


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- templates ---------------------------------------------------------------------------


def _words(value: str) -> list[str]:
    return value.split()


def length_out(length: Length) -> LengthOut:
    """A measured length as the API shows it."""
    return LengthOut(
        characters=length.characters, encoding=length.encoding, segments=length.segments
    )


def template_out(template: SmsTemplate) -> TemplateOut:
    """A template with the variables it uses and the length of its fixed text."""
    free = _words(template.free_variables)
    fields, _ = check_template(template.body_zh, template.body_en, free)
    blanks = dict.fromkeys([*fields, *free], "")
    return TemplateOut(
        id=template.id,
        name=template.name,
        body_zh=template.body_zh,
        body_en=template.body_en,
        free_variables=free,
        customer_fields=fields,
        active=template.active,
        created_by=template.created_by,
        created_at=template.created_at,
        updated_at=template.updated_at,
        fixed_length_zh=length_out(measure(render(template.body_zh, blanks))),
        fixed_length_en=length_out(measure(render(template.body_en, blanks)))
        if template.body_en
        else None,
    )


def list_templates(session: Session, *, include_inactive: bool = False) -> Sequence[SmsTemplate]:
    """Templates by name."""
    query = select(SmsTemplate)
    if not include_inactive:
        query = query.where(SmsTemplate.active.is_(True))
    return session.scalars(query.order_by(SmsTemplate.name)).all()


def get_template(session: Session, template_id: int) -> SmsTemplate:
    """One template (404 if missing)."""
    template = session.get(SmsTemplate, template_id)
    if template is None:
        raise NotFoundError(f"SMS template {template_id} not found")
    return template


def _unique_name(session: Session, name: str, template_id: int | None = None) -> None:
    other = session.scalar(select(SmsTemplate.id).where(SmsTemplate.name == name))
    if other is not None and other != template_id:
        raise ConflictError(f"an SMS template named {name!r} exists already")


def _check_lengths(*bodies: str | None) -> None:
    for name, body in zip(("body_zh", "body_en"), bodies, strict=True):
        if body is not None:
            fixed = measure(body)
            if fixed.segments > MAX_SEGMENTS:
                raise InvalidRequestError(
                    f"{fixed.characters} characters make {fixed.segments} segments; at most "
                    f"{MAX_SEGMENTS} are sent",
                    field=name,
                )


def create_template(session: Session, actor: Actor, data: TemplateIn) -> SmsTemplate:
    """A new template; unknown variables and over-long texts are refused (audited)."""
    actor.require(*TEMPLATE_EDITORS)
    check_template(data.body_zh, data.body_en, data.free_variables)
    _check_lengths(data.body_zh, data.body_en)
    _unique_name(session, data.name)
    now = utcnow()
    template = SmsTemplate(
        name=data.name,
        body_zh=data.body_zh,
        body_en=data.body_en,
        free_variables=" ".join(dict.fromkeys(data.free_variables)),
        active=True,
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(template)
    session.flush()
    audit(
        session,
        actor.user_id,
        AuditAction.CONFIG_CHANGE,
        "sms_template",
        str(template.id),
        {"created": data.name},
    )
    return template


def update_template(
    session: Session, actor: Actor, template_id: int, data: TemplateUpdate
) -> SmsTemplate:
    """Change a template (checked like a new one; sent messages keep their text)."""
    actor.require(*TEMPLATE_EDITORS)
    template = get_template(session, template_id)
    changed = data.model_dump(exclude_unset=True)
    for name in ("name", "body_zh", "active"):
        if name in changed and changed[name] is None:
            raise InvalidRequestError(f"{name} cannot be removed", field=name)
    body_zh = changed.get("body_zh", template.body_zh)
    body_en = changed.get("body_en", template.body_en)
    free = changed.get("free_variables")
    free = _words(template.free_variables) if free is None else list(dict.fromkeys(free))
    check_template(body_zh, body_en, free)
    _check_lengths(body_zh, body_en)
    if "name" in changed:
        _unique_name(session, changed["name"], template_id)
        template.name = changed["name"]
    template.body_zh = body_zh
    template.body_en = body_en
    template.free_variables = " ".join(free)
    if "active" in changed:
        template.active = bool(changed["active"])
    template.updated_at = utcnow()
    session.flush()
    audit(
        session,
        actor.user_id,
        AuditAction.CONFIG_CHANGE,
        "sms_template",
        str(template_id),
        {"updated": sorted(changed)},
    )
    return template


def archive_template(session: Session, actor: Actor, template_id: int) -> SmsTemplate:
    """Retire a template (it stays for the messages that used it; no new sends)."""
    actor.require(*TEMPLATE_EDITORS)
    template = get_template(session, template_id)
    if template.active:
        template.active = False
        template.updated_at = utcnow()
        session.flush()
        audit(
            session,
            actor.user_id,
            AuditAction.CONFIG_CHANGE,
            "sms_template",
            str(template_id),
            {"archived": True},
        )
    return template


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A template ready to render: body, customer fields, free values."""

    template: SmsTemplate
    body: str
    fields: list[str]
    free_values: dict[str, str]


def _prepare(
    session: Session, template_id: int, language: str, variables: Mapping[str, str] | None
) -> _Prepared:
    template = get_template(session, template_id)
    if not template.active:
        raise ConflictError(f"SMS template {template_id} is archived")
    body = template.body_zh if language == "zh" else template.body_en
    if body is None:
        raise InvalidRequestError(
            f"SMS template {template_id} has no {language} text", field="language"
        )
    free = _words(template.free_variables)
    fields, _ = check_template(template.body_zh, template.body_en, free)
    return _Prepared(template, body, fields, check_free_values(free, variables))


def _render_for(prepared: _Prepared, customer: CustomerView) -> str:
    values = customer_values(customer, prepared.fields)
    if isinstance(values, str):
        raise InvalidRequestError(
            f"customer {customer.subscriber_id} has no {values} for the template",
            field="template_id",
        )
    return render(prepared.body, {**values, **prepared.free_values})


def preview(
    session: Session,
    actor: Actor,
    template_id: int,
    subscriber_id: str,
    variables: Mapping[str, str] | None = None,
    language: str = "zh",
) -> tuple[str, Length]:
    """The text ``subscriber_id`` (in scope) would get, and its length."""
    customer = find_customer(session, actor, subscriber_id)
    text = _render_for(_prepare(session, template_id, language, variables), customer)
    return text, measure(text)


# --- sending -----------------------------------------------------------------------------


def _place(
    session: Session,
    customer: CustomerView,
    text: str,
    length: Length,
    *,
    user_id: int | None,
    rules: ContactRules,
    tz: ZoneInfo,
    now: datetime,
    language: str,
    template_id: int | None = None,
    campaign_id: int | None = None,
    alert_rule: str | None = None,
) -> tuple[dict[str, Any], Contact]:
    """Record the contact (scheduled past the quiet hours); the message's row and the
    contact."""
    local = now.astimezone(tz)
    send_at = rules.next_allowed_time(CHANNEL, local)
    note = f"sms template {template_id}" if template_id is not None else "sms"
    contact, verdict = record_system_contact(
        session,
        customer.subscriber_id,
        CHANNEL,
        tz=tz,
        rules=rules,
        at=as_utc(send_at),
        user_id=user_id,
        campaign_id=campaign_id,
        note=note,
    )
    status = "blocked"
    if verdict.allowed:
        status = "queued" if send_at == local else "scheduled"
    row: dict[str, Any] = {
        "subscriber_id": customer.subscriber_id,
        "msisdn": customer.msisdn,
        "branch_id": customer.branch_id,
        "body": text,
        "language": language,
        "segments": length.segments,
        "template_id": template_id,
        "campaign_id": campaign_id,
        "alert_rule": alert_rule,
        "contact_id": contact.id,
        "status": status,
        "blocked_reason": verdict.reason,
        "scheduled_at": as_utc(send_at) if verdict.allowed else None,
        "created_by": user_id,
        "created_at": as_utc(now),
    }
    return row, contact


def send_one(
    session: Session,
    actor: Actor,
    subscriber_id: str,
    *,
    tz: ZoneInfo,
    template_id: int | None = None,
    body: str | None = None,
    variables: Mapping[str, str] | None = None,
    language: str = "zh",
    now: datetime | None = None,
) -> SmsMessage:
    """One message to one customer in the actor's scope (404 outside it): a template or a
    free text (sent as written, no placeholders). The result may be ``blocked`` (the contact
    policy refused it) or ``scheduled`` (quiet hours)."""
    actor.require(*SENDERS)
    customer = find_customer(session, actor, subscriber_id)
    if template_id is not None:
        text = _render_for(_prepare(session, template_id, language, variables), customer)
    elif body is not None and body.strip():
        text = body.strip()
    else:
        raise InvalidRequestError("give a template or a text", field="body")
    length = measure(text)
    if length.segments > MAX_SEGMENTS:
        raise InvalidRequestError(
            f"{length.characters} characters make {length.segments} segments; at most "
            f"{MAX_SEGMENTS} are sent",
            field="body",
        )
    row, _contact = _place(
        session,
        customer,
        text,
        length,
        user_id=actor.user_id,
        rules=current_rules(session),
        tz=tz,
        now=as_utc(now or utcnow()),
        language=language,
        template_id=template_id,
    )
    message = SmsMessage(**row)
    session.add(message)
    session.flush()
    return message


@dataclass
class BulkResult:
    """What :func:`send_bulk` did with the requested subscribers.

    ``skipped_by_reason``: not_found (unknown or outside the sender's scope), already_sent
    (the campaign already has a live message from this template for them), missing_<field>
    (the customer lacks a field the template uses), too_long. Skipped subscribers get no
    contact and no message.
    """

    requested: int = 0
    queued: int = 0
    scheduled: int = 0
    blocked_by_reason: Counter[str] = field(default_factory=Counter)
    skipped_by_reason: Counter[str] = field(default_factory=Counter)
    message_ids: list[int] = field(default_factory=list)

    @property
    def blocked(self) -> int:
        """Messages the contact policy refused."""
        return sum(self.blocked_by_reason.values())


def send_bulk(
    session: Session,
    actor: Actor,
    template_id: int,
    subscriber_ids: Iterable[str],
    *,
    campaign_id: int | None = None,
    alert_rule: str | None = None,
    variables: Mapping[str, str] | None = None,
    tz: ZoneInfo,
    language: str = "zh",
    now: datetime | None = None,
    batch_size: int = BULK_BATCH,
) -> BulkResult:
    """A template to many subscribers (centre head: their branches' customers; director).

    Customers are read ``batch_size`` at a time; each one goes through the contact policy
    (``record_system_contact``) one by one under its lock. Repeated ids count once. The whole
    send is one transaction: it is queued entirely or not at all.
    """
    actor.require(*BULK_SENDERS)
    prepared = _prepare(session, template_id, language, variables)
    if campaign_id is not None and session.get(Campaign, campaign_id) is None:
        raise NotFoundError(f"campaign {campaign_id} not found")
    rules = current_rules(session)
    now = as_utc(now or utcnow())
    ids = list(dict.fromkeys(subscriber_ids))
    result = BulkResult(requested=len(ids))
    for chunk in _batches(ids, batch_size):
        customers = {
            c.subscriber_id: c
            for c in session.scalars(
                select(CustomerView).where(
                    CustomerView.subscriber_id.in_(chunk), customer_scope_clause(actor)
                )
            )
        }
        already: set[str] = set()
        if campaign_id is not None:
            already = set(
                session.scalars(
                    select(SmsMessage.subscriber_id).where(
                        SmsMessage.subscriber_id.in_(chunk),
                        SmsMessage.campaign_id == campaign_id,
                        SmsMessage.template_id == template_id,
                        SmsMessage.status.not_in(("blocked", "failed")),
                    )
                )
            )
        rows: list[dict[str, Any]] = []
        contacts: list[Contact] = []
        for sid in chunk:
            customer = customers.get(sid)
            if customer is None:
                result.skipped_by_reason["not_found"] += 1
                continue
            if sid in already:
                result.skipped_by_reason["already_sent"] += 1
                continue
            values = customer_values(customer, prepared.fields)
            if isinstance(values, str):
                result.skipped_by_reason[f"missing_{values}"] += 1
                continue
            text = render(prepared.body, {**values, **prepared.free_values})
            length = measure(text)
            if length.segments > MAX_SEGMENTS:
                result.skipped_by_reason["too_long"] += 1
                continue
            row, contact = _place(
                session,
                customer,
                text,
                length,
                user_id=actor.user_id,
                rules=rules,
                tz=tz,
                now=now,
                language=language,
                template_id=template_id,
                campaign_id=campaign_id,
                alert_rule=alert_rule,
            )
            rows.append(row)
            contacts.append(contact)
            if row["status"] == "blocked":
                result.blocked_by_reason[row["blocked_reason"] or "blocked"] += 1
            elif row["status"] == "scheduled":
                result.scheduled += 1
            else:
                result.queued += 1
        if rows:  # one multi-row INSERT per batch
            inserted = session.scalars(
                insert(SmsMessage).returning(SmsMessage.id, sort_by_parameter_order=True), rows
            )
            result.message_ids.extend(inserted.all())
        for done in [*contacts, *customers.values()]:  # keep memory flat over many batches
            session.expunge(done)
    return result


# --- lists -------------------------------------------------------------------------------


def list_messages(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    campaign_id: int | None = None,
    subscriber_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[SmsMessage]:
    """Messages in scope, newest first (numbers are masked by the caller's route)."""
    query = select(SmsMessage).where(message_scope_clause(actor))
    if status is not None:
        query = query.where(SmsMessage.status == status)
    if campaign_id is not None:
        query = query.where(SmsMessage.campaign_id == campaign_id)
    if subscriber_id is not None:
        query = query.where(SmsMessage.subscriber_id == subscriber_id)
    return session.scalars(
        query.order_by(SmsMessage.created_at.desc(), SmsMessage.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()


# --- dispatch and receipts ---------------------------------------------------------------


@dataclass
class DispatchResult:
    """What one :func:`dispatch_due` run did: messages the gateway accepted (``sent``) or
    refused (``failed``), messages whose answer was lost (``unknown``: they may have gone
    out), and older messages found stuck in ``sending`` and marked ``unknown``
    (``reconciled``). ``error``: why the run stopped early (the gateway failed)."""

    sent: int = 0
    failed: int = 0
    unknown: int = 0
    reconciled: int = 0
    error: str | None = None


_MESSAGES = cast(Table, SmsMessage.__table__)
_RECORD = (
    _MESSAGES.update()
    .where(
        _MESSAGES.c.id == bindparam("message_id"),
        # not IN (…): an executemany takes no expanding parameter
        or_(_MESSAGES.c.status == SENDING, _MESSAGES.c.status == UNKNOWN),
    )
    .values(
        status=bindparam("new_status"),
        sent_at=bindparam("new_sent_at"),
        gateway_message_id=bindparam("new_gateway_id"),
        error=bindparam("new_error"),
    )
)


def _take(session: Session, now: datetime, batch_size: int) -> list[OutgoingSms] | None:
    """Mark the next due messages ``sending`` (the caller commits at once); ``None`` when
    nothing is due. The update is conditional (``status`` still waiting), so of two
    dispatchers that read the same rows only one takes each: on SQLite the second update
    waits for the first's commit and then matches nothing; on PostgreSQL the rows are read
    ``FOR UPDATE SKIP LOCKED`` and a second dispatcher takes the next ones."""
    due = session.scalars(
        select(SmsMessage.id)
        .where(SmsMessage.status.in_(WAITING), SmsMessage.scheduled_at <= now)
        .order_by(SmsMessage.scheduled_at, SmsMessage.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    ).all()
    if not due:
        return None
    taken = session.execute(
        _MESSAGES.update()
        .where(_MESSAGES.c.id.in_(due), _MESSAGES.c.status.in_(WAITING))
        .values(status=SENDING, sending_at=now)
        .returning(_MESSAGES.c.id, _MESSAGES.c.msisdn, _MESSAGES.c.body)
    ).all()
    return sorted((OutgoingSms(i, msisdn, body) for i, msisdn, body in taken), key=_by_id)


def _by_id(message: OutgoingSms) -> int:
    return message.message_id


def _record(
    session: Session,
    batch: Sequence[OutgoingSms],
    answers: Mapping[int, GatewayResult],
    now: datetime,
    result: DispatchResult,
) -> int:
    """Store the gateway's answer of each message of ``batch``; how many are unknown."""
    rows: list[dict[str, Any]] = []
    unknown = 0
    for message in batch:
        answer = answers.get(message.message_id)
        row: dict[str, Any] = {
            "message_id": message.message_id,
            "new_sent_at": None,
            "new_gateway_id": None,
        }
        if answer is not None and answer.ok:
            row |= {"new_status": "sent", "new_sent_at": now, "new_error": None}
            row["new_gateway_id"] = answer.gateway_message_id
            result.sent += 1
        elif answer is not None and answer.unknown:
            row |= {"new_status": UNKNOWN, "new_error": (answer.error or "")[:500] or None}
            unknown += 1
        else:
            error = (answer.error if answer else None) or "no result from gateway"
            row |= {"new_status": "failed", "new_error": error[:500]}
            result.failed += 1
        rows.append(row)
    session.execute(_RECORD, rows)
    result.unknown += unknown
    return unknown


def dispatch_due(
    session: Session,
    gateway: SmsGateway,
    now: datetime | None = None,
    *,
    batch_size: int = DISPATCH_BATCH,
    grace: timedelta = SENDING_GRACE,
) -> DispatchResult:
    """Hand every queued or scheduled message whose time has come to ``gateway``, oldest
    first, ``batch_size`` at a time, each message exactly once even with several
    dispatchers at work (see :func:`_take`).

    **Commits** the session, per batch: the batch is marked ``sending`` and committed before
    the gateway is called, and the gateway's answers (``sent`` with its id, ``failed`` with
    the error, ``unknown`` when the answer was lost) are committed after. A crash in between
    leaves ``sending`` rows, which :func:`reconcile_sending` (run first here) marks
    ``unknown`` after ``grace``: never sent again by itself. A gateway that raises, or whose
    answers are lost, ends the run: the batch is ``unknown``, later messages stay queued for
    the next run. Failed messages are not retried automatically."""
    now = as_utc(now or utcnow())
    result = DispatchResult(reconciled=len(reconcile_sending(session, now=now, grace=grace)))
    session.commit()
    while True:
        batch = _take(session, now, batch_size)
        session.commit()
        if batch is None:
            break
        if not batch:  # another dispatcher took these rows first
            continue
        try:
            answers = {r.message_id: r for r in gateway.send(batch)}
        except Exception as exc:  # any failure of the gateway: its answer is lost
            error = f"gateway error while sending (may have gone out): {type(exc).__name__}: {exc}"
            answers = {
                m.message_id: GatewayResult(m.message_id, False, error=error, unknown=True)
                for m in batch
            }
            result.error = error[:500]
        lost = _record(session, batch, answers, now, result)
        session.commit()
        if lost:
            why = next((a.error for a in answers.values() if a.unknown and a.error), None)
            result.error = result.error or f"{lost} message(s) without a sure answer: {why}"
            break
    session.expire_all()  # the rows were changed by Core statements
    return result


def reconcile_sending(
    session: Session, *, now: datetime | None = None, grace: timedelta = SENDING_GRACE
) -> list[int]:
    """Mark ``unknown`` the messages ``sending`` since longer than ``grace`` (their dispatcher
    stopped between the gateway call and recording its answer; they may have gone out); their
    ids. Not committed. Resolve them with :func:`resolve_unknown` after asking the gateway."""
    cutoff = as_utc(now or utcnow()) - grace
    return list(
        session.scalars(
            _MESSAGES.update()
            .where(_MESSAGES.c.status == SENDING, _MESSAGES.c.sending_at < cutoff)
            .values(
                status=UNKNOWN,
                error="dispatch interrupted before the gateway's answer was recorded; "
                "check with the gateway before sending again",
            )
            .returning(_MESSAGES.c.id)
        ).all()
    )


def unresolved_messages(session: Session, *, limit: int = 1000) -> Sequence[SmsMessage]:
    """Messages ``sending`` or ``unknown``, oldest first (for the operator's review)."""
    return session.scalars(
        select(SmsMessage)
        .where(SmsMessage.status.in_((SENDING, UNKNOWN)))
        .order_by(SmsMessage.sending_at, SmsMessage.id)
        .limit(limit)
    ).all()


#: what an operator may decide for an ``unknown`` message after asking the gateway
RESOLUTIONS = ("sent", "failed", "queued")


def resolve_unknown(
    session: Session, message_ids: Iterable[int], status: str, now: datetime | None = None
) -> list[int]:
    """Settle ``unknown`` messages after checking with the gateway: ``sent`` (it went out),
    ``failed`` (it did not) or ``queued`` (it did not, send it again with the next dispatch);
    the ids changed (messages not ``unknown`` are left alone). Not committed."""
    if status not in RESOLUTIONS:
        raise InvalidRequestError(f"use one of {', '.join(RESOLUTIONS)}", field="status")
    now = as_utc(now or utcnow())
    values: dict[str, Any] = {"status": status, "error": None}
    if status == "sent":
        values["sent_at"] = now
    elif status == "failed":
        values["error"] = "not sent (checked with the gateway)"
    else:
        values["scheduled_at"] = now
    changed = session.scalars(
        _MESSAGES.update()
        .where(_MESSAGES.c.id.in_(list(message_ids)), _MESSAGES.c.status == UNKNOWN)
        .values(**values)
        .returning(_MESSAGES.c.id)
    ).all()
    session.expire_all()
    return sorted(changed)


@dataclass
class ReceiptResult:
    """What a batch of delivery receipts changed."""

    updated: int = 0
    unchanged: int = 0
    unknown: list[str] = field(default_factory=list)


def apply_receipts(
    session: Session, receipts: Sequence[ReceiptIn], now: datetime | None = None
) -> ReceiptResult:
    """Mark sent messages delivered or failed from the gateway's receipts (matched by the
    gateway's message id). Messages already delivered or failed stay as they are."""
    now = as_utc(now or utcnow())
    ids = list(dict.fromkeys(r.message_id for r in receipts))
    messages: dict[str, list[SmsMessage]] = {}
    # FOR UPDATE holds on PostgreSQL; on SQLite two receipts for one message at once would
    # both apply and the later one's final state stays; a receipt never re-sends anything
    for message in session.scalars(
        select(SmsMessage).where(SmsMessage.gateway_message_id.in_(ids)).with_for_update()
    ):
        assert message.gateway_message_id is not None
        messages.setdefault(message.gateway_message_id, []).append(message)
    result = ReceiptResult()
    for receipt in receipts:
        found = messages.get(receipt.message_id)
        if not found:
            result.unknown.append(receipt.message_id)
            continue
        for message in found:
            if message.status != "sent":
                result.unchanged += 1
                continue
            message.status = receipt.status
            message.delivered_at = as_utc(receipt.at) if receipt.at else now
            if receipt.status == "failed":
                message.error = receipt.error or "delivery failed"
            result.updated += 1
    session.flush()
    return result
