"""Routes: event intake (a source system's bearer token, no user session) and one event's
status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from weiwan.ops.deps import CurrentActor, Db, request_now
from weiwan.ops.events import intake
from weiwan.ops.events.models import ServiceToken
from weiwan.ops.events.processing import process_events
from weiwan.ops.events.schemas import (
    EventBatchIn,
    EventOut,
    EventSummaryOut,
    HourOut,
    IntakeOut,
    LatencyOut,
    RejectedOut,
    RuleFiguresOut,
)
from weiwan.ops.events.service import event_status
from weiwan.ops.events.summary import event_summary
from weiwan.ops.events.tokens import authenticate

router = APIRouter(prefix="/events", tags=["events"])
summary_router = APIRouter(prefix="/event-summary", tags=["events"])
#: seconds a client is asked to wait when the backlog is full
RETRY_AFTER = 5


def service_token(
    request: Request,
    db: Db,
    authorization: Annotated[str | None, Header()] = None,
) -> ServiceToken:
    """401 unless ``Authorization: Bearer <token>`` names a live event-intake token."""
    scheme, _, token = (authorization or "").partition(" ")
    found = authenticate(
        db, token.strip() if scheme.lower() == "bearer" else None, request_now(request)
    )
    if found is None or found.scope != "events":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong, revoked or missing service token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return found


SourceToken = Annotated[ServiceToken, Depends(service_token)]


def _backlog_full(request: Request, db: Session) -> bool:
    limit: int = request.app.state.settings.events_max_backlog
    return intake.backlog(db) >= limit


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IntakeOut,
    responses={401: {}, 429: {}},
)
def take_in(request: Request, source: SourceToken, body: EventBatchIn, db: Db) -> JSONResponse:
    """Take a batch of events in from a source system (its service token, no user session):
    each new (source, event id) stored once, a repeat counted as a duplicate, a bad event
    refused with its index and reason (and kept as a dead letter); the new events processed
    with the event rules in the same transaction (``WEIWAN_EVENTS_PROCESS_AT_INTAKE``); 429
    with Retry-After when the backlog of unprocessed events is full."""
    if _backlog_full(request, db):
        return JSONResponse(
            {"detail": "the event backlog is full: retry later"},
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(RETRY_AFTER)},
        )
    now = request_now(request)
    result = intake.take_in(db, source.name, body.events, now)
    if result.new_ids and request.app.state.settings.events_process_at_intake:
        process_events(db, result.records, now)
    answer = IntakeOut(
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=[RejectedOut(**r) for r in result.rejected],
    )
    return JSONResponse(answer.model_dump(), status_code=status.HTTP_202_ACCEPTED)


@router.get("/{event_id}", response_model=EventOut)
def one_event(
    actor: CurrentActor,
    db: Db,
    event_id: Annotated[str, Path(min_length=1, max_length=64)],
    source: Annotated[str | None, Query(max_length=64)] = None,
) -> EventOut:
    """One event's status (received / processed / ignored / rejected), the rule that fired,
    the decision with its reasons and the task and message it created (director, centre head,
    analyst; a customer outside the reader's scope is not found)."""
    view = event_status(db, actor, event_id, source)
    r = view.record
    return EventOut(
        source=r.source,
        event_id=r.event_id,
        type=r.type,
        subscriber_id=r.subscriber_id,
        msisdn=view.msisdn,
        time=r.occurred_at,
        attributes=view.attributes,
        received_at=r.received_at,
        status=r.status,
        rule_id=r.rule_id,
        decision=view.decision,
        task_id=r.task_id,
        message_id=r.message_id,
        processed_at=r.processed_at,
        note=r.note,
    )


@summary_router.get("", response_model=EventSummaryOut)
def summary(
    request: Request,
    actor: CurrentActor,
    db: Db,
    hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
) -> EventSummaryOut:
    """The events of the last ``hours``: by status and type, per hour, the latency percentiles
    and per event rule its actions against its hold-out (director, centre head in scope,
    analyst)."""
    found = event_summary(db, actor, request_now(request), hours)
    return EventSummaryOut(
        since=found.since,
        until=found.until,
        received=found.received,
        by_status=found.by_status,
        by_type=found.by_type,
        rejected=found.rejected,
        backlog=found.backlog,
        per_hour=[HourOut(hour=h, events=n) for h, n in found.per_hour],
        latency={k: LatencyOut(**v) for k, v in found.latency.items()},
        rules=[
            RuleFiguresOut(
                **{k: getattr(r, k) for k in RuleFiguresOut.model_fields if hasattr(r, k)}
            )
            for r in found.rules
        ],
    )
