"""Retention periods per kind of personal data: the shipped ``retention.yaml``, or the
operator's ``<home>/retention.yaml`` when present (validated alike, errors name the field)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from weiwan.core.errors import ConfigError
from weiwan.core.months import add_months
from weiwan.core.personal_data import PLACES
from weiwan.core.yaml_safe import load_yaml

FILE_NAME = "retention.yaml"
#: every retention kind the registry uses
KINDS: frozenset[str] = frozenset(p.kind for p in PLACES)


class Period(BaseModel):
    """How long one kind is kept: ``months``, or ``None`` (while the subscriber is served)."""

    model_config = ConfigDict(extra="forbid")

    months: int | None = Field(ge=1, le=1200)


class RetentionRules(BaseModel):
    """The period of every kind."""

    model_config = ConfigDict(extra="forbid")

    kinds: dict[str, Period]

    @field_validator("kinds")
    @classmethod
    def _every_kind(cls, kinds: dict[str, Period]) -> dict[str, Period]:
        unknown = sorted(set(kinds) - KINDS)
        if unknown:
            known = ", ".join(sorted(KINDS))
            raise ValueError(f"unknown kind(s) {', '.join(unknown)}; known: {known}")
        missing = sorted(KINDS - set(kinds))
        if missing:
            raise ValueError(f"missing kind(s) {', '.join(missing)}")
        return kinds

    def months(self, kind: str) -> int | None:
        """The period of ``kind`` in months (``None``: not purged by age)."""
        return self.kinds[kind].months

    def cutoff(self, kind: str, today: date) -> date | None:
        """The first day still kept for ``kind`` (older is purged), or ``None``."""
        months = self.months(kind)
        return None if months is None else add_months(today, -months)


@dataclass(frozen=True)
class PurgeCount:
    """What the purge did (or would do) in one place of one store."""

    store: str
    table: str
    kind: str
    action: str
    rows: int


def rules_path(home: Path) -> Path | None:
    """The operator's file in ``home``, if there is one."""
    path = home / FILE_NAME
    return path if path.exists() else None


def load_rules(home: Path | None = None) -> RetentionRules:
    """The retention rules of ``home`` (its ``retention.yaml``) or the shipped defaults; a file
    that cannot be read or is invalid is a ConfigError naming the file and the field."""
    path = rules_path(home) if home is not None else None
    source = str(path) if path else f"{FILE_NAME} (default)"
    try:
        text = (
            path.read_text("utf-8")
            if path
            else resources.files("weiwan.core").joinpath(FILE_NAME).read_text("utf-8")
        )
        data = load_yaml(text) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{source}: cannot read the retention periods: {exc}") from exc
    try:
        return RetentionRules.model_validate(data)
    except ValidationError as exc:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: "
            f"{str(err['msg']).removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigError(f"{source}: {detail}") from exc


def as_datetime(day: date) -> datetime:
    """Midnight of ``day`` (for comparing with timestamp columns)."""
    return datetime(day.year, day.month, day.day)
