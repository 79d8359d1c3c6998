"""Routes: record a contact with outcomes (contact policy, acceptance, closure), contact
history, quality inspections, a self-service order (an accepted self-service contact), the
import of an external dialer's results."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from weiwan.ops.base import utcnow
from weiwan.ops.contacts import dialer, service
from weiwan.ops.contacts.models import QualityInspection
from weiwan.ops.contacts.orders import order_offer, orderable_offers
from weiwan.ops.contacts.records import CallRecord
from weiwan.ops.contacts.schemas import (
    CallIn,
    CallResult,
    ChannelStateOut,
    ContactOut,
    DoNotDisturbIn,
    DoNotDisturbOut,
    ImportOut,
    InspectionIn,
    InspectionOut,
    OutcomeOut,
)
from weiwan.ops.contacts.state import contact_state
from weiwan.ops.customers.lookups import audit_view, lookup_by_id
from weiwan.ops.customers.service import find_customer
from weiwan.ops.deps import CurrentActor, Db, LocalTz, as_actor, check_csrf
from weiwan.ops.imports import ImportFileError
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.offers.schemas import OrderIn, OrderOut, PolicyOut
from weiwan.ops.offers.service import SELF_SERVICE
from weiwan.ops.org.access import Actor
from weiwan.ops.types import IdPath
from weiwan.ops.uploads import FILE_BODY, CappedBodyRoute, uploaded_file

router = APIRouter(tags=["contacts"])


@router.post(
    "/contacts",
    response_model=CallResult,
    status_code=201,
    responses={409: {"description": "the offer was already accepted in another channel"}},
)
async def record_contact(
    body: CallIn, request: Request, tz: LocalTz, _csrf: None = Depends(check_csrf)
) -> Response:
    """Record a contact that took place and its outcomes in one transaction. A contact the
    contact rules advised against is recorded all the same (it happened), with the rule in
    ``contact.over_rule`` and an audit event; ``GET /customers/{id}/contact-state`` tells
    before the contact whether the rules allow it."""

    def record(db: Session, actor: Actor) -> CallResult:
        return call_result(service.record_call(db, actor, body, tz=tz))

    result = await as_actor(request, record)  # a hot route: one thread hop
    # serialised here: the result is built from what was just stored, so FastAPI's second
    # validation against the response model would only cost time (the document still shows it)
    return Response(result.model_dump_json(), status_code=201, media_type="application/json")


def call_result(record: CallRecord) -> CallResult:
    """The answer to recording a call."""
    return CallResult(
        contact=ContactOut.model_validate(record.contact),
        outcomes=[OutcomeOut.model_validate(o) for o in record.outcomes],
        acceptance_id=record.acceptance.id if record.acceptance else None,
        closed_task_ids=record.closed_task_ids,
        next_allowed_at=record.verdict.next_allowed_at,
    )


@router.get("/customers/{subscriber_id}/contacts", response_model=list[ContactOut])
def contacts(
    subscriber_id: str,
    actor: CurrentActor,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[object]:
    """A customer's contacts across channels, newest first."""
    return list(service.contacts_of(db, actor, subscriber_id, limit))


@router.post("/contacts/{contact_id}/inspections", response_model=InspectionOut, status_code=201)
def inspect(
    contact_id: IdPath, body: InspectionIn, actor: CurrentActor, db: Db
) -> QualityInspection:
    """Record a call quality inspection (recording reference, score, comments)."""
    return service.inspect_contact(db, actor, contact_id, body)


@router.get("/customers/{subscriber_id}/do-not-disturb", response_model=list[DoNotDisturbOut])
def do_not_disturb(subscriber_id: str, actor: CurrentActor, db: Db) -> list[object]:
    """The customer's do-not-disturb wishes."""
    find_customer(db, actor, subscriber_id)
    return list(service.do_not_disturb_of(db, subscriber_id))


@router.get("/customers/{subscriber_id}/contact-state", response_model=list[ChannelStateOut])
def get_contact_state(
    subscriber_id: str, actor: CurrentActor, db: Db, tz: LocalTz
) -> list[ChannelStateOut]:
    """Before reaching out: per channel, the contacts already made in each cap's window, and
    whether the contact rules allow a contact now or from when."""
    actor.require_customer_work()
    return [
        ChannelStateOut(
            channel=s.channel,
            used=s.used,
            caps=s.caps,
            allowed=s.verdict.allowed,
            reason=s.verdict.reason,
            next_allowed_at=s.next_allowed_at,
        )
        for s in contact_state(db, find_customer(db, actor, subscriber_id), tz=tz)
    ]


@router.post(
    "/customers/{subscriber_id}/do-not-disturb", response_model=DoNotDisturbOut, status_code=201
)
def add_do_not_disturb(
    subscriber_id: str, body: DoNotDisturbIn, actor: CurrentActor, db: Db
) -> object:
    """Record that the customer does not want to be contacted on a channel (or all)."""
    return service.set_do_not_disturb(db, actor, subscriber_id, body.channel, body.reason)


@router.delete("/customers/{subscriber_id}/do-not-disturb/{channel}", status_code=204)
def lift_do_not_disturb(subscriber_id: str, channel: str, actor: CurrentActor, db: Db) -> None:
    """Lift a wish (shift lead, centre head, director)."""
    service.lift_do_not_disturb(db, actor, subscriber_id, channel)


@router.get("/self-service/{subscriber_id}/offers", response_model=list[PolicyOut])
def offers(subscriber_id: str, actor: CurrentActor, db: Db, tz: LocalTz) -> list[PublishedPolicy]:
    """The offers a subscriber may order in self-service today (those already accepted are
    withdrawn). A customer lookup, audited (misses too) but not rate limited: the operator's
    portal calls it for every visitor with one service account, and the answer holds no
    contact data."""
    customer = lookup_by_id(
        db, actor, subscriber_id, channel=SELF_SERVICE, limit=None, now=utcnow()
    )
    audit_view(db, actor, customer, channel=SELF_SERVICE)
    return list(orderable_offers(db, customer, datetime.now(tz).date()))


@router.post(
    "/self-service/{subscriber_id}/orders",
    response_model=OrderOut,
    status_code=201,
    responses={409: {"description": "already accepted in another channel"}},
)
def order(subscriber_id: str, body: OrderIn, actor: CurrentActor, db: Db, tz: LocalTz) -> OrderOut:
    """Order one self-service offer: an accepted contact in the self-service channel, closing
    the subscriber's other open tasks for that policy."""
    customer = find_customer(db, actor, subscriber_id)
    record = order_offer(db, actor, customer, body.policy_id, tz=tz, channel=body.channel)
    assert record.acceptance is not None  # an order is an acceptance, or an error
    return OrderOut(
        acceptance_id=record.acceptance.id,
        contact_id=record.contact.id,
        closed_task_ids=record.closed_task_ids,
    )


async def import_results(request: Request, actor: CurrentActor, db: Db, tz: LocalTz) -> object:
    """Import a dialer's results (CSV or Excel, one multipart field ``file``: task_id,
    called_at, outcome — several joined with ``|`` — refusal_reason, call_back_at, policy_id,
    note). All rows are checked first; the file is read row by row in a worker thread and
    recorded in batches. A body above ``upload_max_bytes`` is refused (413), as is a file of
    more than ``import_max_rows`` rows (422)."""
    settings = request.app.state.settings
    upload = await uploaded_file(request)
    name = upload.filename or "upload.csv"
    try:
        result = await run_in_threadpool(
            dialer.import_results,
            db,
            actor,
            name,
            upload.file,
            tz=tz,
            max_rows=settings.import_max_rows,
            batch_rows=settings.import_batch_rows,
            max_bytes=settings.upload_max_bytes,
        )
    except ImportFileError as exc:
        return JSONResponse(
            {
                "detail": str(exc),
                "errors": [asdict(e) for e in exc.errors],
                "error_count": exc.total,
            },
            status_code=422,
        )
    finally:
        await upload.close()
    return ImportOut(
        rows=result.rows,
        recorded=result.recorded,
        unchanged=result.unchanged,
        over_rule=result.over_rule,
        conflicts=[asdict(c) for c in result.conflicts],
    )


router.add_api_route(
    "/outbound/results",
    import_results,
    methods=["POST"],
    response_model=ImportOut,
    responses={
        413: {"description": "the upload is larger than the setting upload_max_bytes"},
        422: {"description": "the file has errors; nothing was stored"},
    },
    openapi_extra=FILE_BODY,
    route_class_override=CappedBodyRoute,
)
