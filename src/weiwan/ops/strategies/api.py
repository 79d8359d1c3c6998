"""Routes: the strategy arms' evaluation and promoting a challenger."""

from __future__ import annotations

from fastapi import APIRouter, Path

from weiwan.ops.deps import CurrentActor, Db
from weiwan.ops.strategies import service
from weiwan.ops.strategies.schemas import (
    PromoteIn,
    PromotionOut,
    StrategyArmOut,
    StrategyEvaluationOut,
    UpliftLevelOut,
)

router = APIRouter(prefix="/strategies", tags=["strategies"])


@router.get("", response_model=StrategyEvaluationOut)
def evaluation(actor: CurrentActor, db: Db) -> StrategyEvaluationOut:
    """Champion–challenger: each arm's churn against its hold-out and the champion, with 95 %
    intervals, on the latest published day, and what the outcomes taught the decisions per
    offer type (centre head, director, analyst, administrator)."""
    found = service.latest_evaluation(db, actor)
    learned = service.latest_learning(db, actor)
    return StrategyEvaluationOut(
        snapshot_date=found.day,
        arms=[StrategyArmOut.model_validate(a) for a in found.arms],
        learned_on=learned.day if learned.offer_types else None,
        offer_types=[UpliftLevelOut.model_validate(r) for r in learned.offer_types.values()],
    )


@router.post("/{arm}/promote", response_model=PromotionOut)
def promote(
    actor: CurrentActor,
    db: Db,
    body: PromoteIn,
    arm: str = Path(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$"),
) -> PromotionOut:
    """Make a challenger the champion from the next daily run (roles that may configure);
    409 unless it was found significantly better, or ``override`` is set; audited."""
    done = service.promote(db, actor, arm, reason=body.reason, override=body.override)
    return PromotionOut(
        arm=done.arm,
        previous_champion=done.previous,
        pending_sha256=done.sha256,
        significant=done.significant,
    )
