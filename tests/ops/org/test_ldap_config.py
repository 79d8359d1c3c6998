"""Directory (LDAP) login's configuration: the shipped example mapping validates, and every
mistake in the mapping file or the settings is an error naming the entry and field or the
setting, raised when the application (or `weiwan serve`) starts (no server needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from weiwan.cli import app
from weiwan.core.errors import ConfigError
from weiwan.core.settings import Settings, get_settings
from weiwan.ops.org.directory_config import (
    load_directory,
    parse_group_mapping,
    read_group_mapping,
)
from weiwan.ops.org.directory_login import matching_rule
from weiwan.ops.org.roles import Role
from weiwan.web.app import create_app

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "ldap" / "groups.example.yaml"
GROUP = "cn=agents,ou=groups,dc=example,dc=cn"


def test_the_shipped_example_mapping_validates() -> None:
    rules = read_group_mapping(EXAMPLE)
    assert len(rules) >= 5
    assert rules[0].role is Role.DIRECTOR
    assert {rule.role for rule in rules} >= {Role.CENTRE_HEAD, Role.AGENT, Role.STORE_CLERK}
    assert any(rule.team for rule in rules)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f"groups:\n  - group: {GROUP}\n    role: boss\n    branch: HZ\n", "groups[0].role: "),
        (f"groups:\n  - group: {GROUP}\n    role: agent\n", "groups[0].branch: Field required"),
        (
            f"groups:\n  - group: {GROUP}\n    role: agent\n    branch: HZ\n    tem: x\n",
            "groups[0].tem: Extra inputs are not permitted",
        ),
        (
            "groups:\n  - group: agents\n    role: agent\n    branch: HZ\n",
            "groups[0].group: not a distinguished name (DN) of a group",
        ),
        (
            f"groups:\n  - group: {GROUP}\n    role: agent\n    branch: HZ\n"
            f"  - group: {GROUP.upper().replace(',', ', ')}\n    role: director\n    branch: HZ\n",
            "groups[1].group: the same group as groups[0]",
        ),
        ("", "groups: Field required"),
        ("groups: []\n", "groups: List should have at least 1 item"),
        ("groups: [\n", "not valid YAML"),
        (
            f"groups:\n  - &a\n    group: {GROUP}\n    role: agent\n    branch: HZ\n  - *a\n",
            "anchors (&) and aliases (*) are not allowed",
        ),
    ],
)
def test_a_mistake_in_the_mapping_names_the_file_entry_and_field(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_group_mapping(text, "groups.yaml")
    assert str(raised.value).startswith("groups.yaml: ")
    assert problem in str(raised.value)


def test_the_first_matching_group_wins_whatever_its_spelling() -> None:
    rules = parse_group_mapping(
        "groups:\n"
        "  - {group: 'cn=heads,ou=groups,dc=example,dc=cn', role: centre_head, branch: HZ}\n"
        f"  - {{group: '{GROUP}', role: agent, branch: HZ, team: 早班}}\n",
        "groups.yaml",
    )
    assert matching_rule(rules, ("CN=Agents, OU=Groups, DC=example, DC=cn",)) == rules[1]
    both = ("cn=agents,ou=groups,dc=example,dc=cn", "cn=heads,ou=groups,dc=example,dc=cn")
    assert matching_rule(rules, both) == rules[0]
    assert matching_rule(rules, ("cn=canteen,ou=groups,dc=example,dc=cn", "not a dn")) is None


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(home=tmp_path, secret_key="t", **values)


def test_without_an_ldap_url_there_is_no_directory_login(tmp_path: Path) -> None:
    assert load_directory(_settings(tmp_path)) is None


def test_a_mistake_in_the_settings_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_directory(
            _settings(
                tmp_path,
                ldap_url="ldaps://ldap.example.cn",
                ldap_start_tls=True,
                ldap_bind_dn="cn=weiwan,dc=example,dc=cn",
                ldap_user_filter="(uid=alice)",
                ldap_group_filter="(member=x",
                ldap_ca_file=tmp_path / "missing.pem",
            )
        )
    message = str(raised.value)
    for problem in (
        "WEIWAN_LDAP_USER_BASE: required with WEIWAN_LDAP_URL",
        "WEIWAN_LDAP_GROUP_MAPPING: required with WEIWAN_LDAP_URL",
        "WEIWAN_LDAP_BIND_PASSWORD: required with WEIWAN_LDAP_BIND_DN",
        "WEIWAN_LDAP_START_TLS: StartTLS upgrades an ldap:// connection",
        "WEIWAN_LDAP_CA_FILE: no such file",
        "WEIWAN_LDAP_USER_FILTER: must contain {username}",
        "WEIWAN_LDAP_GROUP_FILTER: must contain {dn}",
        "WEIWAN_LDAP_GROUP_FILTER: not an LDAP search filter",
    ):
        assert problem in message
    with pytest.raises(ValueError, match="ldap_url"):
        _settings(tmp_path, ldap_url="http://ldap.example.cn")


@pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
def test_the_application_does_not_start_with_a_bad_mapping(
    tmp_path: Path, empty_engine: Engine
) -> None:
    mapping = tmp_path / "groups.yaml"
    mapping.write_text(f"groups:\n  - group: {GROUP}\n    role: boss\n    branch: HZ\n")
    settings = _settings(
        tmp_path,
        ldap_url="ldap://127.0.0.1:1",
        ldap_user_base="ou=people,dc=example,dc=cn",
        ldap_group_mapping=mapping,
    )
    with pytest.raises(ConfigError, match=r"groups\.yaml: groups\[0\]\.role"):
        create_app(settings, empty_engine)
    mapping.write_text(f"groups:\n  - group: {GROUP}\n    role: agent\n    branch: HZ\n")
    app = create_app(settings, empty_engine)
    assert app.state.directory is not None
    assert app.state.directory.config.rules[0].branch == "HZ"


def test_serve_stops_at_once_on_a_mistake_in_the_ldap_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path))
    monkeypatch.setenv("WEIWAN_LDAP_URL", "ldap://127.0.0.1:1")
    monkeypatch.setenv("WEIWAN_LDAP_USER_BASE", "ou=people,dc=example,dc=cn")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve", "--port", "0"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "WEIWAN_LDAP_GROUP_MAPPING: required with WEIWAN_LDAP_URL" in result.output
