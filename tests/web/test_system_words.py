"""What the system records reads in the reader's language: the audit log's kinds, settings
documents and details; a plan's history notes."""

from __future__ import annotations

import json

from weiwan.web.audit_labels import detail_text, target_text
from weiwan.web.i18n import use_locale
from weiwan.web.pages.campaign_views import note_text


def test_a_settings_document_is_named_in_words() -> None:
    with use_locale("zh-CN"):
        assert target_text("config_document", "yaml:policies") == "政策库（现行文本）"
        assert target_text("config_document", "questionnaire:return_visit") == "回访问卷"
        assert target_text("customer", "U0000001") == "客户 U0000001"
    with use_locale("en"):
        assert target_text("config_document", "pending:alerts") == "Alert rules (pending edit)"
        assert target_text(None, None) == "—"


def test_a_detail_reads_as_fields_and_values_with_codes_in_words() -> None:
    detail = {"by": "pipeline publish", "snapshot": "2026-10-31", "channel": "outbound_call"}
    stored = json.dumps({**detail, "full_numbers": False, "rows": 12345, "batch_id": 12345})
    with use_locale("zh-CN"):
        text = detail_text(stored)
    assert text == (
        "操作人: 日批处理（发布）；数据日期: 2026-10-31；渠道: 外呼；显示完整号码: 否；"
        "行数: 12,345；批次: 12345"
    )
    with use_locale("en"):
        assert detail_text(json.dumps({"roles": ["director", "analyst"]})) == (
            "Roles: Director, Analyst"
        )
    with use_locale("zh-CN"):  # a card viewed from the work list
        assert detail_text(json.dumps({"channel": "workbench"})) == "渠道: 工作台"
    assert detail_text("not json") == "not json" and detail_text(None) == ""


def test_the_systems_notes_on_a_plan_read_in_the_readers_words() -> None:
    with use_locale("zh-CN"):
        assert note_text('{"kind": "rehearsed", "targets": 1990}') == "目标客户 1,990 人"
        started = '{"kind": "started", "treated": 90, "holdout": 10, "skipped": 3}'
        assert note_text(started) == "执行 90 人，对照组 10 人，跳过 3 人"
        assert note_text('{"kind": "cloned", "source": 12}') == "复制自方案 12"
    assert note_text(None) == "" and note_text('{"kind": "unknown"}') == ""
