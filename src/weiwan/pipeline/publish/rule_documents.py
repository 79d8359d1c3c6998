"""Publish the rule documents in effect and their validation messages; apply the web's pending
edits.

The publish kind ``settings`` (see :mod:`weiwan.pipeline.publish`) writes, per rule-document
kind (policy library, alert, care and anomaly rules, contact policy —
:data:`~weiwan.ops.org.config.RULE_DOCUMENT_KINDS`), the
``config_documents`` ``yaml:<kind>`` (the YAML text in effect) and ``validation:<kind>`` (its
refusals and warnings, and the verdict on the last pending edit); the document formats are
described in :mod:`weiwan.ops.org.config`.

The way back: an administrator's edit waits as ``pending:<kind>``. :func:`apply_pending`
validates it with the analytics validators; a valid edit is written to
``<home>/config/<file>`` (which then is the file in effect: :func:`rule_document_paths`) and its
pending document removed; a refused edit is not applied, stays pending, and its messages are
published. The loaders of the daily run take the files of :func:`rule_document_paths`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import sqlalchemy as sa
from sqlalchemy.orm import Session

from weiwan.analytics.alerts import DEFAULT_ANOMALY_FILES, DEFAULT_RULE_FILES, load_rules
from weiwan.analytics.contact_policy import load_contact_policy
from weiwan.analytics.decide.config import load_decide_config
from weiwan.analytics.policies import PolicyIssue, load_policies
from weiwan.analytics.tags import load_tag_library
from weiwan.analytics.targets import load_target_groups
from weiwan.core.errors import ConfigError
from weiwan.core.logging import get_logger
from weiwan.core.settings import get_settings
from weiwan.ops.base import utcnow
from weiwan.ops.org.config import (
    RULE_DOCUMENT_KINDS,
    pending_name,
    text_digest,
    validation_name,
    yaml_name,
)
from weiwan.ops.org.models import ConfigDocument
from weiwan.pipeline.publish.bookkeeping import record_publication
from weiwan.pipeline.publish.documents import audit_change, read_document, write_document

log = get_logger(__name__)

#: the publish kind, as ``publications.kind`` rows store it: named before this module was, and
#: stored data, so it keeps its name
KIND = "settings"
CONFIG_DIR = "config"
#: the file of each rule-document kind, under <home>/config/ once edited
FILES: dict[str, str] = {
    "policies": "policies.yaml",
    "alerts": "alerts.yaml",
    "care": "care.yaml",
    "contact_policy": "contact_policy.yaml",
    "anomalies": "anomalies.yaml",
    "target_groups": "target_groups.yaml",
    "tags": "tags.yaml",
    "decide": "decide.yaml",
}
#: the tag editor's document before any edit: the shipped library stays as it is
EMPTY_TAGS = (
    "# Tags added here, or changed by giving a shipped tag's id, on top of the shipped library\n"
    "tags: []\n"
)
_SHIPPED_RULES = {
    "alerts": DEFAULT_RULE_FILES[0],
    "care": DEFAULT_RULE_FILES[1],
    "anomalies": DEFAULT_ANOMALY_FILES[0],
}

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RuleDocumentPaths:
    """The files in effect: ``None`` / the shipped rule files until an edit was applied."""

    policies: Path | None
    contact_policy: Path | None
    rule_files: tuple[Path, Path]
    #: the anomaly pool's rules (loaded only by the anomaly step)
    anomaly_rules: Path = DEFAULT_ANOMALY_FILES[0]
    #: the saved target groups (None: the shipped ``target_groups.yaml``)
    target_groups: Path | None = None
    #: the tag editor's tags, over the shipped library (None: no edit)
    tags: Path | None = None
    #: next best action's settings and strategy arms (None: ``WEIWAN_DECIDE_CONFIG`` or the
    #: shipped decide.yaml)
    decide: Path | None = None


@dataclass(frozen=True, slots=True)
class Checked:
    """The validation messages of one text: refusals (``errors``) and ``warnings``."""

    errors: list[Message]
    warnings: list[Message]

    @property
    def ok(self) -> bool:
        return not self.errors


def config_dir(home: Path) -> Path:
    """Where applied edits live: ``<home>/config``."""
    return home / CONFIG_DIR


def edited_path(home: Path, kind: str) -> Path | None:
    """The applied edit of ``kind`` under ``<home>/config``, or None (the shipped file)."""
    path = config_dir(home) / FILES[kind]
    return path if path.is_file() else None


def rule_document_paths(home: Path) -> RuleDocumentPaths:
    """The files the daily run should load: pass ``policies`` to ``load_policies``,
    ``contact_policy`` to ``load_contact_policy`` and ``rule_files`` to ``load_rules``."""
    alerts = edited_path(home, "alerts") or _SHIPPED_RULES["alerts"]
    care = edited_path(home, "care") or _SHIPPED_RULES["care"]
    return RuleDocumentPaths(
        policies=edited_path(home, "policies"),
        contact_policy=edited_path(home, "contact_policy"),
        rule_files=(alerts, care),
        anomaly_rules=edited_path(home, "anomalies") or _SHIPPED_RULES["anomalies"],
        target_groups=edited_path(home, "target_groups"),
        tags=edited_path(home, "tags"),
        decide=edited_path(home, "decide"),
    )


def _shipped_text(kind: str) -> str:
    if kind == "tags":
        return EMPTY_TAGS
    own = get_settings().decide_config if kind == "decide" else None
    if own is not None:
        return own.read_text("utf-8")  # the installation's own decide.yaml
    if kind in _SHIPPED_RULES:
        return _SHIPPED_RULES[kind].read_text("utf-8")
    return resources.files("weiwan.analytics").joinpath(FILES[kind]).read_text("utf-8")


def _message(item: str, field: str, message: str, count: int | None = None) -> Message:
    out: Message = {"item": item, "field": field, "message": message}
    if count is not None:
        out["overlap"] = count
    return out


def _issue(issue: PolicyIssue) -> Message:
    """A policy's refusal or warning, with its code and figures (the page says it in the
    reader's language)."""
    out = _message(issue.policy_id, issue.field, issue.message, issue.overlap)
    if issue.code:
        out["code"], out["params"] = issue.code, dict(issue.params)
    return out


def _split(problem: str) -> tuple[str, str]:
    """ "field: message" → (field, message); a problem without a field → ("", problem)."""
    field, sep, message = problem.partition(": ")
    return (field, message) if sep and " " not in field else ("", problem)


def _file_problems(exc: ConfigError, path: Path | None) -> list[Message]:
    """A ConfigError ("<source>: a: x; b: y") as one message per field."""
    text = str(exc)
    for source in filter(None, (str(path) if path else None, " (default)")):
        head, sep, rest = text.partition(": ")
        if sep and (head == source or head.endswith(source)):
            text = rest
            break
    return [_message("(file)", *_split(part)) for part in text.split("; ")]


def check(kind: str, path: Path | None, home: Path, profile: ir.Table | None = None) -> Checked:
    """Validate the file of ``kind`` at ``path`` (None: the shipped one) with the analytics
    validators, the rules together with the other rule file in effect (ids are unique across
    both)."""
    if kind == "tags":
        problems = load_tag_library(edited=path).errors if path else []
        return Checked([_message(e.tag_id or "(file)", "", e.problem) for e in problems], [])
    if kind == "target_groups":
        try:
            load_target_groups(path)
        except ConfigError as exc:
            return Checked(_file_problems(exc, path), [])
        return Checked([], [])
    if kind == "policies":
        try:
            groups = load_target_groups(rule_document_paths(home).target_groups)
            library = load_policies(path, profile=profile, target_groups=groups)
        except ConfigError as exc:
            return Checked(_file_problems(exc, path), [])
        return Checked([_issue(i) for i in library.errors], [_issue(i) for i in library.warnings])
    if kind == "contact_policy":
        try:
            load_contact_policy(path)
        except ConfigError as exc:
            return Checked(_file_problems(exc, path), [])
        return Checked([], [])
    if kind == "decide":
        return _check_decide(path, home)
    own = path or _SHIPPED_RULES[kind]
    alerts, care = rule_document_paths(home).rule_files
    files = [care if kind == "alerts" else alerts, own]  # duplicates are blamed on ``own``
    kinds: tuple[str, ...] = ("alert", "care")
    if kind == "anomalies":  # evaluated apart from the alerts: ids need only be unique inside
        files, kinds = [own], ("anomaly",)
    names = {str(own), own.name}
    errors = [
        _message(e.rule or "(file)", *_split(e.problem))
        for e in load_rules(files, kinds=kinds).errors
        if e.file in names
    ]
    return Checked(errors, [])


def _check_decide(path: Path | None, home: Path) -> Checked:
    """decide.yaml: refused when it does not load; a strategy arm naming a policy the library
    in effect does not have is a warning (that arm can never offer it)."""
    try:
        config = load_decide_config(path)
    except ConfigError as exc:
        return Checked(_file_problems(exc, path), [])
    paths = rule_document_paths(home)
    try:
        known = {p.id for p in load_policies(paths.policies).policies}
    except ConfigError:
        return Checked([], [])  # the policy library's own page reports it
    warnings = [
        _message(name, "policies", f"unknown policy ids {sorted(set(arm.policies) - known)}")
        for name, arm in config.strategies.arms.items()
        if arm.policies is not None and set(arm.policies) - known
    ]
    return Checked([], warnings)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.new")
    staged.write_text(text, "utf-8")
    os.replace(staged, path)


def apply_pending(
    engine: sa.Engine, home: Path, profile: ir.Table | None = None
) -> dict[str, Message]:
    """Validate each pending edit; apply the valid ones (written to ``<home>/config``, pending
    document removed, audited as ``config_change``); keep the refused ones pending. Returns
    the verdict per kind that had a pending edit (``status`` applied/refused, messages)."""
    verdicts: dict[str, Message] = {}
    with Session(engine) as session, session.begin():
        for kind in RULE_DOCUMENT_KINDS:
            found = read_document(session, pending_name(kind))
            if found is None or not isinstance(found[1].get("text"), str):
                continue
            content, pending = found
            text: str = pending["text"]
            target = config_dir(home) / FILES[kind]
            trial = target.with_name(f".pending-{target.name}")
            trial.parent.mkdir(parents=True, exist_ok=True)
            trial.write_text(text, "utf-8")
            try:
                result = check(kind, trial, home, profile)
            finally:
                with contextlib.suppress(OSError):
                    trial.unlink()
            verdict: Message = {
                "status": "applied" if result.ok else "refused",
                "sha256": text_digest(text),
                "by": pending.get("by"),
                "username": pending.get("username"),
                "saved_at": pending.get("at"),
                "checked_at": utcnow().isoformat(),
                "errors": result.errors,
                "warnings": result.warnings,
            }
            verdicts[kind] = verdict
            if not result.ok:
                log.warning("settings.pending_refused", kind=kind, errors=len(result.errors))
                continue
            _atomic_write(target, text)
            session.execute(
                sa.delete(ConfigDocument).where(
                    ConfigDocument.name == pending_name(kind), ConfigDocument.content == content
                )
            )
            audit_change(
                session,
                yaml_name(kind),
                {"by": "pipeline", "applied": verdict["sha256"], "edited_by": pending.get("by")},
            )
            log.info("settings.pending_applied", kind=kind, path=str(target))
    return verdicts


def publish_rule_documents(
    engine: sa.Engine,
    snapshot: date,
    *,
    home: Path | None = None,
    profile: ir.Table | None = None,
    verdicts: dict[str, Message] | None = None,
) -> int:
    """Apply the pending edits (unless the caller did and passes their ``verdicts``), then
    publish ``yaml:<kind>`` and ``validation:<kind>`` of every rule-document kind (``home``
    defaults to the process settings' home). Returns the documents written."""
    home = home if home is not None else get_settings().home
    if verdicts is None:
        verdicts = apply_pending(engine, home, profile)
    written = 0
    with Session(engine) as session, session.begin():
        for kind in RULE_DOCUMENT_KINDS:
            path = edited_path(home, kind)
            text = path.read_text("utf-8") if path else _shipped_text(kind)
            result = check(kind, path, home, profile)
            source = f"{CONFIG_DIR}/{FILES[kind]}" if path else f"{FILES[kind]} (shipped)"
            previous = read_document(session, validation_name(kind))
            pending_verdict = verdicts.get(kind)
            if pending_verdict is None and previous is not None:
                pending_verdict = previous[1].get("pending")  # still the last verdict shown
            changed = write_document(
                session,
                yaml_name(kind),
                {
                    "text": text,
                    "source": source,
                    "edited": path is not None,
                    "sha256": text_digest(text),
                },
            )
            if changed:
                audit_change(
                    session,
                    yaml_name(kind),
                    {"by": "pipeline publish", "snapshot": snapshot.isoformat()},
                )
            write_document(
                session,
                validation_name(kind),
                {
                    "snapshot": snapshot.isoformat(),
                    "source": source,
                    "errors": result.errors,
                    "warnings": result.warnings,
                    "pending": pending_verdict,
                },
            )
            written += 2
        record_publication(session.connection(), KIND, snapshot, written)
    return written
