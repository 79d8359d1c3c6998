"""Questionnaires: build, clone, freeze once answered, archive; answers on contacts in scope
with per-kind validation; results with hand-checked counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from api_helpers import PASSWORD, login
from sms_fixtures import actor, add_contact, add_customers, assign
from weiwan.core.db import session_scope
from weiwan.core.errors import InvalidRequestError, NotFoundError, PermissionDeniedError
from weiwan.ops.org.roles import Role
from weiwan.ops.org.schemas import UserCreate
from weiwan.ops.org.service import create_user
from weiwan.ops.surveys.answers import record_answers
from weiwan.ops.surveys.library import create_questionnaire, questions_of
from weiwan.ops.surveys.results import results
from weiwan.ops.surveys.schemas import AnswerIn, QuestionnaireIn

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)

SURVEY: dict[str, Any] = {
    "title_zh": "离网原因调查",
    "title_en": "Why customers leave",
    "questions": [
        {
            "kind": "single",
            "text_zh": "您对网络满意吗？",
            "text_en": "Are you satisfied with the network?",
            "options": [
                {"value": "very", "label_zh": "很满意", "label_en": "Very"},
                {"value": "ok", "label_zh": "一般", "label_en": "OK"},
                {"value": "bad", "label_zh": "不满意", "label_en": "Not"},
            ],
        },
        {
            "kind": "multiple",
            "text_zh": "哪些方面需要改进？",
            "required": False,
            "options": [
                {"value": "price", "label_zh": "资费"},
                {"value": "signal", "label_zh": "信号"},
                {"value": "service", "label_zh": "服务"},
            ],
        },
        {"kind": "open", "text_zh": "其他意见", "required": False},
    ],
}


@pytest.fixture
def world(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> dict[str, int]:
    """Customers S1–S3 of ``agent``, S4 of ``agent2``, S10 of ``outsider`` (other branch);
    one contact each (c1–c4, c10) and a blocked one on S1."""
    add_customers(engine, branches["city"], ["S00001", "S00002", "S00003", "S00004"])
    add_customers(engine, branches["other"], ["S00010"])
    assign(engine, ["S00001", "S00002", "S00003"], people["agent"])
    assign(engine, ["S00004"], people["agent2"])
    assign(engine, ["S00010"], people["outsider"])
    ids = {
        f"c{n}": add_contact(engine, f"S0000{n}", T0, user_id=people["agent"]) for n in (1, 2, 3)
    }
    ids["c4"] = add_contact(engine, "S00004", T0, user_id=people["agent2"])
    ids["c10"] = add_contact(engine, "S00010", T0, user_id=people["outsider"])
    ids["blocked"] = add_contact(engine, "S00001", T0, user_id=people["agent"], status="blocked")
    return ids


def _qids(body: dict[str, Any]) -> list[int]:
    return [q["id"] for q in body["questions"]]


def test_build_clone_freeze_archive(app: FastAPI, world: dict[str, int]) -> None:
    head, agent = login(app, "head"), login(app, "agent")
    assert agent.post("/api/v1/questionnaires", json=SURVEY).status_code == 403
    one_option = {
        **SURVEY,
        "questions": [{**SURVEY["questions"][0], "options": [{"value": "a", "label_zh": "甲"}]}],
    }
    assert head.post("/api/v1/questionnaires", json=one_option).status_code == 422

    created = head.post("/api/v1/questionnaires", json=SURVEY)
    assert created.status_code == 201, created.text
    q = created.json()
    assert [x["position"] for x in q["questions"]] == [1, 2, 3]
    assert [x["kind"] for x in q["questions"]] == ["single", "multiple", "open"]
    assert q["questions"][0]["options"][2] == {
        "value": "bad",
        "label_zh": "不满意",
        "label_en": "Not",
    }
    assert not q["in_use"]
    url = f"/api/v1/questionnaires/{q['id']}"

    # not yet answered: the questions may change (here: drop the open question)
    changed = head.patch(url, json={"questions": SURVEY["questions"][:2]})
    assert changed.status_code == 200 and len(changed.json()["questions"]) == 2
    q1, _q2 = _qids(changed.json())

    answered = agent.post(
        f"/api/v1/contacts/{world['c1']}/answers",
        json={"questionnaire_id": q["id"], "answers": [{"question_id": q1, "value": "ok"}]},
    )
    assert answered.status_code == 201, answered.text
    assert answered.json()["answers"] == {str(q1): "ok"}

    frozen = head.patch(url, json={"questions": SURVEY["questions"]})
    assert frozen.status_code == 409 and "clone" in frozen.json()["detail"]
    assert head.patch(url, json={"title_en": "Churn survey"}).json()["title_en"] == "Churn survey"
    assert head.get(url).json()["in_use"] is True

    clone = head.post(f"{url}/clone", json={"title_zh": "离网原因调查（二）"})
    assert clone.status_code == 201
    copy = clone.json()
    assert copy["cloned_from_id"] == q["id"] and not copy["in_use"]
    assert [x["text_zh"] for x in copy["questions"]] == [
        x["text_zh"] for x in changed.json()["questions"]
    ]
    assert set(_qids(copy)).isdisjoint(_qids(changed.json()))
    copy_url = f"/api/v1/questionnaires/{copy['id']}"
    assert head.patch(copy_url, json={"questions": SURVEY["questions"]}).status_code == 200

    assert head.post(f"{url}/archive").json()["status"] == "archived"
    again = agent.post(
        f"/api/v1/contacts/{world['c2']}/answers",
        json={"questionnaire_id": q["id"], "answers": [{"question_id": q1, "value": "ok"}]},
    )
    assert again.status_code == 409
    listed = [row["id"] for row in agent.get("/api/v1/questionnaires").json()]
    assert copy["id"] in listed and q["id"] not in listed
    everything = agent.get("/api/v1/questionnaires", params={"status": "all"}).json()
    assert q["id"] in [row["id"] for row in everything]


def test_answers_are_validated_scoped_and_replaced(
    app: FastAPI, engine: Engine, world: dict[str, int], people: dict[str, int]
) -> None:
    with session_scope(engine) as session:
        q = create_questionnaire(
            session, actor(session, people["lead"]), QuestionnaireIn.model_validate(SURVEY)
        )
        qid = q.id
        q1, q2, q3 = (x.id for x in questions_of(session, qid))
    agent = login(app, "agent")

    def post(contact: int, answers: list[dict[str, Any]]) -> Any:
        return agent.post(
            f"/api/v1/contacts/{contact}/answers",
            json={"questionnaire_id": qid, "answers": answers},
        )

    missing = post(world["c1"], [{"question_id": q2, "value": ["price"]}])
    assert missing.status_code == 422
    assert missing.json()["field"] == f"answers.{q1}"
    assert "您对网络满意吗" in missing.json()["detail"] and "required" in missing.json()["detail"]
    for bad, culprit in (
        ([{"question_id": q1, "value": "great"}], q1),  # no such option
        ([{"question_id": q1, "value": ["very"]}], q1),  # single takes one
        ([{"question_id": q1, "value": "ok"}, {"question_id": q2, "value": ["price", "x"]}], q2),
        (
            [{"question_id": q1, "value": "ok"}, {"question_id": q2, "value": ["price", "price"]}],
            q2,
        ),
        ([{"question_id": q1, "value": "ok"}, {"question_id": q3, "value": ["a"]}], q3),
        ([{"question_id": q1, "value": "ok"}, {"question_id": 999999, "value": "ok"}], 999999),
    ):
        answer = post(world["c1"], bad)
        assert answer.status_code == 422, bad
        assert answer.json()["field"] == f"answers.{culprit}"

    assert post(world["c4"], [{"question_id": q1, "value": "ok"}]).status_code == 404  # agent2's
    assert (
        post(world["c10"], [{"question_id": q1, "value": "ok"}]).status_code == 404
    )  # other branch
    assert post(999999, [{"question_id": q1, "value": "ok"}]).status_code == 404
    assert post(world["blocked"], [{"question_id": q1, "value": "ok"}]).status_code == 409
    assert login(app, "outsider").get(f"/api/v1/contacts/{world['c1']}/answers").status_code == 404

    first = post(
        world["c1"],
        [{"question_id": q1, "value": "bad"}, {"question_id": q2, "value": ["price", "signal"]}],
    )
    assert first.status_code == 201 and first.json()["complete"] is False
    second = post(
        world["c1"], [{"question_id": q1, "value": "very"}, {"question_id": q3, "value": " 很好 "}]
    )
    assert second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    (stored,) = agent.get(f"/api/v1/contacts/{world['c1']}/answers").json()
    assert stored["answers"] == {str(q1): "very", str(q3): "很好"}  # replaced, not added
    # the clerk of the branch sees the customer and may answer too
    clerk = login(app, "clerk").get(f"/api/v1/contacts/{world['c1']}/answers")
    assert clerk.status_code == 200 and len(clerk.json()) == 1


def test_results_are_counted_within_the_viewers_scope(
    app: FastAPI, engine: Engine, world: dict[str, int], people: dict[str, int]
) -> None:
    plan = [  # contact, who, (satisfaction, improvements, comment), minutes after T0
        ("c1", "agent", ("very", ["price", "signal"], "信号差"), 1),
        ("c2", "agent", ("ok", ["price"], None), 2),
        ("c3", "agent", ("bad", None, "太贵"), 3),
        ("c4", "agent2", ("very", ["signal", "service"], "还行"), 4),
        ("c10", "outsider", ("bad", ["price"], "x"), 5),
    ]
    with session_scope(engine) as session:
        qid = create_questionnaire(
            session, actor(session, people["head"]), QuestionnaireIn.model_validate(SURVEY)
        ).id
        q1, q2, q3 = (x.id for x in questions_of(session, qid))
        for contact, who, (sat, improve, comment), minutes in plan:
            record_answers(
                session,
                actor(session, people[who]),
                world[contact],
                qid,
                [
                    AnswerIn(question_id=q1, value=sat),
                    AnswerIn(question_id=q2, value=improve),
                    AnswerIn(question_id=q3, value=comment),
                ],
                now=T0 + timedelta(minutes=minutes),
            )

    head = login(app, "head").get(f"/api/v1/questionnaires/{qid}/results", params={"open_limit": 2})
    assert head.status_code == 200
    r = head.json()  # the city branch's users: c1–c4
    assert (r["respondents"], r["complete"], r["completion_rate"]) == (4, 2, 0.5)
    sat, improve, comments = r["questions"]
    assert sat["answered"] == 4
    assert [(o["value"], o["count"], o["share"]) for o in sat["options"]] == [
        ("very", 2, 0.5),
        ("ok", 1, 0.25),
        ("bad", 1, 0.25),
    ]
    assert improve["answered"] == 3  # shares of those answering: they add up to more than 1
    assert [(o["value"], o["count"], o["share"]) for o in improve["options"]] == [
        ("price", 2, 0.6667),
        ("signal", 2, 0.6667),
        ("service", 1, 0.3333),
    ]
    assert comments["answered"] == 3
    assert [a["text"] for a in comments["open_answers"]] == ["还行", "太贵"]  # latest first

    director = login(app, "director").get(f"/api/v1/questionnaires/{qid}/results").json()
    assert director["respondents"] == 5
    assert [o["count"] for o in director["questions"][0]["options"]] == [2, 1, 2]
    lead = login(app, "lead").get(f"/api/v1/questionnaires/{qid}/results").json()
    assert lead["respondents"] == 4  # the team: agent and agent2
    assert login(app, "agent").get(f"/api/v1/questionnaires/{qid}/results").status_code == 403

    with session_scope(engine) as session:  # c2 answers everything now: 3 of 4 complete
        record_answers(
            session,
            actor(session, people["agent"]),
            world["c2"],
            qid,
            [
                AnswerIn(question_id=q1, value="ok"),
                AnswerIn(question_id=q2, value=["service"]),
                AnswerIn(question_id=q3, value="好"),
            ],
        )
        summary = results(session, actor(session, people["head"]), qid)
        assert (summary.respondents, summary.complete) == (4, 3)
        assert [o.count for o in summary.questions[1].options] == [1, 2, 2]
        with pytest.raises(PermissionDeniedError):
            results(session, actor(session, people["agent"]), qid)
        with pytest.raises(NotFoundError):
            record_answers(session, actor(session, people["agent"]), world["c4"], qid, [])
        with pytest.raises(InvalidRequestError, match="question 1"):
            record_answers(session, actor(session, people["agent"]), world["c3"], qid, [])


def test_only_builders_whose_scope_holds_the_creator_change_a_questionnaire(
    app: FastAPI, engine: Engine, world: dict[str, int], branches: dict[str, int]
) -> None:
    with session_scope(engine) as session:
        create_user(
            session,
            UserCreate(
                username="nb_lead",
                display_name="Nb Lead",
                password=PASSWORD,
                role=Role.SHIFT_LEAD,
                branch_id=branches["other"],
            ),
        )
    head, lead, nb_lead = login(app, "head"), login(app, "lead"), login(app, "nb_lead")
    by_head = head.post("/api/v1/questionnaires", json=SURVEY).json()
    by_lead = lead.post("/api/v1/questionnaires", json=SURVEY).json()
    for client, q in ((nb_lead, by_head), (nb_lead, by_lead), (lead, by_head)):
        url = f"/api/v1/questionnaires/{q['id']}"
        assert client.patch(url, json={"title_zh": "改掉"}).status_code == 403
        assert client.post(f"{url}/archive").status_code == 403
        after = head.get(url).json()
        assert (after["title_zh"], after["status"]) == (SURVEY["title_zh"], "active")
    # a copy is the cloner's own, and may be changed
    copy = nb_lead.post(f"/api/v1/questionnaires/{by_head['id']}/clone").json()
    copy_url = f"/api/v1/questionnaires/{copy['id']}"
    assert nb_lead.patch(copy_url, json={"title_zh": "宁波版"}).status_code == 200
    # own work, and the work of the users of one's branch for the centre head
    lead_url = f"/api/v1/questionnaires/{by_lead['id']}"
    assert lead.patch(lead_url, json={"title_en": "Mine"}).status_code == 200
    assert head.post(f"{lead_url}/archive").json()["status"] == "archived"
    assert login(app, "director").patch(copy_url, json={"title_en": "Any"}).status_code == 200
