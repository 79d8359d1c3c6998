"""Directory (LDAP) login's configuration: the ``WEIWAN_LDAP_*`` settings checked together, and
the group mapping file (directory group → role, branch, team; the first match wins).

Everything is checked when the application starts (:func:`load_directory`), so a mistake is a
:class:`ConfigError` naming the setting or the file, entry and field, not a failed login later.
The file's format is documented in docs/ldap.md; deploy/ldap/groups.example.yaml is an example.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from ldap3.core.exceptions import LDAPInvalidDnError, LDAPInvalidFilterError
from ldap3.operation.search import parse_filter
from ldap3.utils.dn import parse_dn
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from weiwan.core.errors import ConfigError, join_problems
from weiwan.core.settings import Settings
from weiwan.core.yaml_safe import load_yaml
from weiwan.ops.org.roles import Role

#: the placeholders of the two search filters
USERNAME_PLACEHOLDER = "{username}"
DN_PLACEHOLDER = "{dn}"


def dn_key(dn: str) -> str:
    """``dn`` in one spelling for comparison: attribute names and values lower-cased, spaces
    around the separators dropped. Raises :class:`LDAPInvalidDnError` for a malformed DN."""
    return ",".join(
        f"{attr.lower()}={value.lower()}" for attr, value, _sep in parse_dn(dn, strip=True)
    )


class GroupRule(BaseModel):
    """One entry of the mapping: members of ``group`` get ``role`` in branch ``branch`` (its
    code) and, when given, the team named ``team`` of that branch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group: str = Field(min_length=1, max_length=1000)
    role: Role
    branch: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    team: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("group")
    @classmethod
    def _a_dn(cls, value: str) -> str:
        try:
            dn_key(value)
        except LDAPInvalidDnError as exc:
            raise ValueError(f"not a distinguished name (DN) of a group: {exc}") from exc
        return value

    @property
    def key(self) -> str:
        """The group's DN as compared (:func:`dn_key`)."""
        return dn_key(self.group)


class GroupMapping(BaseModel):
    """The mapping file: ``groups``, an ordered list of :class:`GroupRule`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    groups: list[GroupRule] = Field(min_length=1)


def _where(location: Sequence[int | str]) -> str:
    """A pydantic location as the file's path: ``groups[2].role``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(file)"


def _repeated(rules: Sequence[GroupRule]) -> list[str]:
    """A group listed twice: the later entry could never apply (the first match wins)."""
    first: dict[str, int] = {}
    problems = []
    for index, rule in enumerate(rules):
        if rule.key in first:
            problems.append(
                f"groups[{index}].group: the same group as groups[{first[rule.key]}]; the first "
                "match wins, so this entry would never apply"
            )
        first.setdefault(rule.key, index)
    return problems


def parse_group_mapping(text: str, source: str) -> tuple[GroupRule, ...]:
    """The rules of a mapping document; :class:`ConfigError` naming ``source``, the entry and
    the field of every problem."""
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    try:
        mapping = GroupMapping.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        problems = [
            f"{_where(err['loc'])}: {str(err['msg']).removeprefix('Value error, ')}"
            for err in exc.errors()
        ]
        raise ConfigError(f"{source}: {join_problems(problems)}") from exc
    repeated = _repeated(mapping.groups)
    if repeated:
        raise ConfigError(f"{source}: {join_problems(repeated)}")
    return tuple(mapping.groups)


def read_group_mapping(path: Path) -> tuple[GroupRule, ...]:
    """The rules of the mapping file ``path`` (see :func:`parse_group_mapping`)."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the LDAP group mapping: {exc}") from exc
    return parse_group_mapping(text, str(path))


@dataclass(frozen=True, slots=True)
class DirectoryConfig:
    """How to reach the directory, find a user, read their groups and map them."""

    url: str
    start_tls: bool
    ca_file: Path | None
    bind_dn: str | None
    bind_password: str | None
    user_base: str
    user_filter: str
    username_attribute: str
    name_attribute: str
    groups_from: Literal["search", "memberof"]
    group_base: str
    group_filter: str
    disabled_filter: str
    timeout: int
    rules: tuple[GroupRule, ...]

    @property
    def uses_tls(self) -> bool:
        """Whether the connection is encrypted (ldaps:// or StartTLS)."""
        return self.start_tls or self.url.lower().startswith("ldaps://")


def _setting(name: str) -> str:
    return f"WEIWAN_{name.upper()}"


def _check_dn(problems: list[str], name: str, value: str | None) -> None:
    if value is None:
        return
    try:
        dn_key(value)
    except LDAPInvalidDnError as exc:
        problems.append(f"{_setting(name)}: not a distinguished name (DN): {exc}")


def _check_filter(problems: list[str], name: str, value: str, placeholder: str | None) -> None:
    if placeholder is not None and placeholder not in value:
        problems.append(f"{_setting(name)}: must contain {placeholder}")
    sample = value.replace(USERNAME_PLACEHOLDER, "x").replace(DN_PLACEHOLDER, "cn=x")
    try:
        parse_filter(sample, None, False, False, None, False)
    except LDAPInvalidFilterError:
        problems.append(f"{_setting(name)}: not an LDAP search filter: {value!r}")


def load_directory(settings: Settings) -> DirectoryConfig | None:
    """The directory login's configuration, or ``None`` when ``ldap_url`` is unset (local
    accounts only). Every problem of the settings and the mapping file is a
    :class:`ConfigError` naming the setting (``WEIWAN_LDAP_…``) or the file's entry and field."""
    if settings.ldap_url is None:
        return None
    problems: list[str] = []
    if settings.ldap_user_base is None:
        problems.append(f"{_setting('ldap_user_base')}: required with WEIWAN_LDAP_URL")
    if settings.ldap_group_mapping is None:
        problems.append(f"{_setting('ldap_group_mapping')}: required with WEIWAN_LDAP_URL")
    if settings.ldap_bind_dn is not None and settings.ldap_bind_password is None:
        problems.append(f"{_setting('ldap_bind_password')}: required with WEIWAN_LDAP_BIND_DN")
    if settings.ldap_start_tls and settings.ldap_url.lower().startswith("ldaps://"):
        problems.append(
            f"{_setting('ldap_start_tls')}: StartTLS upgrades an ldap:// connection; "
            "ldaps:// is encrypted already"
        )
    if settings.ldap_ca_file is not None and not settings.ldap_ca_file.is_file():
        problems.append(f"{_setting('ldap_ca_file')}: no such file: {settings.ldap_ca_file}")
    for name in ("ldap_bind_dn", "ldap_user_base", "ldap_group_base"):
        _check_dn(problems, name, getattr(settings, name))
    _check_filter(problems, "ldap_user_filter", settings.ldap_user_filter, USERNAME_PLACEHOLDER)
    _check_filter(
        problems,
        "ldap_group_filter",
        settings.ldap_group_filter,
        DN_PLACEHOLDER if settings.ldap_groups == "search" else None,
    )
    _check_filter(problems, "ldap_disabled_filter", settings.ldap_disabled_filter, None)
    for name in ("ldap_username_attribute", "ldap_name_attribute"):
        if not str(getattr(settings, name)).strip():
            problems.append(f"{_setting(name)}: must name an attribute")
    if problems:
        raise ConfigError(join_problems(problems))
    assert settings.ldap_user_base is not None and settings.ldap_group_mapping is not None
    password = settings.ldap_bind_password
    return DirectoryConfig(
        url=settings.ldap_url,
        start_tls=settings.ldap_start_tls,
        ca_file=settings.ldap_ca_file,
        bind_dn=settings.ldap_bind_dn,
        bind_password=None if password is None else password.get_secret_value(),
        user_base=settings.ldap_user_base,
        user_filter=settings.ldap_user_filter,
        username_attribute=settings.ldap_username_attribute.strip(),
        name_attribute=settings.ldap_name_attribute.strip(),
        groups_from=settings.ldap_groups,
        group_base=settings.ldap_group_base or settings.ldap_user_base,
        group_filter=settings.ldap_group_filter,
        disabled_filter=settings.ldap_disabled_filter,
        timeout=settings.ldap_timeout_seconds,
        rules=read_group_mapping(settings.ldap_group_mapping),
    )
