"""SMS: templates and sending through the contact policy (the outbox dispatch and receipts:
``sms.dispatch``).

Every message goes through the contact policy as one ``sms`` contact
(``contacts.service.record_system_contact``, under the subscriber's lock), and the message
row keeps the contact's id. During the SMS quiet hours a message is not refused but
``scheduled`` for the end of them: its contact is recorded at that time, so it counts
against the caps of the day it goes out. Caps, cool-off and cross-channel caps block it
(``blocked`` with the reason; the blocked contact is kept, as for calls).

A message is marketing unless its template's ``purpose`` is ``service`` (a free text is
marketing; the confirmation of an accepted offer is a service message): a subscriber's
objection to marketing SMS (an unsubscribe reply, the consent ledger) blocks marketing
messages with the reason ``objection`` and lets service and care notices through.

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
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from weiwan.core.contact_rules import ContactRules
from weiwan.core.errors import ConflictError, InvalidRequestError, NotFoundError
from weiwan.ops.base import as_utc, utcnow
from weiwan.ops.campaigns.models import Campaign
from weiwan.ops.contacts.models import Acceptance, Contact
from weiwan.ops.contacts.policy_check import SENT
from weiwan.ops.contacts.rules import current_rules
from weiwan.ops.contacts.service import record_system_contact
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.service import find_customer
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role
from weiwan.ops.org.service import AuditAction, audit
from weiwan.ops.scope import customer_scope_clause, message_scope_clause
from weiwan.ops.sms.models import MARKETING, SERVICE, SmsMessage, SmsTemplate
from weiwan.ops.sms.render import (
    MAX_SEGMENTS,
    Length,
    check_free_values,
    check_template,
    customer_values,
    measure,
    render,
)
from weiwan.ops.sms.schemas import LengthOut, TemplateIn, TemplateOut, TemplateUpdate

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
        purpose=template.purpose,
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
        purpose=data.purpose,
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
    for name in ("name", "body_zh", "active", "purpose"):
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
    if "purpose" in changed:
        template.purpose = changed["purpose"]
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


def check_confirmable(session: Session, subscriber_id: str, acceptance_id: int) -> None:
    """``InvalidRequestError`` (field ``acceptance_id``) unless the acceptance is the
    subscriber's and still active."""
    status = session.scalar(
        select(Acceptance.status).where(
            Acceptance.id == acceptance_id, Acceptance.subscriber_id == subscriber_id
        )
    )
    if status != "active":
        raise InvalidRequestError(
            f"acceptance {acceptance_id} is not an active acceptance of this customer",
            field="acceptance_id",
        )


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
    confirms: int | None = None,
    marketing: bool = True,
) -> tuple[dict[str, Any], Contact]:
    """Record the contact (scheduled past the quiet hours); the message's row and the
    contact. A message that ``confirms`` an acceptance (its id) goes out whatever the caps,
    cool-off and do-not-disturb say (audited), as the customer's own order calls for it; it
    is a service message. An objection to marketing SMS blocks only a ``marketing`` one."""
    local = now.astimezone(tz)
    send_at = rules.next_allowed_time(CHANNEL, local)
    note = f"sms template {template_id}" if template_id is not None else "sms"
    if confirms is not None:
        note = f"confirms acceptance {confirms}"
    contact, _verdict = record_system_contact(
        session,
        customer.subscriber_id,
        CHANNEL,
        tz=tz,
        rules=rules,
        at=as_utc(send_at),
        user_id=user_id,
        campaign_id=campaign_id,
        note=note,
        despite_rules=confirms is not None,
        marketing=marketing and confirms is None,
    )
    sent = contact.status == SENT
    status = "blocked"
    if sent:
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
        "blocked_reason": contact.blocked_reason,
        "purpose": MARKETING if marketing and confirms is None else SERVICE,
        "scheduled_at": as_utc(send_at) if sent else None,
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
    confirms: int | None = None,
) -> SmsMessage:
    """One message to one customer in the actor's scope (404 outside it): a template or a
    free text (sent as written, no placeholders). The result may be ``blocked`` (the contact
    policy refused it) or ``scheduled`` (quiet hours). ``confirms``: the id of the customer's
    active acceptance the message confirms; it is then sent whatever the caps say."""
    actor.require(*SENDERS)
    customer = find_customer(session, actor, subscriber_id)
    if confirms is not None:
        check_confirmable(session, customer.subscriber_id, confirms)
    marketing = True  # a free text is marketing
    if template_id is not None:
        prepared = _prepare(session, template_id, language, variables)
        text = _render_for(prepared, customer)
        marketing = prepared.template.purpose == MARKETING
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
        confirms=confirms,
        marketing=marketing,
    )
    message = SmsMessage(**row)
    session.add(message)
    session.flush()
    return message


def send_for_event(
    session: Session,
    customer: CustomerView,
    template_name: str,
    *,
    origin: str,
    offer_name: str | None,
    rules: ContactRules,
    tz: ZoneInfo,
    now: datetime,
) -> SmsMessage | str:
    """The SMS an event rule sends the customer (no user: the system acts within the rule):
    the active template of that name in Chinese, its free variable ``offer`` filled with the
    offer's name, through the contact policy (``scheduled`` in quiet hours); ``alert_rule``
    keeps ``origin`` (``event:<rule>``). The reason instead when the template is missing,
    archived, needs other free values or a field the customer lacks."""
    template = session.scalar(
        select(SmsTemplate).where(SmsTemplate.name == template_name, SmsTemplate.active)
    )
    if template is None:
        return f"no active SMS template named {template_name!r}"
    free = _words(template.free_variables)
    if set(free) - {"offer"}:
        return f"SMS template {template_name!r} needs values an event cannot give"
    variables = {"offer": offer_name or ""} if "offer" in free else {}
    try:
        text = _render_for(_prepare(session, template.id, "zh", variables), customer)
    except (InvalidRequestError, ConflictError) as exc:
        return str(exc)
    length = measure(text)
    row, _contact = _place(
        session,
        customer,
        text,
        length,
        user_id=None,
        rules=rules,
        tz=tz,
        now=as_utc(now),
        language="zh",
        template_id=template.id,
        alert_rule=origin,
        marketing=template.purpose == MARKETING,
    )
    message = SmsMessage(**row)
    session.add(message)
    session.flush()
    return message


def service_templates(session: Session, names: Iterable[str]) -> set[str]:
    """Which of the active templates named ``names`` are service notices (not marketing): an
    objection to marketing SMS does not stop them (the real-time events' contact check)."""
    wanted = sorted(set(names))
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(SmsTemplate.name).where(
                SmsTemplate.name.in_(wanted),
                SmsTemplate.active.is_(True),
                SmsTemplate.purpose != MARKETING,
            )
        )
    )


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
                marketing=prepared.template.purpose == MARKETING,
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
