"""Route: the daily run history (administrators, directors)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query

from weiwan.ops.deps import CurrentActor, Db
from weiwan.ops.runs.schemas import RunOut, RunStepOut
from weiwan.ops.runs.service import RunView, list_runs

router = APIRouter(prefix="/runs", tags=["runs"])


def run_out(view: RunView) -> RunOut:
    """A run as the API shows it."""
    r = view.run
    return RunOut(
        id=r.id,
        snapshot_date=r.snapshot_date,
        delivery=r.delivery,
        host=r.host,
        started_at=r.started_at,
        finished_at=r.finished_at,
        status=r.status,
        failed_step=r.failed_step,
        error=r.error,
        warnings=view.warnings,
        steps=[
            RunStepOut(
                step=s.step,
                status=s.status,
                started_at=s.started_at,
                seconds=s.seconds,
                rows=s.rows,
                detail=json.loads(s.detail) if s.detail else None,
            )
            for s in view.steps
        ],
    )


@router.get("", response_model=list[RunOut])
def runs(
    actor: CurrentActor, db: Db, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[RunOut]:
    """The latest daily runs, newest first: start, end, status, each step with its duration
    and rows, warnings, the error and its step (administrators, directors)."""
    return [run_out(v) for v in list_runs(db, actor, limit)]
