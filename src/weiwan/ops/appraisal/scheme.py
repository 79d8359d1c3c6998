"""The appraisal scheme (考核设置/考核方案): monthly targets per agent, team and branch, the daily
contact standard per role and the scorecard weights.

One YAML document, validated against the organisation when it is saved (an unknown user, team,
branch or metric, a weight that is not a non-negative number…: every message names its entry
and field, and nothing is saved while one is wrong), stored in ``config_documents`` as
``appraisal:settings`` = ``{"text", "settings", "sha256"}`` where ``settings`` is the resolved
form (ids instead of names); both names predate the module's and are stored data, kept as
is. Every save is audited as ``config_change``.

Admins and directors edit everything; a centre head edits only the targets of their branches
(and of the teams and agents in them): other entries, the standards and the weights must stay
as they are.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.core.errors import MAX_ERROR_CHARS, MORE_PROBLEMS, InvalidRequestError
from weiwan.core.yaml_safe import ANCHOR_PROBLEM, AnchorNotAllowedError, load_yaml
from weiwan.ops.base import utcnow
from weiwan.ops.org.access import Actor
from weiwan.ops.org.config import read_document, text_digest
from weiwan.ops.org.models import Branch, ConfigDocument, Team, User
from weiwan.ops.org.roles import Role
from weiwan.ops.org.service import AuditAction, audit

#: the scheme's ``config_documents`` key: stored data in operators' databases since before the
#: module was named "scheme", so it keeps its old name (changing it would lose saved schemes)
DOCUMENT = "appraisal:settings"
#: the key of the resolved form inside the stored document (stored data too, kept as is)
_RESOLVED = "settings"
#: contacts a day an agent should make (PRODUCT.md: ≥ 10 customer contacts a day)
DEFAULT_STANDARD = 10
#: the scorecard's weighted metrics and their default weights (see docs/appraisal.md)
DEFAULT_WEIGHTS: dict[str, float] = {
    "contacts": 20.0,
    "connect_rate": 10.0,
    "retention_success_rate": 20.0,
    "incremental_saves": 15.0,
    "quality_score": 15.0,
    "questionnaire_completion": 5.0,
    "complaints": 5.0,
    "target_attainment": 10.0,
}
#: the figures a target may be set for
TARGET_METRICS = ("assigned", "contacts", "saves")
SUBJECT_KEYS = ("agent", "team", "branch")
SCHEME_WRITERS = (Role.ADMIN, Role.DIRECTOR, Role.CENTRE_HEAD)
SCHEME_READERS = (*SCHEME_WRITERS, Role.SHIFT_LEAD)
MAX_TEXT = 200_000
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

DEFAULT_TEXT = f"""\
# Appraisal settings (考核设置)
# daily_contact_standard: contacts a day per role
daily_contact_standard:
  agent: {DEFAULT_STANDARD}
# weights of the scorecard's score (non-negative numbers, summing to more than 0)
weights:
{chr(10).join(f"  {k}: {v:g}" for k, v in DEFAULT_WEIGHTS.items())}
# monthly targets: one entry per agent (username), team (name; add branch: CODE when two
# branches have a team of that name) or branch (code); month YYYY-MM, or every month if left out
targets: []
"""


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation message: the entry (``targets[3]``, ``weights``), field and message."""

    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.entry}.{self.field}: {self.message}"
            if self.field
            else (f"{self.entry}: {self.message}")
        )


class SchemeError(InvalidRequestError):
    """The scheme was refused; ``problems`` lists every message (nothing was saved)."""

    def __init__(self, problems: list[Problem]) -> None:
        #: the problems that fit in MAX_ERROR_CHARS (a longer first one cut), and how many more
        self.problems, self.more = _fit(problems)
        first = problems[0]
        text = "; ".join(str(p) for p in self.problems)
        super().__init__(
            f"{text} {MORE_PROBLEMS % {'count': self.more}}" if self.more else text,
            field=f"{first.entry}.{first.field}" if first.field else first.entry,
        )


def _fit(problems: list[Problem]) -> tuple[list[Problem], int]:
    shown: list[Problem] = []
    used = 0
    for problem in problems:
        used += len(str(problem)) + (2 if shown else 0)  # "; " between two
        if used > MAX_ERROR_CHARS:
            if not shown:
                cut = problem.message[: max(MAX_ERROR_CHARS - used + len(problem.message), 1)]
                shown.append(Problem(problem.entry, problem.field, cut[:-1] + "…"))
            break
        shown.append(problem)
    return shown, len(problems) - len(shown)


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved target: level, subject id, month (None: every month) and the figures."""

    level: str
    subject_id: int
    branch_id: int
    month: str | None
    values: dict[str, float]


@dataclass(frozen=True, slots=True)
class AppraisalScheme:
    """The scheme in effect (defaults when never saved)."""

    standards: dict[str, int] = field(default_factory=lambda: {Role.AGENT.value: 10})
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    targets: tuple[Target, ...] = ()

    def standard(self, role: Role | str) -> int:
        """The daily contact standard of ``role`` (the agents' when the role has none)."""
        value = self.standards.get(Role(role).value)
        return value if value is not None else self.standards.get("agent", DEFAULT_STANDARD)

    def target(self, level: str, subject_id: int, month: date) -> dict[str, float]:
        """The targets of a subject for ``month``: the month's entry, else the every-month one."""
        key = month.strftime("%Y-%m")
        general: dict[str, float] = {}
        for t in self.targets:
            if t.level == level and t.subject_id == subject_id:
                if t.month == key:
                    return dict(t.values)
                if t.month is None:
                    general = dict(t.values)
        return general

    def as_json(self) -> dict[str, Any]:
        """The resolved form stored next to the text."""
        return {
            "standards": self.standards,
            "weights": self.weights,
            "targets": [
                {
                    "level": t.level,
                    "subject_id": t.subject_id,
                    "branch_id": t.branch_id,
                    "month": t.month,
                    "values": t.values,
                }
                for t in self.targets
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AppraisalScheme:
        """The scheme of a stored resolved form."""
        return cls(
            standards={str(k): int(v) for k, v in data.get("standards", {}).items()},
            weights={str(k): float(v) for k, v in data.get("weights", {}).items()},
            targets=tuple(
                Target(
                    level=str(t["level"]),
                    subject_id=int(t["subject_id"]),
                    branch_id=int(t["branch_id"]),
                    month=t.get("month"),
                    values={str(k): float(v) for k, v in t["values"].items()},
                )
                for t in data.get("targets", [])
            ),
        )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class _Org:
    """The organisation names the scheme may use."""

    def __init__(self, session: Session) -> None:
        self.users = {
            u.username: u for u in session.scalars(select(User).where(User.active.is_(True))).all()
        }
        self.branches = {b.code: b for b in session.scalars(select(Branch)).all()}
        self.teams: dict[str, list[Team]] = {}
        for team in session.scalars(select(Team)).all():
            self.teams.setdefault(team.name, []).append(team)


def _standards(raw: Any, problems: list[Problem]) -> dict[str, int]:
    standards = {Role.AGENT.value: DEFAULT_STANDARD}
    if raw is None:
        return standards
    if not isinstance(raw, dict):
        problems.append(Problem("daily_contact_standard", "", "must be a mapping role: number"))
        return standards
    roles = {r.value for r in Role}
    for key, value in raw.items():
        if str(key) not in roles:
            problems.append(Problem("daily_contact_standard", str(key), "unknown role"))
            continue
        number = _number(value)
        if number is None or number < 0 or number != int(number):
            problems.append(
                Problem("daily_contact_standard", str(key), "must be a whole number ≥ 0")
            )
            continue
        standards[str(key)] = int(number)
    return standards


def _weights(raw: Any, problems: list[Problem]) -> dict[str, float]:
    if raw is None:
        return dict(DEFAULT_WEIGHTS)
    if not isinstance(raw, dict):
        problems.append(Problem("weights", "", "must be a mapping metric: number"))
        return dict(DEFAULT_WEIGHTS)
    weights: dict[str, float] = {}
    for key, value in raw.items():
        if str(key) not in DEFAULT_WEIGHTS:
            known = ", ".join(DEFAULT_WEIGHTS)
            problems.append(Problem("weights", str(key), f"unknown metric; use {known}"))
            continue
        number = _number(value)
        if number is None:
            problems.append(Problem("weights", str(key), f"not a number: {value!r}"))
        elif number < 0:
            problems.append(Problem("weights", str(key), "must not be negative"))
        else:
            weights[str(key)] = number
    if not problems and sum(weights.values()) <= 0:
        problems.append(Problem("weights", "", "the weights must add up to more than 0"))
    return weights


def _subject(
    entry: dict[str, Any], name: str, org: _Org, problems: list[Problem]
) -> tuple[str, int, int] | None:
    keys: list[str] = [k for k in ("agent", "team") if k in entry]
    if not keys and "branch" in entry:
        keys = ["branch"]
    if len(keys) != 1:
        problems.append(Problem(name, "agent", "name one agent, team or branch"))
        return None
    level = keys[0]
    value = str(entry[level])
    if level == "agent":
        user = org.users.get(value)
        if user is None:
            problems.append(Problem(name, "agent", f"unknown user {value!r}"))
            return None
        return level, user.id, user.branch_id
    if level == "branch":
        branch = org.branches.get(value)
        if branch is None:
            problems.append(Problem(name, "branch", f"unknown branch {value!r}"))
            return None
        return level, branch.id, branch.id
    teams = org.teams.get(value, [])
    if "branch" in entry:
        code = str(entry["branch"])
        if code not in org.branches:
            problems.append(Problem(name, "branch", f"unknown branch {code!r}"))
            return None
        teams = [t for t in teams if t.branch_id == org.branches[code].id]
    if not teams:
        problems.append(Problem(name, "team", f"unknown team {value!r}"))
        return None
    if len(teams) > 1:
        problems.append(Problem(name, "team", f"team {value!r} is in several branches: add branch"))
        return None
    return level, teams[0].id, teams[0].branch_id


def _targets(raw: Any, org: _Org, problems: list[Problem]) -> tuple[Target, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(Problem("targets", "", "must be a list of entries"))
        return ()
    targets: list[Target] = []
    seen: dict[tuple[str, int, str | None], str] = {}
    for index, entry in enumerate(raw):
        name = f"targets[{index}]"
        if not isinstance(entry, dict):
            problems.append(Problem(name, "", "must be a mapping"))
            continue
        before = len(problems)
        subject = _subject(entry, name, org, problems)
        month = entry.get("month")
        if month is not None and not (isinstance(month, str) and _MONTH.match(month)):
            problems.append(Problem(name, "month", f"not a month: {month!r}; use YYYY-MM"))
        values: dict[str, float] = {}
        for key, value in entry.items():
            if key in ("agent", "team", "branch", "month"):
                continue
            if key not in TARGET_METRICS:
                known = ", ".join(TARGET_METRICS)
                problems.append(Problem(name, str(key), f"unknown metric; use {known}"))
                continue
            number = _number(value)
            if number is None or number < 0:
                problems.append(Problem(name, str(key), f"not a number ≥ 0: {value!r}"))
                continue
            values[key] = number
        if not values and len(problems) == before:
            problems.append(Problem(name, "", "sets no target (assigned, contacts, saves)"))
        if subject is None or len(problems) != before:
            continue
        key3 = (subject[0], subject[1], month)
        if key3 in seen:
            problems.append(Problem(name, subject[0], f"repeats {seen[key3]}"))
            continue
        seen[key3] = name
        targets.append(Target(subject[0], subject[1], subject[2], month, values))
    return tuple(targets)


def parse_scheme(session: Session, text: str) -> AppraisalScheme:
    """The scheme of a YAML text, checked against the organisation;
    :class:`SchemeError` with every problem otherwise."""
    if len(text) > MAX_TEXT:
        raise SchemeError([Problem("text", "", f"longer than {MAX_TEXT} characters")])
    try:
        data = load_yaml(text) if text.strip() else {}
    except AnchorNotAllowedError as exc:
        where = f"line {exc.line}, column {exc.column}"
        raise SchemeError([Problem(where, "", ANCHOR_PROBLEM)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "text"
        raise SchemeError([Problem(where, "", f"not valid YAML: {exc}")]) from exc
    if not isinstance(data, dict):
        raise SchemeError([Problem("text", "", "must be a mapping")])
    problems: list[Problem] = []
    for key in data:
        if key not in ("daily_contact_standard", "weights", "targets"):
            problems.append(Problem(str(key), "", "unknown section"))
    standards = _standards(data.get("daily_contact_standard"), problems)
    weight_problems: list[Problem] = []
    weights = _weights(data.get("weights"), weight_problems)
    problems.extend(weight_problems)
    targets = _targets(data.get("targets"), _Org(session), problems)
    if problems:
        raise SchemeError(problems)
    return AppraisalScheme(standards, weights, targets)


def _stored(session: Session) -> dict[str, Any] | None:
    return read_document(session, DOCUMENT)


def current_scheme(session: Session) -> AppraisalScheme:
    """The scheme in effect (the defaults until saved once)."""
    stored = _stored(session)
    if stored is None or not isinstance(stored.get(_RESOLVED), dict):
        return AppraisalScheme()
    return AppraisalScheme.from_json(stored[_RESOLVED])


def current_text(session: Session) -> str:
    """The YAML text in effect (the commented defaults until saved once)."""
    stored = _stored(session)
    return str(stored["text"]) if stored and "text" in stored else DEFAULT_TEXT


def daily_standard(session: Session, role: Role | str = Role.AGENT) -> int:
    """The daily contact standard of ``role`` in effect."""
    return current_scheme(session).standard(role)


def _check_scope(actor: Actor, old: AppraisalScheme, new: AppraisalScheme) -> None:
    """A centre head may change only the targets of their branches."""
    if actor.role is not Role.CENTRE_HEAD:
        return
    problems: list[Problem] = []
    if old.standards != new.standards:
        problems.append(Problem("daily_contact_standard", "", "only a director or admin sets it"))
    if old.weights != new.weights:
        problems.append(Problem("weights", "", "only a director or admin sets them"))

    def outside(scheme: AppraisalScheme) -> list[Target]:
        return sorted(
            (t for t in scheme.targets if t.branch_id not in actor.branch_ids),
            key=lambda t: (t.level, t.subject_id, t.month or ""),
        )

    if outside(old) != outside(new):
        for index, target in enumerate(new.targets):
            if target.branch_id not in actor.branch_ids and target not in old.targets:
                problems.append(Problem(f"targets[{index}]", target.level, "outside your branches"))
        if not problems:
            problems.append(Problem("targets", "", "targets outside your branches were removed"))
    if problems:
        raise SchemeError(problems)


def save_scheme(session: Session, actor: Actor, text: str) -> AppraisalScheme:
    """Validate and save ``text`` (audited as ``config_change``); nothing is saved when an
    entry is wrong. Saving the same text again changes nothing and audits nothing."""
    actor.require(*SCHEME_WRITERS)
    new = parse_scheme(session, text)
    _check_scope(actor, current_scheme(session), new)
    digest = text_digest(text)
    stored = _stored(session)
    if stored is not None and stored.get("sha256") == digest:
        return new
    content = json.dumps(
        {"text": text, _RESOLVED: new.as_json(), "sha256": digest}, ensure_ascii=False
    )
    document = session.get(ConfigDocument, DOCUMENT)
    if document is None:
        document = ConfigDocument(name=DOCUMENT, content=content)
        session.add(document)
    document.content = content
    document.updated_at = utcnow()
    document.updated_by = actor.user_id
    audit(
        session,
        actor.user_id,
        AuditAction.CONFIG_CHANGE,
        target_type="config",
        target_id=DOCUMENT,
        detail={"sha256": digest, "targets": len(new.targets)},
    )
    return new
