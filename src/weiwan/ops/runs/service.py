"""The daily run's history: a run is opened, each step recorded as it ends, the run closed
with its status; where a failed run of the same delivery stopped, so the next one resumes
there; and the runs as administrators read them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.ops.base import utcnow
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role
from weiwan.ops.runs.models import DailyRun, DailyRunStep

#: who may read the run history
READERS = (Role.ADMIN, Role.DIRECTOR)


def open_run(session: Session, snapshot: date, delivery: str, host: str) -> int:
    """A new run of ``snapshot``'s delivery, running; its id."""
    run = DailyRun(snapshot_date=snapshot, delivery=delivery[:500], host=host[:100])
    session.add(run)
    session.flush()
    return run.id


def record_step(
    session: Session,
    run_id: int,
    step: str,
    status: str,
    started_at: datetime,
    seconds: float,
    rows: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """One step's end."""
    session.add(
        DailyRunStep(
            run_id=run_id,
            step=step,
            status=status,
            started_at=started_at,
            seconds=round(seconds, 3),
            rows=rows,
            detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
        )
    )


def close_run(
    session: Session,
    run_id: int,
    status: str,
    warnings: Sequence[str] = (),
    failed_step: str | None = None,
    error: str | None = None,
) -> None:
    """The run's end: its status, warnings and, when it failed, where and why."""
    run = session.get_one(DailyRun, run_id)
    run.status, run.finished_at = status, utcnow()
    run.failed_step, run.error = failed_step, (error or None) and error[:4000]
    run.warnings = json.dumps(list(warnings), ensure_ascii=False)


def last_run(session: Session, snapshot: date) -> DailyRun | None:
    """The latest run of ``snapshot``'s delivery."""
    return session.scalar(
        select(DailyRun)
        .where(DailyRun.snapshot_date == snapshot)
        .order_by(DailyRun.id.desc())
        .limit(1)
    )


def steps_done(session: Session, run_id: int) -> set[str]:
    """The steps a run finished (done or skipped because done before)."""
    return set(
        session.scalars(
            select(DailyRunStep.step).where(
                DailyRunStep.run_id == run_id, DailyRunStep.status.in_(("done", "skipped"))
            )
        )
    )


@dataclass(frozen=True)
class RunView:
    """A run with its steps, for the page and the API."""

    run: DailyRun
    steps: list[DailyRunStep]

    @property
    def warnings(self) -> list[str]:
        """The run's warnings."""
        found = json.loads(self.run.warnings or "[]")
        return [str(w) for w in found] if isinstance(found, list) else []


def list_runs(session: Session, actor: Actor, limit: int = 50) -> list[RunView]:
    """The latest runs, newest first, with their steps (administrators, directors)."""
    actor.require(*READERS)
    runs = list(session.scalars(select(DailyRun).order_by(DailyRun.id.desc()).limit(limit)))
    steps: dict[int, list[DailyRunStep]] = {r.id: [] for r in runs}
    if runs:
        for step in session.scalars(
            select(DailyRunStep)
            .where(DailyRunStep.run_id.in_(list(steps)))
            .order_by(DailyRunStep.id)
        ):
            steps[step.run_id].append(step)
    return [RunView(r, steps[r.id]) for r in runs]
