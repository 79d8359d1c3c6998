"""Routes: a customer's consent and objection ledger, and recording what the customer said."""

from __future__ import annotations

from fastapi import APIRouter

from weiwan.ops.consents import service
from weiwan.ops.consents.models import ConsentEvent
from weiwan.ops.consents.schemas import ConsentEventOut, ConsentIn, ConsentStateOut, LedgerOut
from weiwan.ops.deps import CurrentActor, Db

router = APIRouter(tags=["consents"])


@router.get("/customers/{subscriber_id}/consents", response_model=LedgerOut)
def ledger(subscriber_id: str, actor: CurrentActor, db: Db) -> LedgerOut:
    """The customer's current consents and objections per purpose and channel, and their
    statements newest first (every role, a customer in its scope)."""
    found = service.ledger_of(db, actor, subscriber_id)
    return LedgerOut(
        current=[ConsentStateOut.model_validate(c) for c in found.current],
        history=[ConsentEventOut.model_validate(e) for e in found.history],
    )


@router.post("/customers/{subscriber_id}/consents", response_model=ConsentEventOut, status_code=201)
def record(subscriber_id: str, body: ConsentIn, actor: CurrentActor, db: Db) -> ConsentEvent:
    """Record the customer's consent to or objection to a purpose (marketing_sms,
    outbound_call, automated_decision) on one of its channels or ``all`` (roles that serve
    customers, a customer in their scope; audited). An objection stops the contacts it covers
    from this request's commit on; a later consent lifts it."""
    return service.record_for_customer(db, actor, subscriber_id, body)
