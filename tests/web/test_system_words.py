"""What the system records reads in the reader's language: the audit log's kinds, settings
documents and details; a plan's history notes."""

from __future__ import annotations

import json

from weiwan.web.audit_labels import detail_text, target_text
from weiwan.web.i18n import use_locale
from weiwan.web.pages.campaign_views import note_text, warning_text


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


def test_a_rehearsals_warnings_read_in_the_readers_words_with_the_policies_names() -> None:
    """Stored as codes and details, worded at display: channels and policies by name, dates and
    counts as the locale writes them; a warning stored as text before is shown as it was."""
    names = {"keep168": "月租立减"}
    missing = {"code": "policy_not_on_channel", "policy_id": "keep168", "channels": ["store"]}
    dated = {
        "code": "policy_not_valid_throughout",
        "policy_id": "data10",
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
    }
    with use_locale("zh-CN"):
        assert warning_text(missing, names) == "月租立减 不在营业厅渠道提供"
        assert warning_text({"code": "in_running_campaign", "count": 1234}) == (
            "1,234 位目标客户已在执行中的活动里"
        )
        assert "data10 的有效期为 2026年1月1日 – 2026年12月31日" in warning_text(dated, names)
    with use_locale("en"):
        assert warning_text(missing, names) == "月租立减 is not offered through Store"
    assert warning_text("an old English sentence") == "an old English sentence"
