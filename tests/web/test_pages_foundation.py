"""The pages' frame: login and logout, redirects, language, errors, assets, Excel tables."""

from __future__ import annotations

import gc
import io
import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api_helpers import login
from feature_names import documented_features
from web.i18n_catalog import conflicting_chinese, missing_chinese
from web.page_helpers import page_login, post_login
from weiwan.core.db import make_engine
from weiwan.core.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from weiwan.core.settings import Settings
from weiwan.ops.org.roles import Role
from weiwan.web import formatting
from weiwan.web.app import serve_app
from weiwan.web.errors import error_text
from weiwan.web.feature_labels import feature_label
from weiwan.web.i18n import use_locale
from weiwan.web.nav import home_for, menu_for
from weiwan.web.pages.auth import safe_next
from weiwan.web.tables import Column, Table, workbook_bytes
from weiwan.web.templating import environment


@pytest.mark.usefixtures("people")
def test_pages_need_a_session(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    assert client.get("/").headers["location"] == "/login"
    response = client.get("/account?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Faccount%3Fx%3D1"
    htmx = client.get("/account", headers={"HX-Request": "true"})
    assert htmx.status_code == 401
    assert htmx.headers["HX-Redirect"].startswith("/login?next=")


@pytest.mark.usefixtures("people")
def test_wrong_password_is_refused_in_chinese_by_default(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    response = post_login(client, "agent", "nope")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert 'lang="zh-CN"' in response.text


@pytest.mark.usefixtures("people")
def test_login_lands_on_the_roles_first_page_or_next(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    response = post_login(client, "agent")
    assert response.headers["location"] == "/workbench"
    client = TestClient(app, follow_redirects=False)
    response = post_login(client, "analyst", next="/account")
    assert response.headers["location"] == "/account"
    response = post_login(TestClient(app, follow_redirects=False), "admin", next="//evil.example")
    assert response.headers["location"] == "/admin/users"


def test_open_redirects_are_refused() -> None:
    assert safe_next("/team?x=1") == "/team?x=1"
    for bad in ("//evil.example", "https://evil.example", "/\\evil", "", None):
        assert safe_next(bad) is None


@pytest.mark.usefixtures("people")
def test_menu_follows_the_role(app: FastAPI) -> None:
    agent = page_login(app, "agent").get("/account").text
    assert "/workbench" in agent and "/dashboards" not in agent and "/admin/users" not in agent
    admin = page_login(app, "admin").get("/account").text
    assert "/admin/users" in admin and "/workbench" not in admin


@pytest.mark.usefixtures("people")
def test_language_switch_changes_words_and_numbers(app: FastAPI) -> None:
    client = page_login(app, "agent")
    assert "坐席 / 客户经理" in client.get("/account").text
    response = client.get("/lang/en?next=/account")
    assert response.status_code == 303 and response.headers["location"] == "/account"
    client.cookies.set("weiwan_lang", response.cookies["weiwan_lang"])
    page = client.get("/account").text
    assert "Agent / account manager" in page and 'lang="en"' in page
    assert "坐席" not in page


@pytest.mark.usefixtures("people")
def test_logout_needs_the_csrf_token(app: FastAPI) -> None:
    client = page_login(app, "agent")
    token = client.headers.pop("X-CSRF-Token")
    assert client.post("/logout").status_code == 403
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/account").status_code == 303


@pytest.mark.usefixtures("people")
def test_errors_are_pages_off_the_api_and_json_on_it(app: FastAPI) -> None:
    client = page_login(app, "agent")
    page = client.get("/no-such-page")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "未找到" in page.text
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found", "message": "未找到"}


@pytest.mark.usefixtures("people")
def test_api_errors_say_it_in_the_callers_language(app: FastAPI) -> None:
    """``detail`` stays the service's English for programs; ``message`` is for people: in the
    ``weiwan_lang`` cookie's language, else ``Accept-Language``'s, else Chinese."""
    client = login(app, "agent")
    missing = "/api/v1/customers/S99999999"
    zh = client.get(missing)
    assert zh.status_code == 404 and zh.json()["message"] == "未找到，或不在你的数据范围内。"
    assert zh.json()["detail"].isascii()  # the service's English, unchanged
    en = client.get(missing, headers={"Accept-Language": "en-US,en;q=0.9,zh;q=0.5"})
    assert en.json()["detail"] == zh.json()["detail"]
    assert en.json()["message"] == en.json()["detail"]  # English: the service's own words
    weighted = client.get(missing, headers={"Accept-Language": "fr;q=1, zh;q=0.4, en;q=0.8"})
    assert weighted.json()["message"] == en.json()["detail"]  # en outweighs zh; no French
    client.cookies.set("weiwan_lang", "zh-CN")
    cookie = client.get(missing, headers={"Accept-Language": "en"})
    assert cookie.json()["message"] == zh.json()["message"]  # the cookie wins
    client.cookies.delete("weiwan_lang")
    invalid = client.post("/api/v1/contacts", json={"subscriber_id": 5})
    assert invalid.status_code == 422 and invalid.json()["message"] == "请检查输入"
    assert isinstance(invalid.json()["detail"], list) and invalid.json()["detail"][0]["loc"]
    english = client.post(
        "/api/v1/contacts", json={"subscriber_id": 5}, headers={"Accept-Language": "en"}
    )
    assert english.json()["message"] == "Please check your input"
    # answered before any route (a bare NaN is not JSON): the same words
    nan = client.post(
        "/api/v1/contacts",
        content=b'{"subscriber_id": NaN}',
        headers={"Content-Type": "application/json"},
    )
    assert nan.status_code == 422 and nan.json()["detail"][0]["type"] == "json_invalid"
    assert nan.json()["message"] == "请检查输入"
    # pages do not follow Accept-Language: the product speaks Chinese unless told otherwise
    page = page_login(app, "agent").get("/no-such-page", headers={"Accept-Language": "en"})
    assert "未找到" in page.text


@pytest.mark.usefixtures("people")
@pytest.mark.parametrize(
    "path",
    [
        "/static/vendor/htmx-2.0.11/htmx.min.js",
        "/static/vendor/echarts-6.1.0/echarts.min.js",
        "/static/vendor/bootstrap-5.3.9/bootstrap.min.css",
        "/static/vendor/bootstrap-5.3.9/LICENSE",
        "/static/app.js",
    ],
)
@pytest.mark.usefixtures("people")
def test_assets_are_served_from_the_package(app: FastAPI, path: str) -> None:
    response = TestClient(app).get(path)
    assert response.status_code == 200 and len(response.content) > 100


def test_numbers_money_and_dates_follow_the_locale() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    moment = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)
    with use_locale("zh-CN"):
        assert formatting.format_number(1234567) == "1,234,567"
        assert formatting.format_money(1234.6) == "¥1,235"
        assert formatting.format_date(date(2026, 11, 24)) == "2026年11月24日"
        assert formatting.format_datetime(moment, shanghai).startswith("2026/11/25")
        assert formatting.format_percent(0.253) == "25.3%"
    with use_locale("en"):
        assert formatting.format_date(date(2026, 11, 24)) == "Nov 24, 2026"
        assert formatting.format_money(1234.6).endswith("1,235")
        assert formatting.format_number(None) == "—"


def test_tables_export_typed_cells_under_translated_headings() -> None:
    table = Table(
        "calls",
        [
            Column("name", "Name"),
            Column("calls", "Calls", "int"),
            Column("rate", "Rate", "percent"),
            Column("at", "At", "datetime"),
        ],
        [{"name": "张三", "calls": 12, "rate": 0.5, "at": datetime(2026, 1, 1, 1, tzinfo=UTC)}],
        title="Calls",
    )
    book = load_workbook(io.BytesIO(workbook_bytes([table], ZoneInfo("Asia/Shanghai"))))
    sheet = book["Calls"]
    assert [c.value for c in sheet[1]] == ["Name", "Calls", "Rate", "At"]
    row = [c.value for c in sheet[2]]
    assert row[:3] == ["张三", 12, 0.5] and row[3] == datetime(2026, 1, 1, 9, 0)
    assert sheet["C2"].number_format == "0.0%"


def test_numbers_that_name_something_have_no_thousands_separators() -> None:
    """A task number is a name: 12345, never 12,345 (counts keep their separators)."""
    env = environment()
    cell = env.get_template("_macros.html").module.cell  # type: ignore[attr-defined]
    row = {"task_id": 12345, "open": 12345}
    with use_locale("zh"):
        assert str(cell(Column("task_id", "Task", "id"), row)) == "12345"
        assert str(cell(Column("open", "Open", "int"), row)) == "12,345"
    table = Table("t", [Column("task_id", "Task", "id")], [row], title="T")
    book = load_workbook(io.BytesIO(workbook_bytes([table], ZoneInfo("Asia/Shanghai"))))
    assert book["T"]["A2"].value == 12345 and book["T"]["A2"].number_format == "0"


def test_a_kpi_arrow_is_coloured_by_what_the_move_means_for_the_metric() -> None:
    """▲ satisfaction is good (green), ▲ complaints bad (red); ▼ the other way round."""
    arrow = environment().get_template("_macros.html").module.kpi_arrow  # type: ignore[attr-defined]
    assert 'kpi-good" data-good="true"' in str(arrow("up", False)) and "▲" in str(
        arrow("up", False)
    )
    assert 'kpi-bad" data-good="false"' in str(arrow("up", True))
    assert 'kpi-good" data-good="true"' in str(arrow("down", True)) and "▼" in str(
        arrow("down", True)
    )
    assert 'kpi-bad" data-good="false"' in str(arrow("down", False))
    assert str(arrow(None, False)) == ""


def test_a_chinese_page_never_shows_a_services_english_message() -> None:
    """Services speak English (the API's contract); a Chinese page shows the plain words for
    the kind of error instead, an English page the service's own text; translated and
    already-Chinese messages pass as they are."""
    cases = (
        (PermissionDeniedError("role analyst may not do this"), "你的角色不能进行此操作。"),
        (NotFoundError("task 12 not found"), "未找到，或不在你的数据范围内。"),
        (ConflictError("campaign 3 is no longer approved; reload it"), "当前状态下不能进行此操作"),
        (InvalidRequestError("comment: say why", field="comment"), "请检查填写的内容。"),
    )
    for exc, words in cases:
        with use_locale("zh-CN"):
            shown = error_text(exc)
        assert words in shown and not re.search(r"[a-z]{4,}", shown), shown
        with use_locale("en"):
            assert error_text(exc) == (getattr(exc, "message", None) or str(exc))
    with use_locale("zh-CN"):
        assert error_text(InvalidRequestError("请至少选择一个任务。", field="task_id")) == (
            "请至少选择一个任务。"
        )


def test_every_page_text_has_a_chinese_translation() -> None:
    missing = missing_chinese()
    assert not missing, "translate in web/i18n/zh_CN/*.po: " + "; ".join(
        f"{msgid!r} ({where[0]})" for msgid, where in sorted(missing.items())
    )


def test_every_model_feature_has_a_name_in_both_languages() -> None:
    for feature in documented_features():
        with use_locale("zh-CN"):
            assert re.search(r"[\u4e00-\u9fff]", feature_label(feature)), feature
        with use_locale("en"):
            assert feature_label(feature) != feature
    assert feature_label("operators_own_column") == "operators_own_column"


def test_one_message_has_one_chinese_text() -> None:
    conflicts = conflicting_chinese()
    assert not conflicts, "give each meaning its own msgid: " + "; ".join(
        f"{msgid!r}: {sorted(texts)}" for msgid, texts in sorted(conflicts.items())
    )


@pytest.mark.usefixtures("people")
def test_responses_say_their_server_time(app: FastAPI) -> None:
    client = page_login(app, "agent")
    for response in (client.get("/account"), client.get("/api/v1/auth/me")):
        name, duration = response.headers["server-timing"].split(";dur=")
        assert name == "app" and float(duration) > 0


def test_every_role_has_a_start_page_in_its_menu() -> None:
    for role in Role:
        home = home_for(role)
        assert any(home == item.path for _, items in menu_for(role) for item in items), role


def test_the_served_app_keeps_its_startup_objects_out_of_the_collector(tmp_path: Path) -> None:
    """``weiwan serve`` builds the app with ``serve_app``: what imports and the app made is
    frozen, so a full collection under load does not walk it (a 145–210 ms stall before)."""
    gc.unfreeze()
    settings = Settings(home=tmp_path, secret_key="test")
    try:
        assert gc.get_freeze_count() == 0
        app = serve_app(settings, make_engine(f"sqlite:///{tmp_path / 'ops.db'}"))
        assert gc.get_freeze_count() > 10_000
        assert "/api/v1/screen-pop" in app.openapi()["paths"]
    finally:
        gc.unfreeze()
