"""Routes under /sms: templates, preview, send one, bulk send, message list, dispatch, and the
gateway's delivery receipts and subscribers' replies (unsubscribe)."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse

from weiwan.core.consent_rules import unsubscribe_keywords
from weiwan.core.settings import Settings
from weiwan.ops.campaigns.execution import treated_members
from weiwan.ops.deps import CurrentActor, Db, LocalTz, request_now
from weiwan.ops.org.access import Actor
from weiwan.ops.org.service import mask_phone
from weiwan.ops.sms import dispatch as outbox
from weiwan.ops.sms import replies as inbox
from weiwan.ops.sms import service
from weiwan.ops.sms.gateway import gateway_from_settings
from weiwan.ops.sms.models import MESSAGE_STATUSES, SmsMessage
from weiwan.ops.sms.schemas import (
    BulkIn,
    BulkOut,
    DispatchOut,
    MessageOut,
    PreviewIn,
    PreviewOut,
    ReceiptsIn,
    ReceiptsOut,
    RepliesIn,
    RepliesOut,
    ReplyOut,
    SendIn,
    TemplateIn,
    TemplateOut,
    TemplateUpdate,
)
from weiwan.ops.types import MAX_ID, IdPath

router = APIRouter(prefix="/sms", tags=["sms"])
Status = Literal[MESSAGE_STATUSES]  # type: ignore[valid-type]
#: the header the gateway authenticates its delivery receipts and forwarded replies with
CALLBACK_HEADER = "X-SMS-Callback-Token"


def message_out(message: SmsMessage, actor: Actor) -> MessageOut:
    """A message with the number masked unless the role may see full numbers."""
    return MessageOut(
        id=message.id,
        subscriber_id=message.subscriber_id,
        msisdn=mask_phone(message.msisdn, actor.role),
        branch_id=message.branch_id,
        body=message.body,
        language=message.language,
        segments=message.segments,
        template_id=message.template_id,
        campaign_id=message.campaign_id,
        alert_rule=message.alert_rule,
        contact_id=message.contact_id,
        status=message.status,
        blocked_reason=message.blocked_reason,
        purpose=message.purpose,
        scheduled_at=message.scheduled_at,
        sent_at=message.sent_at,
        delivered_at=message.delivered_at,
        error=message.error,
        created_by=message.created_by,
        created_at=message.created_at,
    )


@router.get("/templates", response_model=list[TemplateOut])
def templates(
    actor: CurrentActor, db: Db, include_inactive: Annotated[bool, Query()] = False
) -> list[TemplateOut]:
    """SMS templates by name."""
    rows = service.list_templates(db, include_inactive=include_inactive)
    return [service.template_out(t) for t in rows]


@router.post("/templates", response_model=TemplateOut, status_code=201)
def create_template(body: TemplateIn, actor: CurrentActor, db: Db) -> TemplateOut:
    """A new template (centre head, director); unknown variables are refused by name."""
    return service.template_out(service.create_template(db, actor, body))


@router.get("/templates/{template_id}", response_model=TemplateOut)
def template(template_id: IdPath, actor: CurrentActor, db: Db) -> TemplateOut:
    """One template."""
    return service.template_out(service.get_template(db, template_id))


@router.patch("/templates/{template_id}", response_model=TemplateOut)
def update_template(
    template_id: IdPath, body: TemplateUpdate, actor: CurrentActor, db: Db
) -> TemplateOut:
    """Change a template (centre head, director)."""
    return service.template_out(service.update_template(db, actor, template_id, body))


@router.delete("/templates/{template_id}", status_code=204)
def delete_template(template_id: IdPath, actor: CurrentActor, db: Db) -> None:
    """Retire a template: kept for the messages that used it, no new sends."""
    service.archive_template(db, actor, template_id)


@router.post("/templates/{template_id}/preview", response_model=PreviewOut)
def preview(template_id: IdPath, body: PreviewIn, actor: CurrentActor, db: Db) -> PreviewOut:
    """The text a customer in scope would get, with its length and segments."""
    text, length = service.preview(
        db, actor, template_id, body.subscriber_id, body.variables, body.language
    )
    return PreviewOut(body=text, length=service.length_out(length))


@router.post(
    "/messages",
    response_model=MessageOut,
    status_code=201,
    responses={409: {"description": "blocked by the contact policy (the message is returned)"}},
)
def send(body: SendIn, actor: CurrentActor, db: Db, tz: LocalTz) -> object:
    """One message to a customer in scope (agents: their own customers). During quiet hours
    it is scheduled for their end; a message the contact policy refuses is kept as blocked
    and answered 409 with the reason."""
    message = service.send_one(
        db,
        actor,
        body.subscriber_id,
        tz=tz,
        template_id=body.template_id,
        body=body.body,
        variables=body.variables,
        language=body.language,
        confirms=body.acceptance_id,
    )
    out = message_out(message, actor)
    if message.status == "blocked":
        return JSONResponse(
            {
                "detail": f"blocked by the contact policy: {message.blocked_reason}",
                **out.model_dump(mode="json"),
            },
            status_code=409,
        )
    return out


@router.post("/bulk", response_model=BulkOut)
def bulk(body: BulkIn, actor: CurrentActor, db: Db, tz: LocalTz) -> BulkOut:
    """A template to many subscribers for a campaign or an alert (centre head, director);
    without ``subscriber_ids`` to the campaign's treated members (its hold-out never)."""
    recipients = body.subscriber_ids
    if recipients is None:
        assert body.campaign_id is not None  # the schema requires one of the two
        recipients = treated_members(db, body.campaign_id)
    result = service.send_bulk(
        db,
        actor,
        body.template_id,
        recipients,
        campaign_id=body.campaign_id,
        alert_rule=body.alert_rule,
        variables=body.variables,
        tz=tz,
        language=body.language,
    )
    return BulkOut(
        requested=result.requested,
        queued=result.queued,
        scheduled=result.scheduled,
        blocked=result.blocked,
        blocked_by_reason=dict(result.blocked_by_reason),
        skipped_by_reason=dict(result.skipped_by_reason),
        message_ids_sample=result.message_ids[:100],
    )


@router.get("/messages", response_model=list[MessageOut])
def messages(
    actor: CurrentActor,
    db: Db,
    status: Annotated[Status | None, Query()] = None,
    campaign_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    subscriber_id: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[MessageOut]:
    """Messages in scope, newest first, numbers masked per role."""
    rows = service.list_messages(
        db,
        actor,
        status=status,
        campaign_id=campaign_id,
        subscriber_id=subscriber_id,
        limit=limit,
        offset=offset,
    )
    return [message_out(m, actor) for m in rows]


@router.post("/dispatch", response_model=DispatchOut)
def dispatch(request: Request, actor: CurrentActor, db: Db) -> DispatchOut:
    """Send the messages whose time has come through the configured gateway (centre head,
    director, admin; a scheduler may call it every minute)."""
    actor.require(*service.DISPATCHERS)
    settings: Settings = request.app.state.settings
    grace = timedelta(minutes=settings.sms_sending_grace_minutes)
    result = outbox.dispatch_due(db, gateway_from_settings(settings), grace=grace)
    return DispatchOut(
        sent=result.sent,
        failed=result.failed,
        unknown=result.unknown,
        reconciled=result.reconciled,
        withheld=result.withheld,
        error=result.error,
    )


def gateway_token(
    request: Request, token: Annotated[str | None, Header(alias=CALLBACK_HEADER)] = None
) -> None:
    """401 unless the header carries the configured ``sms_callback_token`` (constant-time
    comparison; no token configured refuses every receipt)."""
    settings: Settings = request.app.state.settings
    expected = settings.sms_callback_token
    if (
        not expected
        or token is None
        or not hmac.compare_digest(expected.encode("utf-8"), token.encode("utf-8"))
    ):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong or missing callback token")


@router.post(
    "/delivery-receipts",
    response_model=ReceiptsOut,
    responses={401: {}},
    dependencies=[Depends(gateway_token)],
)
def delivery_receipts(body: ReceiptsIn, db: Db) -> ReceiptsOut:
    """Delivery receipts from the gateway. No user session: this route takes no actor and so
    no CSRF check (both come with ``CurrentActor``); the shared callback token in the header
    is the credential, checked before the body is used."""
    result = outbox.apply_receipts(db, body.receipts)
    return ReceiptsOut(updated=result.updated, unchanged=result.unchanged, unknown=result.unknown)


@router.post(
    "/replies",
    response_model=RepliesOut,
    responses={401: {}},
    dependencies=[Depends(gateway_token)],
)
def replies(body: RepliesIn, request: Request, db: Db) -> RepliesOut:
    """Subscribers' replies (上行短信) the gateway forwards, with the same token as the
    receipts and no user session. A reply that is an unsubscribe word (TD, T, 退订 and the
    setting ``sms_unsubscribe_keywords``; trimmed, any case) records an objection to marketing
    SMS in this request — marketing SMS are blocked from its commit on, service notices still
    go — audited; other replies are kept. Each reply is answered in the batch's order: a
    message id seen before is a ``duplicate``, a sender no customer matches is
    ``unknown_subscriber`` (not kept)."""
    settings: Settings = request.app.state.settings
    keywords = unsubscribe_keywords(settings.sms_unsubscribe_keywords)
    result = inbox.take_replies(db, body.replies, keywords=keywords, now=request_now(request))
    return RepliesOut(
        unsubscribed=result.unsubscribed,
        results=[ReplyOut(message_id=m, result=r) for m, r in result.results],
    )
