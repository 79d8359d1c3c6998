"""Settings pages: the policy library, alert and care rules and the contact policy, each with
the validation messages of the daily run and the administrator's pending edit."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
import yaml
from fastapi import FastAPI
from markupsafe import escape
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from sms_fixtures import actor, add_contact, add_customers, assign
from web.page_helpers import page_login
from weiwan.analytics.alerts import load_rules
from weiwan.analytics.contact_policy import load_contact_policy
from weiwan.analytics.decide.allocation import LIMIT_PRICES
from weiwan.analytics.policies import load_policies
from weiwan.analytics.tags import load_tag_library
from weiwan.analytics.targets import load_target_groups
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.db import session_scope
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.org.config import text_digest
from weiwan.ops.org.models import AuditEvent, ConfigDocument
from weiwan.ops.surveys.answers import record_answers
from weiwan.ops.surveys.library import questions_of
from weiwan.ops.surveys.models import Question, Questionnaire
from weiwan.ops.surveys.results import results
from weiwan.ops.surveys.schemas import AnswerIn
from weiwan.pipeline.publish.contact_rules import publish_contact_rules
from weiwan.pipeline.publish.decisions import publish_decisions
from weiwan.pipeline.publish.policies import publish_policies
from weiwan.pipeline.publish.rule_documents import publish_rule_documents

pytestmark = pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)

DAY = date(2026, 10, 31)
NEXT = date(2026, 11, 1)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def published(engine: Engine, people: dict[str, int], home: Path) -> Engine:
    """The shipped settings published as a daily run would."""
    publish_policies(engine, DAY, load_policies())
    publish_contact_rules(engine, DAY)
    publish_rule_documents(engine, DAY, home=home)
    return engine


def _shipped_policies() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(
        (Path(load_policies.__code__.co_filename).parent / "policies.yaml").read_text("utf-8")
    )
    return raw


def _config_changes(engine: Engine, target: str) -> int:
    with session_scope(engine) as session:
        return len(
            session.scalars(
                select(AuditEvent.id).where(
                    AuditEvent.action == "config_change", AuditEvent.target_id == target
                )
            ).all()
        )


def test_policy_library_in_both_languages(app: FastAPI, published: Engine) -> None:
    library = load_policies()
    zh = page_login(app, "head").get("/settings/policies")
    assert zh.status_code == 200
    assert "政策库" in zh.text
    for policy in library.policies:
        assert policy.id in zh.text
        assert policy.name_zh in zh.text
    assert 'id="save-policies"' not in zh.text  # a centre head reads, does not edit
    en = page_login(app, "analyst", language="en").get("/settings/policies")
    assert en.status_code == 200
    assert "Policy library" in en.text and library.policies[0].name_en in en.text
    admin = page_login(app, "admin").get("/settings/policies")
    assert 'id="save-policies"' in admin.text


def test_roles_outside_the_settings_are_refused(app: FastAPI, published: Engine) -> None:
    for username in ("agent", "lead", "clerk"):
        client = page_login(app, username)
        assert client.get("/settings/policies").status_code == 403
        assert client.get("/settings/contact-policy").status_code == 403
    director = page_login(app, "director")
    refused = director.post("/settings/policies/pending", data={"text": "policies: []\n"})
    assert refused.status_code == 403
    with session_scope(published) as session:
        assert session.get(ConfigDocument, "pending:policies") is None


def test_a_policy_edit_the_rules_refuse_is_refused_at_once_naming_policy_and_field(
    app: FastAPI, published: Engine
) -> None:
    raw = _shipped_policies()
    first, second = raw["policies"][0], raw["policies"][1]
    first.pop("min_spend")
    second["cost"]["amount"] = -5
    second["channels"] = ["carrier_pigeon"]
    text = yaml.safe_dump(raw, allow_unicode=True)
    for language, words in (
        ("en", ("Minimum spend (yuan/month)", "Required.", "Must be 0 or more.", "carrier_pigeon")),
        ("zh-CN", ("最低消费", "必填。", "不能小于 0。", "不认识的渠道：carrier_pigeon")),
    ):
        answer = page_login(app, "admin", language=language).post(
            "/settings/policies/pending", data={"text": text}
        )
        assert answer.status_code == 422
        problems = answer.text.split('id="problems-policies"', 1)[1].split("</ul>", 1)[0]
        assert first["id"] in problems and second["id"] in problems
        for word in words:
            assert word in problems, (language, word)
        assert "carrier_pigeon" in answer.text.split("<textarea", 1)[1]  # the text is kept
    with session_scope(published) as session:  # nothing stored, nothing audited
        assert session.get(ConfigDocument, "pending:policies") is None
    assert _config_changes(published, "pending:policies") == 0


def test_a_pending_edit_the_run_refuses_is_shown_with_policy_and_field(
    app: FastAPI, published: Engine, home: Path
) -> None:
    """The nightly run stays the last guard: an edit stored pending (here written past the
    editor, as an older version could have) that its rules refuse is refused there."""
    raw = _shipped_policies()
    victim = raw["policies"][0]
    victim.pop("min_spend")
    text = yaml.safe_dump(raw, allow_unicode=True)
    with session_scope(published) as session:
        content = {"text": text, "by": None, "username": "admin", "at": "2026-11-01T00:00:00",
                   "sha256": text_digest(text)}  # fmt: skip
        session.add(ConfigDocument(name="pending:policies", content=json.dumps(content)))
    admin = page_login(app, "admin", language="en")
    publish_rule_documents(published, NEXT, home=home)  # the next run refuses it
    page = admin.get("/settings/policies")
    assert "refused by the last run" in page.text
    refusal = page.text.split('id="pending-policies"', 1)[1].split("</div>", 1)[0]
    assert victim["id"] in refusal and "min_spend" in refusal
    with session_scope(published) as session:  # the library in effect stays
        ids = session.scalars(select(PublishedPolicy.policy_id)).all()
    assert victim["id"] in ids


def test_contact_policy_edit_with_a_bad_value_is_refused_at_once(
    app: FastAPI, published: Engine
) -> None:
    raw = load_contact_policy().model_dump(mode="json", exclude_none=True)
    raw["channels"]["sms"]["caps"]["day"] = -1
    admin = page_login(app, "admin", language="en")
    answer = admin.post("/settings/contact_policy/pending", data={"text": yaml.safe_dump(raw)})
    assert answer.status_code == 422
    assert "channels.sms.caps.day" in answer.text
    assert "day: -1" in answer.text  # the form keeps the text
    with session_scope(published) as session:
        assert session.get(ConfigDocument, "pending:contact_policy") is None


def test_contact_policy_shows_caps_per_channel(app: FastAPI, published: Engine) -> None:
    policy = load_contact_policy()
    page = page_login(app, "director", language="en").get("/settings/contact-policy")
    assert page.status_code == 200
    row = page.text.split("Outbound call", 1)[1].split("</tr>", 1)[0]
    caps = policy.rule("outbound_call").caps
    for key, value in (("cap_day", caps.day), ("cap_week", caps.week), ("cap_month", caps.month)):
        assert f'data-key="{key}">{value}<' in row
    quiet = policy.rule("outbound_call").quiet_hours
    assert quiet is not None and f"{quiet.start:%H:%M}–{quiet.end:%H:%M}" in row


def test_rules_page_lists_alert_and_care_rules(app: FastAPI, published: Engine) -> None:
    rules = load_rules().rules
    page = page_login(app, "analyst").get("/settings/rules")
    assert page.status_code == 200
    for rule in rules:
        assert (
            rule.id in page.text
            and rule.name_zh in page.text
            and str(escape(rule.name_en)) in page.text
        )


def test_policy_export_equals_the_page(app: FastAPI, published: Engine) -> None:
    client = page_login(app, "director")
    answer = client.get("/settings/policies?export=xlsx&table=policies")
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    with session_scope(published) as session:
        stored = session.scalars(select(PublishedPolicy).order_by(PublishedPolicy.policy_id)).all()
    assert [r[0] for r in rows] == [p.policy_id for p in stored]
    assert [r[5] for r in rows] == [p.min_spend for p in stored]
    analyst_export = page_login(app, "admin").get("/settings/policies?export=xlsx")
    assert analyst_export.status_code == 403  # the administrator may not export


def test_valid_edit_is_in_effect_after_the_run(app: FastAPI, published: Engine, home: Path) -> None:
    raw = _shipped_policies()
    raw["policies"][0]["name_zh"] = "网页修改后的政策名"
    admin = page_login(app, "admin")
    admin.post("/settings/policies/pending", data={"text": yaml.safe_dump(raw, allow_unicode=True)})
    publish_rule_documents(published, NEXT, home=home)
    page = admin.get("/settings/policies")
    assert 'id="applied-policies"' in page.text and 'id="pending-policies"' not in page.text
    assert "网页修改后的政策名" in page.text  # the editor shows the text in effect
    with session_scope(published) as session:
        document = session.get(ConfigDocument, "yaml:policies")
        assert document is not None and "网页修改后的政策名" in json.loads(document.content)["text"]


# ----------------------------------------------------------------------------- questionnaires


def _builder_form() -> dict[str, str]:
    return {
        "title_zh": "回访满意度调查",
        "title_en": "Follow-up satisfaction survey",
        "q1_kind": "single",
        "q1_text_zh": "您对本次服务满意吗？",
        "q1_text_en": "Are you satisfied with the service?",
        "q1_required": "1",
        "q1_options": "满意 / Satisfied\n一般 / Neutral\n不满意 / Dissatisfied",
        "q2_kind": "multiple",
        "q2_text_zh": "您关注哪些方面？",
        "q2_options": "资费 / Price\n网络 / Network",
        "q3_kind": "open",
        "q3_text_zh": "其他建议",
        "q4_kind": "single",
        "q4_text_zh": "",
    }


def test_questionnaire_create_clone_archive(
    app: FastAPI, engine: Engine, people: dict[str, int]
) -> None:
    head = page_login(app, "head")
    created = head.post("/surveys", data=_builder_form())
    assert created.status_code == 303
    page = head.get(created.headers["location"])
    assert page.status_code == 200
    assert "回访满意度调查" in page.text and "不满意" in page.text and "其他建议" in page.text
    with session_scope(engine) as session:
        original = session.scalar(
            select(Questionnaire).where(Questionnaire.title_zh == "回访满意度调查")
        )
        assert original is not None
        kinds = session.scalars(
            select(Question.kind)
            .where(Question.questionnaire_id == original.id)
            .order_by(Question.position)
        ).all()
        original_id = original.id
    assert kinds == ["single", "multiple", "open"]  # the blank fourth block is left out

    cloned = head.post(f"/surveys/{original_id}/clone")
    assert cloned.status_code == 303
    clone_page = head.get(cloned.headers["location"])
    assert (
        "回访满意度调查（副本）" in clone_page.text
        and 'id="clone-questionnaire"' in clone_page.text
    )

    archived = head.post(f"/surveys/{original_id}/archive")
    assert archived.status_code == 303
    en = page_login(app, "director", language="en")
    active = en.get("/surveys").text
    assert "Follow-up satisfaction survey (copy)" in active
    assert f'href="/surveys/{original_id}"' not in active
    assert f'href="/surveys/{original_id}"' in en.get("/surveys?status=archived").text
    assert _config_changes(engine, str(original_id)) >= 2  # created, archived

    refused = head.post("/surveys", data={**_builder_form(), "q1_options": "只有一个"})
    assert refused.status_code == 422 and 'id="builder-error"' in refused.text
    assert "只有一个" in refused.text  # the entries are kept


def test_questionnaire_roles(app: FastAPI, engine: Engine, people: dict[str, int]) -> None:
    analyst = page_login(app, "analyst", language="en")
    page = analyst.get("/surveys")
    assert page.status_code == 200 and 'id="builder"' not in page.text
    assert analyst.post("/surveys", data=_builder_form()).status_code == 403
    assert page_login(app, "agent").get("/surveys").status_code == 403
    zh = page_login(app, "head").get("/surveys")
    assert "问卷" in zh.text and 'id="builder"' in zh.text


def test_questionnaire_results_summary_and_export(
    app: FastAPI, engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> None:
    head = page_login(app, "head", language="en")
    created = head.post("/surveys", data=_builder_form())
    qid = int(created.headers["location"].split("/")[2].split("?")[0])
    add_customers(engine, branches["city"], ["S00001", "S00002"])
    add_customers(engine, branches["other"], ["S00010"])
    assign(engine, ["S00001", "S00002"], people["agent"])
    assign(engine, ["S00010"], people["outsider"])
    when = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    answers = [("S00001", "agent", "o1"), ("S00002", "agent", "o3"), ("S00010", "outsider", "o1")]
    contacts = [add_contact(engine, s, when, user_id=people[who]) for s, who, _ in answers]
    with session_scope(engine) as session:
        q1, q2, _q3 = questions_of(session, qid)
        for contact, (_subscriber, who, choice) in zip(contacts, answers, strict=True):
            record_answers(
                session,
                actor(session, people[who]),
                contact,
                qid,
                [
                    AnswerIn(question_id=q1.id, value=choice),
                    AnswerIn(question_id=q2.id, value=["o2"]),
                ],
                now=when,
            )
        expected = results(session, actor(session, people["head"]), qid)
    assert expected.respondents == 2  # the outsider's answer is outside the head's branch
    page = head.get(f"/surveys/{qid}")
    table = page.text.split('id="q1"', 1)[1].split("</table>", 1)[0]
    for option in expected.questions[0].options:
        row = table.split(f">{option.label_en}<", 1)[1].split("</tr>", 1)[0]
        assert f'data-key="count">{option.count}<' in row
    export = head.get(f"/surveys/{qid}?export=xlsx&table=q1")
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[2]) for r in rows] == [
        (o.count, o.share) for o in expected.questions[0].options
    ]
    director = page_login(app, "director").get(f"/surveys/{qid}")  # every branch: 3
    assert re.search(r"答卷数</div>\s*<div[^>]*>3\s", director.text)
    assert re.search(r"Respondents</div>\s*<div[^>]*>2\s", page.text)


def test_pending_edit_can_be_withdrawn_and_needs_the_csrf_token(
    app: FastAPI, published: Engine
) -> None:
    admin = page_login(app, "admin", language="en")
    text = "rules:\n  - id: x\n"
    token = admin.headers.pop("X-CSRF-Token")
    assert admin.post("/settings/care/pending", data={"text": text}).status_code == 403
    saved = admin.post("/settings/care/pending", data={"text": text, "csrf_token": token})
    assert saved.status_code == 303 and saved.headers["location"].startswith("/settings/rules")
    page = admin.get("/settings/rules")
    assert 'id="pending-care"' in page.text and 'id="pending-alerts"' not in page.text
    withdrawn = admin.post("/settings/care/discard", data={"csrf_token": token})
    assert withdrawn.status_code == 303
    assert 'id="pending-care"' not in admin.get("/settings/rules").text
    assert _config_changes(published, "pending:care") == 2  # saved, withdrawn
    bad = admin.post("/settings/care/pending", data={"text": "rules: [", "csrf_token": token})
    assert bad.status_code == 422 and "YAML syntax" in bad.text


def test_questionnaire_export_with_sheet_title_characters_in_the_questions(
    app: FastAPI, engine: Engine, people: dict[str, int]
) -> None:
    head = page_login(app, "head")
    text = "满意吗/为什么? *[必答]: 请说明 \\ 这是一个很长很长很长很长的问题"
    form = {**_builder_form(), "q1_text_zh": text, "q2_text_zh": text, "q3_text_zh": "'=1+1'"}
    created = head.post("/surveys", data=form)
    qid = int(created.headers["location"].split("/")[2].split("?")[0])
    export = head.get(f"/surveys/{qid}?export=xlsx")
    assert export.status_code == 200
    names = load_workbook(io.BytesIO(export.content)).sheetnames
    assert len(names) == 3 and len({n.lower() for n in names}) == 3
    for name in names:
        assert 0 < len(name) <= 31 and not set(name) & set("\\/?*[]:")
    assert names[0].startswith("1. 满意吗_为什么_ _")


def _with_target_groups(engine: Engine) -> None:
    """The target groups' names as the run publishes them beside the customer view."""
    groups = [
        {"id": g.id, "name_zh": g.name_zh, "name_en": g.name_en} for g in load_target_groups()
    ]
    with session_scope(engine) as session:
        session.add(ConfigDocument(name="labels:target_groups", content=json.dumps(groups)))


def _pending_library(engine: Engine, tmp_path: Path) -> Any:
    """The pending edit, loaded by the run's own loader."""
    with session_scope(engine) as session:
        document = session.get(ConfigDocument, "pending:policies")
        assert document is not None
        text = json.loads(document.content)["text"]
    path = tmp_path / "pending.yaml"
    path.write_text(text, "utf-8")
    return load_policies(path)


NEW_POLICY = {
    "id": "winback_sms_30", "name_zh": "回馈短信30元", "name_en": "Win-back SMS 30",
    "offer_type": "discount", "target_group": "contract_expiring", "approval": "draft",
    "valid_from": "2026-11-01", "valid_to": "2027-03-31", "min_spend": "58",
    "limit_times": "1", "limit_per_months": "12", "cost_kind": "one_off", "cost_amount": "30",
    "channels": ["sms", "outbound_call"], "script_zh": "感谢您一直以来的支持。",
}  # fmt: skip


def test_an_administrator_adds_a_policy_through_the_form_checked_by_the_runs_rules(
    app: FastAPI, published: Engine, tmp_path: Path
) -> None:
    _with_target_groups(published)
    admin = page_login(app, "admin")
    form = admin.get("/settings/policies/new")
    assert form.status_code == 200 and "最低消费" in form.text and "高价值异网倾向客户" in form.text
    assert page_login(app, "analyst").get("/settings/policies/new").status_code == 403
    bad = {**NEW_POLICY, "cost_amount": "-30", "valid_to": "2026-10-01"}
    refused = admin.post("/settings/policies/form", data=bad)
    assert refused.status_code == 422
    amount = refused.text.split('id="p-cost_amount"', 1)[1].split("</div>", 1)[0]
    assert "不能小于 0。" in amount and 'value="-30"' in refused.text  # under its field, kept
    assert "早于开始日期" in refused.text.split('id="p-valid_to"', 1)[1].split("</div>", 2)[1]
    assert "回馈短信30元" in refused.text
    with session_scope(published) as session:
        assert session.get(ConfigDocument, "pending:policies") is None
    saved = admin.post("/settings/policies/form", data=NEW_POLICY)
    assert saved.status_code == 303, saved.text[:2000]
    library = _pending_library(published, tmp_path)
    added = library.get("winback_sms_30")
    assert (added.cost.amount, added.channels, added.target_group) == (
        30.0, ("sms", "outbound_call"), "contract_expiring",
    )  # fmt: skip
    assert not [e for e in library.errors if e.policy_id == "winback_sms_30"]
    assert len(library.policies) == len(load_policies().policies) + 1  # the others untouched
    assert _config_changes(published, "pending:policies") == 1


def test_a_policy_is_edited_and_retired_through_the_form(
    app: FastAPI, published: Engine, tmp_path: Path
) -> None:
    _with_target_groups(published)
    first = load_policies().policies[0]
    admin = page_login(app, "admin", language="en")
    form = admin.get(f"/settings/policies/{first.id}/edit")
    assert form.status_code == 200 and f'value="{first.name_zh}"' in form.text
    assert admin.get("/settings/policies/no_such_policy/edit").status_code == 404
    values = dict(
        re.findall(
            r'<input class="form-control[^"]*"[^>]*name="(\w+)"[^>]*value="([^"]*)"', form.text
        )
    )
    values |= {"editing": first.id, "name_en": "Renamed in the form", "cost_kind": first.cost.kind}
    values |= {"offer_type": first.offer_type, "approval": first.approval}
    values |= {"target_group": first.target_group or ""}
    data: dict[str, Any] = {**values, "channels": list(first.channels)}
    if first.valid_to is None:
        data["open_ended"] = "1"
    saved = admin.post("/settings/policies/form", data=data)
    assert saved.status_code == 303, saved.text[:3000]
    library = _pending_library(published, tmp_path)
    edited = library.get(first.id)
    assert edited.name_en == "Renamed in the form" and edited.cost == first.cost
    assert edited.valid_from == first.valid_from and edited.min_spend == first.min_spend
    retired = admin.post(f"/settings/policies/{first.id}/retire")
    assert retired.status_code == 303
    assert _pending_library(published, tmp_path).get(first.id).approval == "retired"


def test_an_analyst_defines_a_target_group_with_the_builder(
    app: FastAPI, published: Engine, tmp_path: Path
) -> None:
    analyst = page_login(app, "analyst")
    page = analyst.get("/settings/target-groups")
    assert (
        page.status_code == 200
        and "高价值异网倾向客户" in page.text
        and 'id="new-group"' in page.text
    )
    form = analyst.get("/settings/target-groups/new")
    assert form.status_code == 200 and '<datalist id="choices-risk_band">' in form.text
    bad = {"id": "Bad Id", "name_zh": "", "name_en": "x", "filter_field": "risk_band",
           "filter_op": "=", "filter_value": "高"}  # fmt: skip
    refused = analyst.post("/settings/target-groups/form", data=bad)
    assert refused.status_code == 422
    problems = refused.text.split('id="group-problems"', 1)[1].split("</ul>", 1)[0]
    assert "客户群编号" in problems or "编号" in problems
    assert "不能为空" in problems
    with session_scope(published) as session:
        assert session.get(ConfigDocument, "pending:target_groups") is None
    good = {**bad, "id": "high_risk_now", "name_zh": "当前高风险", "name_en": "High risk now",
            "description_zh": "今天的高风险客户"}  # fmt: skip
    saved = analyst.post("/settings/target-groups/form", data=good)
    assert saved.status_code == 303, saved.text[:2000]
    with session_scope(published) as session:
        document = session.get(ConfigDocument, "pending:target_groups")
        assert document is not None
        text = json.loads(document.content)["text"]
    path = tmp_path / "groups.yaml"
    path.write_text(text, "utf-8")
    groups = {g.id: g for g in load_target_groups(path)}
    added = groups["high_risk_now"].filter.model_dump(mode="json", exclude_none=True)
    assert "high" in json.dumps(added) and len(groups) == len(load_target_groups()) + 1
    assert groups["high_risk_now"].description_zh == "今天的高风险客户"  # the form's field kept
    director = page_login(app, "director")
    assert director.get("/settings/target-groups").status_code == 200
    assert director.post("/settings/target-groups/form", data=good).status_code == 403
    assert page_login(app, "agent").get("/settings/target-groups").status_code == 403


def _publish_tag_library(engine: Engine) -> None:
    library = load_tag_library()
    tags = [
        {"id": t.id, "name_zh": t.name_zh, "name_en": t.name_en, "category": t.category,
         "expression": t.expression, "band": t.band is not None, "edited": False}
        for t in library.tags
    ]  # fmt: skip
    with session_scope(engine) as session:
        session.add(ConfigDocument(name="library:tags", content=json.dumps(tags)))


def test_an_analyst_adds_and_changes_tags_checked_by_the_runs_rules(
    app: FastAPI, published: Engine, tmp_path: Path
) -> None:
    _publish_tag_library(published)
    analyst = page_login(app, "analyst")
    page = analyst.get("/settings/tags")
    assert page.status_code == 200 and "呼叫异网客服" in page.text and "系统自带" in page.text
    bad = {"id": "big_spender", "name_zh": "高消费", "name_en": "Big spender",
           "category": "value", "expression": "arpu_1m >>= 200"}  # fmt: skip
    refused = analyst.post("/settings/tags/form", data=bad)
    assert refused.status_code == 422
    problems = refused.text.split('id="tag-problems"', 1)[1].split("</ul>", 1)[0]
    assert "条件：条件表达式无法识别。" in problems
    assert 'value="big_spender"' in refused.text  # the input is kept
    with session_scope(published) as session:
        assert session.get(ConfigDocument, "pending:tags") is None
    assert (
        analyst.post(
            "/settings/tags/form", data={**bad, "expression": "arpu_1m >= 200"}
        ).status_code
        == 303
    )
    shipped = next(t for t in load_tag_library().tags if t.expression)
    changed = analyst.get(f"/settings/tags/new?id={shipped.id}")
    assert changed.status_code == 200 and shipped.name_zh in changed.text
    stricter = {"id": shipped.id, "name_zh": shipped.name_zh, "name_en": shipped.name_en,
                "category": shipped.category, "expression": "competitor_calls_3m >= 2"}  # fmt: skip
    assert analyst.post("/settings/tags/form", data=stricter).status_code == 303
    with session_scope(published) as session:
        document = session.get(ConfigDocument, "pending:tags")
        assert document is not None
        text = json.loads(document.content)["text"]
    path = tmp_path / "tags.yaml"
    path.write_text(text, "utf-8")
    library = load_tag_library(edited=path)
    assert not library.errors
    by_id = {t.id: t for t in library.tags}
    assert by_id["big_spender"].expression == "arpu_1m >= 200"
    assert by_id[shipped.id].expression == "competitor_calls_3m >= 2"  # replaced, not doubled
    assert len(library.tags) == len(load_tag_library().tags) + 1
    assert page_login(app, "director").post("/settings/tags/form", data=bad).status_code == 403


def _cell(page: str, row_text: str, key: str) -> str:
    row = page.split(row_text, 1)[1].split("</tr>", 1)[0]
    return row.split(f'data-key="{key}"', 1)[1].split("</td>", 1)[0]


def test_the_limits_that_bound_the_last_day_show_their_shadow_price(
    app: FastAPI, published: Engine, tmp_path: Path
) -> None:
    first, second = load_policies().policies[:2]
    prices = pa.table(
        {
            "limit_kind": ["policy_money", "channel"],
            "limit_name": [first.id, "outbound_call"],
            "yuan": [0.75, 12.5],
            "snapshot_date": pa.array([DAY, DAY], pa.date32()),
        }
    )
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        wh.replace_snapshot(LIMIT_PRICES, ibis.memtable(prices), DAY)
        publish_decisions(wh, published, DAY)
        director = page_login(app, "director", language="en")
        policies = director.get("/settings/policies").text
        assert "0.75" in _cell(policies, f">{first.id}<", "money_price")
        assert _cell(policies, f">{first.id}<", "count_price").strip(" >") in ("", "—")
        assert _cell(policies, f">{second.id}<", "money_price").strip(" >") in ("", "—")
        assert 'id="limit-prices-note"' in policies
        channels = director.get("/settings/contact-policy").text
        assert "12.50" in _cell(channels, "Outbound call", "capacity_price")
        assert "影子价格" in page_login(app, "head").get("/settings/contact-policy").text
        # the next decided day, on which nothing bound: no price is shown, none stale
        publish_decisions(wh, published, NEXT)
        later = director.get("/settings/policies").text
        assert 'id="limit-prices-note"' not in later
        assert _cell(later, f">{first.id}<", "money_price").strip(" >") in ("", "—")
