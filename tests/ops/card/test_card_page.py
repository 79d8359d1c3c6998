"""The card page's composite (``card.page.card_page``): the card with the reader's rights on
each open task, the questionnaires of the workable tasks, tag names and SMS templates."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import Engine, select

from customer_fixtures import publish_customers, publish_rules
from weiwan.core.db import session_scope
from weiwan.ops.card.page import TaskRights, card_page
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.tags import TAG_LABELS_DOCUMENT, forget_tag_labels
from weiwan.ops.org.access import actor_for
from weiwan.ops.org.models import ConfigDocument, User
from weiwan.ops.sms.schemas import TemplateIn
from weiwan.ops.sms.service import archive_template, create_template
from weiwan.ops.surveys.arrivals import VISIT_SOURCE
from weiwan.ops.surveys.return_visit import ensure_return_visit_questionnaire
from weiwan.ops.tasks.models import Task
from weiwan.ops.tasks.service import TaskSpec, create_tasks

TODAY = date(2026, 11, 24)


def test_card_page_gives_rights_questionnaires_tags_and_templates_per_reader(
    engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> None:
    publish_customers(engine, branches["city"], 1)
    publish_rules(engine, {})
    with session_scope(engine) as session:
        session.merge(
            ConfigDocument(
                name=TAG_LABELS_DOCUMENT,
                content=json.dumps({"high_offnet_caller": ["异网高频", "Calls other networks"]}),
            )
        )
        visit = ensure_return_visit_questionnaire(session)
        assert visit is not None
        visit_id = visit.id
        director = actor_for(session, session.get_one(User, people["director"]))
        kept = create_template(session, director, TemplateIn(name="keep", body_zh="您好"))
        gone = create_template(session, director, TemplateIn(name="gone", body_zh="再见"))
        archive_template(session, director, gone.id)
        kept_id = kept.id
        specs = [
            # the agent's own return visit, a queued task of the branch, an outsider's task
            ("visit", VISIT_SOURCE, "outbound_call", people["agent"]),
            ("queue", "manual", "store", None),
            ("other", "manual", "hotline", people["outsider"]),
        ]
        create_tasks(
            session,
            [
                TaskSpec(
                    subscriber_id="S00001",
                    source=source,
                    origin=origin,
                    channel=channel,
                    title_zh=origin,
                    assignee_id=assignee,
                )
                for origin, source, channel, assignee in specs
            ],
        )
    forget_tag_labels()
    with session_scope(engine) as session:
        ids = {origin: tid for origin, tid in session.execute(select(Task.origin, Task.id))}
        customer = session.get_one(CustomerView, "S00001")
        agent = actor_for(session, session.get_one(User, people["agent"]))
        page = card_page(
            session, agent, customer, channel="outbound_call", today=TODAY, language="en"
        )
        assert page.card.customer["subscriber_id"] == "S00001"
        assert page.rights == {
            ids["visit"]: TaskRights(workable=True, claimable=False, transferable=True),
            ids["queue"]: TaskRights(workable=True, claimable=True, transferable=False),
            ids["other"]: TaskRights(workable=False, claimable=False, transferable=False),
        }
        assert set(page.questionnaires) == {ids["visit"]}  # the queued task asks none
        assert page.questionnaires[ids["visit"]].questionnaire.id == visit_id
        assert page.tag_names == ["Calls other networks"]
        assert page.may_work and page.may_send_sms
        assert [t.id for t in page.sms_templates] == [kept_id]

        lead = actor_for(session, session.get_one(User, people["lead"]))
        led = card_page(session, lead, customer, channel="store", today=TODAY, language="zh-CN")
        # a dispatcher may hand over any task in scope; the agent's visit is in the team's
        assert led.rights[ids["visit"]] == TaskRights(True, False, True)
        assert led.rights[ids["queue"]] == TaskRights(True, True, True)
        assert not led.rights[ids["other"]].workable
        assert led.tag_names == ["异网高频"]

        analyst = actor_for(session, session.get_one(User, people["analyst"]))
        read = card_page(
            session, analyst, customer, channel="workbench", today=TODAY, language="en"
        )
        assert not read.may_work and not read.may_send_sms
        assert not any(r.workable or r.claimable or r.transferable for r in read.rights.values())
        assert read.questionnaires == {} and list(read.sms_templates) == []
