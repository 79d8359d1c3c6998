"""The questionnaire asked on a task: its campaign's (when active), or the return-visit
questionnaire on a new subscriber's visit (task source ``arrival``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.ops.campaigns.models import Campaign
from weiwan.ops.surveys.arrivals import VISIT_SOURCE
from weiwan.ops.surveys.library import questions_of
from weiwan.ops.surveys.models import Question, Questionnaire
from weiwan.ops.surveys.return_visit import return_visit_questionnaire


@dataclass(frozen=True, slots=True)
class TaskRef:
    """The fields of a task that decide its questionnaire."""

    task_id: int
    campaign_id: int | None
    source: str | None


@dataclass(slots=True)
class AskedQuestionnaire:
    """A questionnaire and its questions in order."""

    questionnaire: Questionnaire
    questions: list[Question]


def task_questionnaires(
    session: Session, tasks: Iterable[TaskRef]
) -> dict[int, AskedQuestionnaire]:
    """Per task id: the questionnaire asked on it (tasks without one are left out)."""
    tasks = list(tasks)
    campaign_ids = {t.campaign_id for t in tasks if t.campaign_id}
    by_campaign: dict[int, AskedQuestionnaire] = {}
    if campaign_ids:
        rows = session.execute(
            select(Campaign.id, Questionnaire)
            .join(Questionnaire, Questionnaire.id == Campaign.questionnaire_id)
            .where(Campaign.id.in_(campaign_ids), Questionnaire.status == "active")
        ).all()
        by_campaign = {cid: AskedQuestionnaire(q, questions_of(session, q.id)) for cid, q in rows}
    visit: AskedQuestionnaire | None = None
    if any(t.source == VISIT_SOURCE for t in tasks):
        found = return_visit_questionnaire(session)
        if found is not None:
            visit = AskedQuestionnaire(found, questions_of(session, found.id))
    out: dict[int, AskedQuestionnaire] = {}
    for task in tasks:
        asked = visit if task.source == VISIT_SOURCE else by_campaign.get(task.campaign_id or 0)
        if asked is not None:
            out[task.task_id] = asked
    return out
