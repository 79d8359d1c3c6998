"""Malformed documents through the pages: a short, translated message, never a 500."""

from __future__ import annotations

import json
import time
from html import escape

import pytest
from fastapi import FastAPI

from input_fixtures import LAUGHS, nested_not
from web.page_helpers import page_login
from weiwan.core.errors import MORE_PROBLEMS
from weiwan.core.filters import DEPTH_MESSAGE
from weiwan.core.yaml_safe import ANCHOR_MESSAGE, ANCHOR_PROBLEM
from weiwan.ops.org.config import RULE_DOCUMENT_KINDS
from weiwan.web.errors import CORE_MESSAGES

ANCHOR_ZH = escape("不允许使用 YAML 锚点（&）和别名（*）")  # as the page writes it


def test_the_translated_core_messages_are_the_core_texts() -> None:
    """web/errors.py spells the core messages out for the catalogue: they must not drift."""
    assert [str(m._args[0]) for m in CORE_MESSAGES] == [
        ANCHOR_MESSAGE,
        ANCHOR_PROBLEM,
        DEPTH_MESSAGE,
        MORE_PROBLEMS,
    ]


@pytest.mark.parametrize("kind", RULE_DOCUMENT_KINDS)
def test_billion_laughs_on_the_settings_pages(
    app: FastAPI, people: dict[str, int], kind: str
) -> None:
    admin = page_login(app, "admin")  # zh-CN, the default language
    started = time.perf_counter()
    answer = admin.post(f"/settings/{kind}/pending", data={"text": LAUGHS})
    assert time.perf_counter() - started < 10.0  # not expanded (that takes minutes)
    assert answer.status_code == 422
    assert f"第 1 行第 4 列：{ANCHOR_ZH}" in answer.text
    assert len(answer.content) < 200_000  # the page with its editors, not an expansion


def test_billion_laughs_on_the_targets_page(app: FastAPI, people: dict[str, int]) -> None:
    head = page_login(app, "head")
    answer = head.post("/appraisal/targets", data={"text": LAUGHS})
    assert answer.status_code == 422
    assert 'data-entry="line 1, column 4"' in answer.text
    assert ANCHOR_ZH in answer.text
    english = page_login(app, "head", language="en").post(
        "/appraisal/targets", data={"text": "weights:\n  contacts: &w 1\n"}
    )
    assert english.status_code == 422
    assert "line 2, column 13" in english.text and escape(ANCHOR_PROBLEM) in english.text


def test_many_target_problems_are_counted_on_the_page(app: FastAPI, people: dict[str, int]) -> None:
    head = page_login(app, "head")
    text = "targets:\n" + "".join(f"  - {{agent: nobody{i}, saves: 2}}\n" for i in range(500))
    answer = head.post("/appraisal/targets", data={"text": text})
    assert answer.status_code == 422
    assert 'id="targets-more-problems"' in answer.text
    assert "个问题" in answer.text
    assert answer.text.count("<li data-entry=") < 100


def test_deep_filter_in_the_plan_form(
    app: FastAPI, people: dict[str, int], branches: dict[str, int]
) -> None:
    """The advanced filter JSON of the plan form: nested too deeply, or past what the JSON
    parser takes, or with NaN: a message in the count fragment, not a 500."""
    head = page_login(app, "head")
    form = {"combine": "all", "branch_id": str(branches["city"])}
    deep = head.post(
        "/campaigns/preview-count", data={**form, "filter_json": json.dumps(nested_not(300))}
    )
    assert deep.status_code == 200 and 'id="live-count-problem"' in deep.text
    assert "嵌套超过 32 层" in deep.text
    for text in (
        '{"not": ' * 5000 + "{}" + "}" * 5000,
        '{"field": "age", "op": ">", "value": NaN}',
    ):
        refused = head.post("/campaigns/preview-count", data={**form, "filter_json": text})
        assert refused.status_code == 200 and 'id="live-count-problem"' in refused.text
