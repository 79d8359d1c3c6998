"""The workbench pages: "My tasks" (scope, order, counts, export) and the customer card with
its actions (outcomes through the contact service, SMS, transfer)."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select, update

from customer_fixtures import publish_rules
from web.page_helpers import page_login
from web.workbench_fixtures import quiet_rules_now, task_ids_in, world_fixture  # noqa: F401
from weiwan.core.db import session_scope
from weiwan.ops.campaigns.models import Campaign
from weiwan.ops.contacts.models import Acceptance, Contact
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.tags import TAG_LABELS_DOCUMENT, forget_tag_labels
from weiwan.ops.org.access import actor_for
from weiwan.ops.org.models import AuditEvent, ConfigDocument, User
from weiwan.ops.sms.models import SmsMessage
from weiwan.ops.sms.schemas import TemplateIn
from weiwan.ops.sms.service import create_template
from weiwan.ops.surveys.library import create_questionnaire, questions_of
from weiwan.ops.surveys.models import SurveyAnswer, SurveyResponse
from weiwan.ops.surveys.schemas import OptionIn, QuestionIn, QuestionnaireIn
from weiwan.ops.tasks.listing import list_tasks
from weiwan.ops.tasks.models import Task, TaskTransfer
from weiwan.ops.tasks.service import TaskSpec, create_tasks

SQLITE = pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
HX = {"HX-Request": "true"}


def _in_a_month() -> str:
    """A call-back time a month ahead, as the form's datetime-local field sends it."""
    return (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")


def _status(engine: Engine, task_id: int) -> str:
    with session_scope(engine) as session:
        task = session.get(Task, task_id)
        assert task is not None
        return task.status


def test_workbench_lists_exactly_the_agents_tasks_in_priority_order(
    app: FastAPI, engine: Engine, world: dict[str, Any], people: dict[str, int]
) -> None:
    tasks = world["tasks"]
    page = page_login(app, "agent", "en").get("/workbench")
    assert page.status_code == 200
    shown = task_ids_in(page.text)
    # the most worth acting on first (the diamond customer's), then the due time
    assert shown == [
        tasks[("S00003", "outbound_call")],
        tasks[("S00002", "outbound_call")],
        tasks[("S00001", "outbound_call")],
    ]
    with session_scope(engine) as session:
        agent = session.get(User, people["agent"])
        assert agent is not None
        service_ids = {t.id for t in list_tasks(session, actor_for(session, agent), view="mine")}
    assert set(shown) == service_ids  # the same tasks as /api/v1/tasks
    assert tasks[("S00004", "outbound_call")] not in shown  # agent2's task is not there
    assert 'href="/customers/S00003?task=' in page.text
    assert "Policy keep168" in page.text  # the offer by name, not its code
    assert "政策keep168" in page_login(app, "agent").get("/workbench").text
    assert 'id="count-open" data-value="3"' in page.text
    assert 'id="count-done-today" data-value="0"' in page.text
    other = task_ids_in(page_login(app, "agent2").get("/workbench").text)
    assert other == [tasks[("S00004", "outbound_call")]]
    queue = task_ids_in(page_login(app, "agent").get("/workbench?view=queue").text)
    assert set(queue) == {tasks[("S00001", "store")], tasks[("S00001", "hotline")]}
    store_only = page_login(app, "agent").get("/workbench?view=all&channel=store")
    assert task_ids_in(store_only.text) == [tasks[("S00001", "store")]]


def test_the_list_sorts_by_any_heading_and_marks_who_was_contacted_today(
    app: FastAPI, engine: Engine, world: dict[str, Any]
) -> None:
    tasks = world["tasks"]
    mine = [tasks[(sid, "outbound_call")] for sid in ("S00001", "S00002", "S00003")]
    # S00002 was called earlier today in the centre's time zone (halfway since its midnight:
    # "an hour ago" is yesterday there during the first hour of its day)
    now = datetime.now(ZoneInfo(app.state.settings.timezone))
    earlier_today = now - (now - now.replace(hour=0, minute=0, second=0, microsecond=0)) / 2
    with session_scope(engine) as session:
        session.add(
            Contact(
                subscriber_id="S00002",
                at=earlier_today.astimezone(UTC),
                channel="outbound_call",
                status="sent",
            )
        )
    agent = page_login(app, "agent", "en")
    by_customer = agent.get("/workbench?sort=customer").text
    assert task_ids_in(by_customer) == mine
    assert re.search(r'data-sort="customer" aria-sort="ascending"', by_customer)
    # the heading of the sorted column links to the other order, the others to their own
    assert (
        "sort=customer&amp;order=desc" in by_customer and "sort=value&amp;order=desc" in by_customer
    )
    assert task_ids_in(agent.get("/workbench?sort=customer&order=desc").text) == mine[::-1]
    assert task_ids_in(agent.get("/workbench?sort=value&order=asc").text) == mine
    default = agent.get("/workbench").text
    assert task_ids_in(default) == mine[::-1]  # expected value, most first
    assert "CN¥480" in default  # the value on the row
    rows = re.findall(r"<tr>(.*?)</tr>", default, re.S)
    marked = [r for r in rows if "Contacted today" in r]
    assert len(marked) == 1 and "S00002" in marked[0]
    assert "今日已接触" in page_login(app, "agent").get("/workbench").text
    bad = agent.get("/workbench?sort=password")
    assert bad.status_code == 422 and "sort" in bad.text
    export = page_login(app, "director", "en").get("/workbench?view=all&sort=customer&export=xlsx")
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    customers = [
        row[header.index("Customer")] for row in sheet.iter_rows(min_row=2, values_only=True)
    ]
    assert customers == sorted(customers)


def test_an_anomaly_task_of_a_subscriber_without_a_card_leads_to_the_pool(
    app: FastAPI, engine: Engine, world: dict[str, Any], people: dict[str, int]
) -> None:
    spec = TaskSpec(  # S09999 left: no card, but the pool handed the agent a task about them
        "S09999", "manual", "anomaly:7", "outbound_call", title_zh="异常库：核查",
        assignee_id=people["agent"],
    )  # fmt: skip
    with session_scope(engine) as session:
        assert create_tasks(session, [spec]) == 1
    page = page_login(app, "agent", "en").get("/workbench").text
    assert 'href="/anomalies?subscriber_id=S09999"' in page
    assert 'href="/customers/S09999' not in page
    assert 'href="/customers/S00003?task=' in page  # customers with a card: the card


@pytest.mark.parametrize("view", ["mine", "queue", "all"])
def test_the_api_and_the_workbench_list_the_same_tasks_in_the_same_order(
    app: FastAPI, world: dict[str, Any], view: str
) -> None:
    seen = 0
    for who in ("agent", "lead", "director"):
        client = page_login(app, who, "en")
        api = client.get("/api/v1/tasks", params={"view": view})
        assert api.status_code == 200
        page = client.get(f"/workbench?view={view}&status=open")
        assert task_ids_in(page.text) == [t["id"] for t in api.json()]
        seen += len(api.json())
    assert seen > 0  # the view lists something for someone


@SQLITE
def test_workbench_pages_through_large_lists(
    app: FastAPI, engine: Engine, people: dict[str, int], world: dict[str, Any]
) -> None:
    with session_scope(engine) as session:
        create_tasks(
            session,
            [
                TaskSpec(
                    subscriber_id="S00002",
                    source="manual",
                    origin=f"bulk:{n}",
                    channel="outbound_call",
                    assignee_id=people["agent"],
                    due_at=datetime.now(UTC) + timedelta(days=5, minutes=n),
                )
                for n in range(117)
            ],
        )
    client = page_login(app, "agent")
    pages = [task_ids_in(client.get(f"/workbench?page={n}").text) for n in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [50, 50, 20, 0]  # 3 + 117 tasks, 50 a page
    everything = [task_id for page in pages for task_id in page]
    assert len(set(everything)) == 120
    first = client.get("/workbench?page=1").text
    assert 'id="count-open" data-value="120"' in first and 'id="next-page"' in first
    bigger = task_ids_in(client.get("/workbench?size=100&page=2").text)
    assert bigger == everything[100:]


@SQLITE
def test_workbench_export_equals_its_rows_and_needs_the_permission(
    app: FastAPI, world: dict[str, Any]
) -> None:
    director = page_login(app, "director", "en")
    page = director.get("/workbench?view=all")
    shown = task_ids_in(page.text)
    assert len(shown) == 6
    export = director.get("/workbench?view=all&export=xlsx")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["Expected value", "Due"] and "Customer" in header
    column = header.index("Task")
    exported = [row[column] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert exported == shown
    assert page_login(app, "agent").get("/workbench?export=xlsx").status_code == 403
    assert page_login(app, "lead").get("/workbench?export=xlsx").status_code == 403


@SQLITE
@pytest.mark.usefixtures("world")
def test_workbench_is_refused_to_roles_without_tasks(app: FastAPI) -> None:
    for username in ("admin", "analyst", "clerk"):
        assert page_login(app, username).get("/workbench").status_code == 403


@SQLITE
def test_card_shows_reasons_policies_and_script_in_both_languages(
    app: FastAPI, world: dict[str, Any]
) -> None:
    zh = page_login(app, "agent").get("/customers/S00001")
    assert zh.status_code == 200
    assert "异网通话增加" in zh.text and "政策keep168" in zh.text
    assert "您好，这是为您准备的优惠" in zh.text and "可获得的优惠" in zh.text
    en = page_login(app, "agent", "en").get("/customers/S00001")
    assert "more off-net calls" in en.text and "Policy keep168" in en.text
    assert "Hello, an offer for you" in en.text and "Offers the customer may get" in en.text
    assert "异网通话增加" not in en.text
    # every open task of the customer, in every channel
    for channel in ("outbound_call", "store", "hotline"):
        assert f'id="task-{world["tasks"][("S00001", channel)]}"' in en.text


def test_card_names_the_likeliest_leaving_reason_where_the_model_gives_one(
    app: FastAPI, engine: Engine, world: dict[str, Any]
) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(CustomerView)
            .where(CustomerView.subscriber_id == "S00001")
            .values(leaving_reason="network_quality", leaving_reason_share=0.62)
        )
    zh = page_login(app, "agent").get("/customers/S00001")
    assert 'id="customer-leaving-reason"' in zh.text
    assert "最可能的离网原因" in zh.text and "网络质量" in zh.text and "62" in zh.text
    en = page_login(app, "agent", "en").get("/customers/S00001")
    assert "Most likely to leave over" in en.text and "Network quality" in en.text
    other = page_login(app, "agent").get("/customers/S00002")  # a model without one: none
    assert other.status_code == 200 and 'id="customer-leaving-reason"' not in other.text


@SQLITE
def test_card_names_the_tags_in_the_readers_language(
    app: FastAPI, engine: Engine, world: dict[str, Any]
) -> None:
    card = '<div id="customer-tags">'
    before = page_login(app, "agent").get("/customers/S00001").text
    assert "high_offnet_caller" in before.split(card)[1][:400]  # no names published: the id
    with session_scope(engine) as session:
        session.add(
            ConfigDocument(
                name=TAG_LABELS_DOCUMENT,
                content=json.dumps({"high_offnet_caller": ["异网通话多", "Many off-net calls"]}),
            )
        )
    forget_tag_labels()
    zh = page_login(app, "agent").get("/customers/S00001").text.split(card)[1][:400]
    en = page_login(app, "agent", "en").get("/customers/S00001").text.split(card)[1][:400]
    assert "异网通话多" in zh and "high_offnet_caller" not in zh
    assert "Many off-net calls" in en


@SQLITE
def test_agent_cannot_open_another_agents_customer_and_views_are_audited(
    app: FastAPI, engine: Engine, people: dict[str, int], world: dict[str, Any]
) -> None:
    def views() -> int:
        with session_scope(engine) as session:
            return (
                session.scalar(
                    select(func.count()).where(
                        AuditEvent.action == "pii_view",
                        AuditEvent.target_id == "S00001",
                        AuditEvent.user_id == people["agent"],
                    )
                )
                or 0
            )

    agent = page_login(app, "agent")
    before = views()
    assert agent.get("/customers/S00001").status_code == 200
    assert views() == before + 1
    assert agent.get("/customers/S00004").status_code == 404  # agent2's customer
    assert agent.get("/customers/S99999").status_code == 404
    assert page_login(app, "outsider").get("/customers/S00001").status_code == 404


@SQLITE
@pytest.mark.usefixtures("world")
def test_phone_numbers_are_masked_unless_the_role_may_see_them(app: FastAPI) -> None:
    agent = page_login(app, "agent").get("/customers/S00001").text
    assert "138****0001" in agent and "13800000001" not in agent
    head = page_login(app, "head").get("/customers/S00001").text
    assert "13800000001" in head


@SQLITE
def test_an_accepted_outcome_closes_the_other_tasks_for_the_policy(
    app: FastAPI, engine: Engine, world: dict[str, Any]
) -> None:
    tasks = world["tasks"]
    worked = tasks[("S00001", "outbound_call")]
    agent = page_login(app, "agent", "en")
    response = agent.post(
        "/customers/S00001/contacts",
        data={"task_id": worked, "outcome": ["connected", "accepted"], "policy_id": "keep168"},
        headers=HX,
    )
    assert response.status_code == 200
    assert "Saved" in response.text and "2 other open tasks" in response.text
    assert _status(engine, worked) == "done"
    assert _status(engine, tasks[("S00001", "store")]) == "closed"
    assert _status(engine, tasks[("S00001", "hotline")]) == "closed"
    with session_scope(engine) as session:
        acceptance = session.scalar(select(Acceptance).where(Acceptance.subscriber_id == "S00001"))
        assert acceptance is not None and acceptance.policy_id == "keep168"
    assert 'id="no-open-tasks"' in response.text  # the card section shows them closed
    # the store's screen-pop reads the same data: the tasks show as closed there
    pop = page_login(app, "clerk", "en").get("/screen-pop", params={"phone": "13800000001"})
    assert pop.status_code == 200
    for channel in ("store", "hotline"):
        task_id = tasks[("S00001", channel)]
        assert f'data-task="{task_id}" data-status="closed"' in pop.text
        assert f'id="task-{task_id}"' not in pop.text
    # a second acceptance of the same offer is refused with a message, nothing stored
    again = agent.post(
        "/customers/S00001/contacts",
        data={"channel": "outbound_call", "outcome": "accepted", "policy_id": "keep168"},
        headers=HX,
    )
    assert again.status_code == 200 and "already accepted" in again.text
    with session_scope(engine) as session:
        count = session.scalar(select(func.count()).select_from(Acceptance))
        assert count == 1


@SQLITE
def test_the_card_warns_before_a_call_in_quiet_hours_and_the_call_is_still_recorded(
    app: FastAPI, engine: Engine, world: dict[str, Any]
) -> None:
    """The rules stop the outreach, not the record: the card says before the call that the
    customer may not be called now and from when; a call made anyway is saved with what the
    agent typed, flagged and explained."""
    tz = ZoneInfo(app.state.settings.timezone)
    rules, ends = quiet_rules_now(tz)
    publish_rules(engine, rules)
    task_id = world["tasks"][("S00002", "outbound_call")]
    agent = page_login(app, "agent", "en")
    card = agent.get(f"/customers/S00002?task={task_id}")
    assert 'data-channel="outbound_call" data-allowed="false"' in card.text
    assert "Contacted today: 0" in card.text and "quiet hours" in card.text
    assert "next allowed" in card.text
    zh = page_login(app, "agent").get(f"/customers/S00002?task={task_id}")
    assert "今日已接触 0" in zh.text and "免打扰时段" in zh.text and "下次" in zh.text
    response = agent.post(
        "/customers/S00002/contacts",
        data={"task_id": task_id, "outcome": "connected", "note": "客户主动回电"},
        headers=HX,
    )
    assert response.status_code == 200
    assert "Saved: Connected" in response.text
    assert "Quiet hours" in response.text and "Next allowed time" in response.text
    assert _status(engine, task_id) == "done"
    with session_scope(engine) as session:
        contact = session.scalar(select(Contact).where(Contact.subscriber_id == "S00002"))
        assert contact is not None and contact.status == "sent"
        assert contact.over_rule == "quiet_hours" and contact.note == "客户主动回电"
    assert ends > datetime.now(tz)


@SQLITE
def test_incomplete_outcomes_are_explained_in_the_form(
    app: FastAPI, engine: Engine, world: dict[str, Any]
) -> None:
    task_id = world["tasks"][("S00002", "outbound_call")]
    agent = page_login(app, "agent", "en")
    typed = {"task_id": task_id, "outcome": "refused", "note": "客户说下月再考虑 <b>"}
    refused = agent.post("/customers/S00002/contacts", data=typed, headers=HX)
    assert "Choose why the customer refused" in refused.text
    # the refusal sits in the form it is about, with what the agent typed and chose kept
    form = refused.text.split(f'id="record-outcome-{task_id}"')[1].split("</form>")[0]
    assert 'id="form-message"' in form
    assert ">客户说下月再考虑 &lt;b&gt;</textarea>" in form
    assert re.search(rf'id="o-{task_id}-refused" autocomplete="off" checked', form)
    zh = page_login(app, "agent").post(
        "/customers/S00002/contacts", data={"task_id": task_id}, headers=HX
    )
    assert "请至少选择一个结果" in zh.text
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 0
    later = agent.post(
        "/customers/S00002/contacts",
        data={"task_id": task_id, "outcome": "call_back", "call_back_at": _in_a_month()},
        headers=HX,
    )
    assert "The task stays open" in later.text
    assert _status(engine, task_id) == "open"


@SQLITE
@pytest.mark.usefixtures("world")
def test_roles_that_do_not_serve_customers_get_no_form_and_403(app: FastAPI) -> None:
    for username in ("admin", "analyst"):
        client = page_login(app, username)
        card = client.get("/customers/S00001")
        assert card.status_code == 200 and "record-outcome" not in card.text
        response = client.post(
            "/customers/S00001/contacts",
            data={"channel": "outbound_call", "outcome": "connected"},
            headers=HX,
        )
        assert response.status_code == 403


@SQLITE
def test_transfer_claim_and_sms_from_the_card(
    app: FastAPI,
    engine: Engine,
    branches: dict[str, int],
    people: dict[str, int],
    world: dict[str, Any],
) -> None:
    task_id = world["tasks"][("S00002", "outbound_call")]
    agent = page_login(app, "agent", "en")
    sent = agent.post("/customers/S00002/sms", data={"body": "Hello from your centre"}, headers=HX)
    assert sent.status_code == 200 and "queued" in sent.text
    sms_form = sent.text.split('id="send-sms"')[1].split("</form>")[0]
    assert 'id="form-message"' in sms_form  # the result next to the form it is about
    assert re.search(r'id="sms-body"[^>]*></textarea>', sms_form)  # sent: the text is cleared
    refused = agent.post(  # a variable without a template: nothing to send; the input stays
        "/customers/S00002/sms", data={"var_name": "amount", "var_value": "100"}, headers=HX
    )
    sms_form = refused.text.split('id="send-sms"')[1].split("</form>")[0]
    assert "Choose a template or write a text" in sms_form
    assert 'value="amount"' in sms_form and 'value="100"' in sms_form
    moved = agent.post(
        f"/customers/S00002/tasks/{task_id}/transfer",
        data={"to_channel": "store", "to_branch_id": branches["rural_a"], "reason": "walk-in"},
        headers=HX,
    )
    assert moved.status_code == 200
    with session_scope(engine) as session:
        task = session.get(Task, task_id)
        assert task is not None and task.channel == "store"
        assert task.branch_id == branches["rural_a"] and task.assignee_id is None
        assert session.scalar(select(func.count()).select_from(TaskTransfer)) == 1
    store_task = world["tasks"][("S00001", "store")]
    card = agent.get("/customers/S00001")
    assert f'id="claim-{store_task}"' in card.text
    claimed = agent.post(f"/customers/S00001/tasks/{store_task}/claim", headers=HX)
    assert claimed.status_code == 200 and f'id="claim-{store_task}"' not in claimed.text
    with session_scope(engine) as session:
        task = session.get(Task, store_task)
        assert task is not None and task.assignee_id == people["agent"]
    head = page_login(app, "head", "en").get("/customers/S00002")
    assert 'class="list-group-item transfer-step"' in head.text and "walk-in" in head.text


@SQLITE
def test_an_agent_hands_a_task_to_a_teammate_by_name_and_to_no_one_outside(
    app: FastAPI, engine: Engine, people: dict[str, int], world: dict[str, Any]
) -> None:
    task_id = world["tasks"][("S00002", "outbound_call")]
    agent = page_login(app, "agent", "en")
    card = agent.get(f"/customers/S00002?task={task_id}").text
    choices = card.split(f'id="tu-{task_id}"')[1].split("</select>")[0]
    assert f'value="{people["agent2"]}"' in choices and f'value="{people["lead"]}"' in choices
    for other in ("outsider", "analyst", "agent"):  # another branch, no tasks, oneself
        assert f'value="{people[other]}"' not in choices
    refused = agent.post(
        f"/customers/S00002/tasks/{task_id}/transfer",
        data={"to_user_id": people["outsider"]},
        headers=HX,
    )
    assert "cannot take this task" in refused.text
    assert _assignee(engine, task_id) == people["agent"]
    handed = agent.post(
        f"/customers/S00002/tasks/{task_id}/transfer",
        data={"to_user_id": people["agent2"], "reason": "knows the customer"},
        headers=HX,
    )
    assert "The task was transferred" in handed.text
    assert _assignee(engine, task_id) == people["agent2"]
    assert task_id in task_ids_in(page_login(app, "agent2").get("/workbench").text)
    with session_scope(engine) as session:
        step = session.scalars(select(TaskTransfer).where(TaskTransfer.task_id == task_id)).one()
        assert (step.to_user_id, step.reason) == (people["agent2"], "knows the customer")


def _assignee(engine: Engine, task_id: int) -> int | None:
    with session_scope(engine) as session:
        task = session.get(Task, task_id)
        assert task is not None
        return task.assignee_id


@SQLITE
def test_workbench_filters_due_today_and_overdue(
    app: FastAPI, engine: Engine, world: dict[str, Any]
) -> None:
    """Overdue tasks are counted and filtered (the fixture's tasks are due tomorrow and later;
    one is moved into the past here)."""
    task_id = world["tasks"][("S00002", "outbound_call")]
    with session_scope(engine) as session:
        session.execute(
            update(Task)
            .where(Task.id == task_id)
            .values(due_at=datetime.now(UTC) - timedelta(hours=1))
        )
    client = page_login(app, "agent")
    page = client.get("/workbench")
    assert 'id="count-overdue" data-value="1"' in page.text
    by_due = client.get("/workbench?sort=due").text
    assert task_ids_in(by_due)[0] == task_id  # sorted by due time: the overdue one first
    assert 'aria-sort="ascending"' in by_due
    assert task_ids_in(client.get("/workbench?due=overdue").text) == [task_id]
    assert task_id not in task_ids_in(client.get("/workbench?due=today").text)


@SQLITE
def test_the_campaigns_questionnaire_is_answered_with_the_outcome(
    app: FastAPI,
    engine: Engine,
    branches: dict[str, int],
    people: dict[str, int],
    world: dict[str, Any],
) -> None:
    with session_scope(engine) as session:
        head = session.get(User, people["head"])
        assert head is not None
        questionnaire = create_questionnaire(
            session,
            actor_for(session, head),
            QuestionnaireIn(
                title_zh="满意度回访",
                title_en="Satisfaction follow-up",
                questions=[
                    QuestionIn(
                        kind="single",
                        text_zh="您对网络满意吗？",
                        text_en="Happy with the network?",
                        options=[
                            OptionIn(value="yes", label_zh="满意", label_en="Yes"),
                            OptionIn(value="no", label_zh="不满意", label_en="No"),
                        ],
                    )
                ],
            ),
        )
        campaign = Campaign(
            name="回访",
            branch_id=branches["city"],
            status="running",
            target_filter="{}",
            policy_ids="keep168",
            channels="outbound_call",
            holdout_share=0.1,
            questionnaire_id=questionnaire.id,
            created_by=people["head"],
        )
        session.add(campaign)
        session.flush()
        task_id = world["tasks"][("S00002", "outbound_call")]
        session.execute(update(Task).where(Task.id == task_id).values(campaign_id=campaign.id))
        question_id = questions_of(session, questionnaire.id)[0].id
    agent = page_login(app, "agent", "en")
    card = agent.get(f"/customers/S00002?task={task_id}")
    assert "Satisfaction follow-up" in card.text and "Happy with the network?" in card.text
    saved = agent.post(
        "/customers/S00002/contacts",
        data={
            "task_id": task_id,
            "outcome": "connected",
            "questionnaire_id": questionnaire.id,
            f"q{question_id}": "no",
        },
        headers=HX,
    )
    assert saved.status_code == 200 and "Saved" in saved.text
    with session_scope(engine) as session:
        answer = session.scalar(select(SurveyAnswer.option_value))
        assert answer == "no"
        response = session.scalar(select(SurveyResponse))
        assert response is not None and response.subscriber_id == "S00002"


@SQLITE
def test_sms_templates_take_customer_fields_and_free_variables(
    app: FastAPI, engine: Engine, people: dict[str, int], world: dict[str, Any]
) -> None:
    with session_scope(engine) as session:
        head = session.get(User, people["head"])
        assert head is not None
        template = create_template(
            session,
            actor_for(session, head),
            TemplateIn(
                name="welcome back",
                body_zh="${name}您好，${gift}已为您保留",
                free_variables=["gift"],
            ),
        )
    agent = page_login(app, "agent", "en")
    card = agent.get("/customers/S00002")
    assert f'<option value="{template.id}">welcome back' in card.text
    missing = agent.post(
        "/customers/S00002/sms", data={"template_id": template.id, "language": "zh"}, headers=HX
    )
    assert missing.status_code == 200 and "Not possible now" in missing.text
    sent = agent.post(
        "/customers/S00002/sms",
        data={
            "template_id": template.id,
            "language": "zh",
            "var_name": ["gift", ""],
            "var_value": ["10GB", ""],
        },
        headers=HX,
    )
    assert sent.status_code == 200 and "queued" in sent.text
    with session_scope(engine) as session:
        bodies = list(session.scalars(select(SmsMessage.body)))
    assert bodies == ["客户2您好，10GB已为您保留"]
    refused = page_login(app, "analyst").post(
        "/customers/S00002/sms", data={"body": "hi"}, headers=HX
    )
    assert refused.status_code == 403


@SQLITE
def test_the_tier_badge_tells_mass_from_ordinary(
    app: FastAPI, engine: Engine, world: dict[str, Any]
) -> None:
    with session_scope(engine) as session:
        for sid, tier in (("S00001", "mass"), ("S00002", "ordinary")):
            session.execute(
                update(CustomerView)
                .where(CustomerView.subscriber_id == sid)
                .values(value_tier=tier)
            )
    agent = page_login(app, "agent")
    badges = {}
    for sid in ("S00001", "S00002"):
        page = agent.get(f"/customers/{sid}").text
        found = re.search(
            r'<span class="badge ([^"]+)" id="customer-tier"\s+data-tier="(\w+)">(\w+)<', page
        )
        assert found, sid
        badges[found.group(2)] = (found.group(1), found.group(3))
    assert badges["mass"][1] == "大众" and badges["ordinary"][1] == "普通"
    assert badges["mass"][0] != badges["ordinary"][0]
