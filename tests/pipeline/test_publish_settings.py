"""The settings kind of the publication: the YAML in effect, its validation messages and the
pending edits of the web applied (or refused) by the next run."""

# ruff: noqa: F811  (the ops fixtures are imported here, then used as arguments)
from __future__ import annotations

import json
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select

from ops_fixtures import (  # noqa: F401
    _cheap_password_hashing,
    branches,
    empty_engine,
    engine,
    people,
)
from weiwan.analytics.alerts import load_rules
from weiwan.analytics.policies import load_policies
from weiwan.analytics.tags import load_tag_library
from weiwan.analytics.targets import load_target_groups
from weiwan.core.db import session_scope
from weiwan.core.errors import InvalidRequestError
from weiwan.ops.customers.models import Publication
from weiwan.ops.org.access import actor_for
from weiwan.ops.org.config import RULE_DOCUMENT_KINDS, save_pending, text_digest
from weiwan.ops.org.models import AuditEvent, ConfigDocument, User
from weiwan.pipeline.publish.rule_documents import publish_rule_documents, rule_document_paths

SQLITE_ONLY = pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)

DAY = date(2026, 10, 31)
NEXT = date(2026, 11, 1)


def _shipped(name: str) -> str:
    return resources.files("weiwan.analytics").joinpath(name).read_text("utf-8")


def _document(engine: Engine, name: str) -> dict[str, Any] | None:
    with session_scope(engine) as session:
        content = session.scalar(select(ConfigDocument.content).where(ConfigDocument.name == name))
    return None if content is None else json.loads(content)


def _save(engine: Engine, user_id: int, kind: str, text: str) -> None:
    with session_scope(engine) as session:
        user = session.get(User, user_id)
        assert user is not None
        save_pending(session, actor_for(session, user), kind, text)


def _policies_edit(change: Any) -> tuple[str, str]:
    raw = yaml.safe_load(_shipped("policies.yaml"))
    first = raw["policies"][0]
    change(first)
    return first["id"], yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)


@SQLITE_ONLY
def test_publishes_every_document_in_effect(engine: Engine, tmp_path: Path) -> None:
    written = publish_rule_documents(engine, DAY, home=tmp_path)
    assert written == 2 * len(RULE_DOCUMENT_KINDS)
    policies = _document(engine, "yaml:policies")
    assert policies is not None and policies["text"] == _shipped("policies.yaml")
    library = load_policies()
    validation = _document(engine, "validation:policies")
    assert validation is not None
    assert [w["item"] for w in validation["warnings"]] == [w.policy_id for w in library.warnings]
    assert len(validation["errors"]) == len(library.errors)
    for kind in RULE_DOCUMENT_KINDS:
        assert _document(engine, f"yaml:{kind}") is not None
    with session_scope(engine) as session:
        rows = session.scalar(select(Publication.rows).where(Publication.kind == "settings"))
    assert rows == written


@SQLITE_ONLY
def test_refused_policy_edit_is_published_back_and_the_library_stays(
    engine: Engine, people: dict[str, int], tmp_path: Path
) -> None:
    publish_rule_documents(engine, DAY, home=tmp_path)
    policy_id, text = _policies_edit(lambda p: p.pop("min_spend"))
    with pytest.raises(InvalidRequestError):  # the editor refuses it at once …
        _save(engine, people["admin"], "policies", text)
    with session_scope(engine) as session:  # … the run is the last guard for one stored past it
        pending = {"text": text, "by": people["admin"], "sha256": text_digest(text)}
        session.add(ConfigDocument(name="pending:policies", content=json.dumps(pending)))

    publish_rule_documents(engine, NEXT, home=tmp_path)

    validation = _document(engine, "validation:policies")
    assert validation is not None
    verdict = validation["pending"]
    assert verdict["status"] == "refused"
    assert {"item": policy_id, "field": "min_spend"}.items() <= verdict["errors"][0].items()
    assert "min_spend" in verdict["errors"][0]["message"]
    assert verdict["errors"][0]["code"] == "missing"  # the page says it in the reader's words
    in_effect = _document(engine, "yaml:policies")
    assert in_effect is not None and in_effect["text"] == _shipped("policies.yaml")
    assert rule_document_paths(tmp_path).policies is None  # nothing applied
    assert _document(engine, "pending:policies") is not None  # kept for the author to fix


def test_valid_policy_edit_takes_effect_at_the_next_run(
    engine: Engine, people: dict[str, int], tmp_path: Path
) -> None:
    policy_id, text = _policies_edit(lambda p: p.update(name_en="Edited in the web"))
    _save(engine, people["admin"], "policies", text)

    publish_rule_documents(engine, DAY, home=tmp_path)

    assert _document(engine, "pending:policies") is None
    in_effect = _document(engine, "yaml:policies")
    assert in_effect is not None and in_effect["text"] == text
    assert in_effect["source"] == "config/policies.yaml"
    validation = _document(engine, "validation:policies")
    assert validation is not None and validation["pending"]["status"] == "applied"
    path = rule_document_paths(tmp_path).policies
    assert path is not None
    assert load_policies(path).get(policy_id).name_en == "Edited in the web"
    with session_scope(engine) as session:
        targets = session.scalars(
            select(AuditEvent.target_id).where(AuditEvent.action == "config_change")
        ).all()
    assert "pending:policies" in targets and "yaml:policies" in targets


@SQLITE_ONLY
def test_rule_edit_duplicating_a_care_rule_id_is_refused(
    engine: Engine, people: dict[str, int], tmp_path: Path
) -> None:
    alerts_file, care_file = rule_document_paths(tmp_path).rule_files
    care_id = load_rules([care_file]).rules[0].id
    raw = yaml.safe_load(alerts_file.read_text("utf-8"))
    raw["rules"][0]["id"] = care_id
    _save(engine, people["admin"], "alerts", yaml.safe_dump(raw, allow_unicode=True))

    publish_rule_documents(engine, DAY, home=tmp_path)

    validation = _document(engine, "validation:alerts")
    assert validation is not None
    verdict = validation["pending"]
    assert verdict["status"] == "refused"
    assert any(e["item"] == care_id and e["field"] == "id" for e in verdict["errors"])
    assert rule_document_paths(tmp_path).rule_files[0] == alerts_file


@SQLITE_ONLY
def test_contact_policy_edit_applies(
    engine: Engine, people: dict[str, int], tmp_path: Path
) -> None:
    raw = yaml.safe_load(_shipped("contact_policy.yaml"))
    raw["cool_off_days"] = 9
    _save(engine, people["admin"], "contact_policy", yaml.safe_dump(raw, allow_unicode=True))
    publish_rule_documents(engine, DAY, home=tmp_path)
    path = rule_document_paths(tmp_path).contact_policy
    assert path is not None and yaml.safe_load(path.read_text("utf-8"))["cool_off_days"] == 9


def test_an_edited_target_group_is_applied_and_used_by_the_run(
    engine: Engine, people: dict[str, int], tmp_path: Path
) -> None:
    raw = yaml.safe_load(_shipped("target_groups.yaml"))
    raw["groups"].append(
        {"id": "silver_new", "name_zh": "新银卡", "name_en": "New silver",
         "filter": {"all": [{"field": "value_tier", "op": "=", "value": "silver"},
                            {"field": "tenure_months", "op": "<", "value": 6}]}}
    )  # fmt: skip
    _save(engine, people["analyst"], "target_groups", yaml.safe_dump(raw, allow_unicode=True))
    publish_rule_documents(engine, DAY, home=tmp_path)
    path = rule_document_paths(tmp_path).target_groups
    assert path is not None and "silver_new" in {g.id for g in load_target_groups(path)}
    assert _document(engine, "pending:target_groups") is None
    # a policy may now aim at the new group: the run's check knows it
    policy_id, text = _policies_edit(
        lambda p: (p.pop("target", None), p.update(target_group="silver_new"))
    )
    _save(engine, people["admin"], "policies", text)
    publish_rule_documents(engine, NEXT, home=tmp_path)
    library = load_policies(
        rule_document_paths(tmp_path).policies, target_groups=load_target_groups(path)
    )
    assert library.get(policy_id).target_group == "silver_new"


def test_an_edited_tag_is_applied_over_the_shipped_library(
    engine: Engine, people: dict[str, int], tmp_path: Path
) -> None:
    text = yaml.safe_dump(
        {"tags": [{"id": "big_spender", "name_zh": "高消费", "name_en": "Big spender",
                   "category": "value", "version": 1, "expression": "arpu_1m >= 200"}]},
        allow_unicode=True,
    )  # fmt: skip
    _save(engine, people["analyst"], "tags", text)
    publish_rule_documents(engine, DAY, home=tmp_path)
    path = rule_document_paths(tmp_path).tags
    assert path is not None
    library = load_tag_library(edited=path)
    assert "big_spender" in {t.id for t in library.tags} and not library.errors
    assert rule_document_paths(tmp_path / "elsewhere").tags is None  # no edit: shipped only
