"""Routes: one subscriber's personal-data report and erasure (docs/privacy.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from weiwan.core.retention import load_rules
from weiwan.ops.deps import CurrentActor, Db
from weiwan.ops.privacy import service
from weiwan.ops.privacy.schemas import ErasureIn, ErasureOut, PersonalDataOut, PlaceOut

router = APIRouter(tags=["privacy"])


@router.get("/customers/{subscriber_id}/personal-data", response_model=PersonalDataOut)
def personal_data(
    subscriber_id: str, request: Request, actor: CurrentActor, db: Db
) -> PersonalDataOut:
    """What is held about the subscriber, where, why and for how long (administrator and
    director; numbers masked for the administrator; audited as a personal-data export). The
    warehouse's places are listed without counts: ``weiwan privacy report`` counts them."""
    found = service.personal_data_report(
        db, actor, subscriber_id, load_rules(request.app.state.settings.home)
    )
    return PersonalDataOut(
        subscriber_id=found.subscriber_id,
        erased=found.erased,
        subject=found.subject,
        places=[PlaceOut.model_validate(p) for p in found.places],
    )


@router.post("/customers/{subscriber_id}/erasure", response_model=ErasureOut)
def erase(
    subscriber_id: str, body: ErasureIn, request: Request, actor: CurrentActor, db: Db
) -> ErasureOut:
    """Erase the subscriber's personal data from the operational database (administrator;
    audited under the pseudonym; appended to the erasure ledger). The warehouse follows at the
    next daily run, and later deliveries of the subscriber are dropped."""
    ledger = request.app.state.settings.erasure_ledger_file
    done = service.erase_subscriber(db, actor, subscriber_id, body.reason, ledger=ledger)
    return ErasureOut(pseudonym=done.pseudonym, rows=done.rows, already_erased=done.already_erased)
