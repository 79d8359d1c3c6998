"""A new subscriber's return visit on the pages: in the agent's My tasks, the card asks the
return-visit questionnaire with the outcome, and saving both closes the visit."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select

from customer_fixtures import SNAPSHOT, publish_customers, publish_rules
from web.page_helpers import page_login
from web.workbench_fixtures import OPEN_RULES, task_ids_in
from weiwan.core.db import session_scope
from weiwan.ops.handover.service import hand_over
from weiwan.ops.surveys.library import questions_of
from weiwan.ops.surveys.models import SurveyResponse
from weiwan.ops.surveys.return_visit import return_visit_questionnaire
from weiwan.ops.tasks.models import Task

HX = {"HX-Request": "true"}


@pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
def test_the_agent_works_the_visit_with_its_questionnaire(
    app: FastAPI, engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> None:
    publish_customers(engine, branches["city"], 1, lifecycle_stage="onboarding")
    publish_rules(engine, OPEN_RULES)
    hand_over(engine, SNAPSHOT)
    with session_scope(engine) as session:
        visit = session.scalars(select(Task).where(Task.source == "arrival")).one()
        assert visit.assignee_id == people["agent"]
        questionnaire = return_visit_questionnaire(session)
        assert questionnaire is not None
        questions = questions_of(session, questionnaire.id)
        form = {f"q{q.id}": json.loads(q.options)[0]["value"] for q in questions if q.required}
        task_id, questionnaire_id = visit.id, questionnaire.id
    agent = page_login(app, "agent", "zh")
    assert task_id in task_ids_in(agent.get("/workbench").text)  # in My tasks
    card = agent.get(f"/customers/S00001?task={task_id}")
    assert card.status_code == 200
    assert f'id="questionnaire-{task_id}"' in card.text and "新入网回访" in card.text
    assert questions[0].text_zh in card.text
    saved = agent.post(
        "/customers/S00001/contacts",
        data={
            "task_id": task_id,
            "outcome": "connected",
            "questionnaire_id": questionnaire_id,
            **form,
        },
        headers=HX,
    )
    assert saved.status_code == 200
    with session_scope(engine) as session:
        task = session.get(Task, task_id)
        assert task is not None and task.status == "done"
        response = session.scalars(select(SurveyResponse)).one()
        assert response.questionnaire_id == questionnaire_id
        assert response.subscriber_id == "S00001"
