"""The audit log's stored codes in the reader's language: what an event was about and the
fields of its detail (stored as JSON for any reader; shown as "field: value" here)."""

from __future__ import annotations

import json
from typing import Any

from weiwan.web.formatting import format_number
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import (
    CAMPAIGN_STATES,
    CHANNELS,
    CONSENT_PURPOSES,
    CONSENT_SOURCES,
    CONSENT_STATES,
    ROLES,
    label,
)

TARGET_TYPES: dict[str, Any] = {
    "anomalies": _l("Anomaly pool"),
    "approval_chain": _l("Approval chain"),
    "branch": _l("Branch"),
    "call_list": _l("Call list"),
    "campaign": _l("Campaign"),
    "config": _l("Settings"),
    "config_document": _l("Settings document"),
    "consent_import": _l("Consent file import"),
    "contact": _l("Contact record"),
    "customer": _l("Customer"),
    "customer_list": _l("Customer list"),
    "customer_lookup": _l("Customer lookup"),
    "customer_lookups": _l("Customer lookups"),
    "data_quality_export_batch": _l("Data-quality export batch"),
    "data_quality_reports": _l("Data-quality reports"),
    "do_not_disturb": _l("Do-not-disturb list"),
    "event": _l("Real-time event"),
    "page": _l("Page"),
    "questionnaire": _l("Questionnaire"),
    "retention": _l("Retention purge"),
    "sms_template": _l("SMS template"),
    "strategy_arm": _l("Strategy arm"),
    "subscriber": _l("Subscriber (pseudonym)"),
    "team": _l("Team"),
    "user": _l("User"),
}
DETAIL_KEYS: dict[str, Any] = {
    "account_source": _l("Account source"),
    "again": _l("Repeated"),
    "applied": _l("Applied version"),
    "archived": _l("Archived"),
    "batch_id": _l("Batch"),
    "branch_id": _l("Branch"),
    "by": _l("By"),
    "changed": _l("Changed"),
    "channel": _l("Channel"),
    "chars": _l("Characters"),
    "cli": _l("Command line"),
    "comment": _l("Comment"),
    "created": _l("Created"),
    "deactivated": _l("Deactivated"),
    "decision": _l("Decision"),
    "discarded": _l("Withdrawn"),
    "edited_by": _l("Edited by"),
    "effective_at": _l("In effect from"),
    "failed_logins": _l("Failed logins"),
    "fields": _l("Fields"),
    "filters": _l("Filters"),
    "format": _l("Format"),
    "found": _l("Found"),
    "from": _l("Previous champion"),
    "gain": _l("Churn reduction against the champion"),
    "gain_high": _l("Upper bound (95 %)"),
    "gain_low": _l("Lower bound (95 %)"),
    "full_numbers": _l("Full numbers shown"),
    "kind": _l("Kind"),
    "kinds": _l("Rows per kind"),
    "level": _l("Level"),
    "lifted": _l("Lifted"),
    "limit": _l("Limit"),
    "locked_until": _l("Locked until"),
    "of": _l("Of"),
    "override": _l("Promoted without significance"),
    "p_value": _l("p-value"),
    "pending": _l("Pending edit"),
    "purpose": _l("Purpose"),
    "questionnaire_id": _l("Questionnaire"),
    "questions": _l("Questions"),
    "reason": _l("Reason"),
    "recorded": _l("Recorded"),
    "reference": _l("Reference"),
    "report_ids": _l("Reports"),
    "role": _l("Role"),
    "roles": _l("Roles"),
    "rows": _l("Rows"),
    "rule": _l("Rule"),
    "sessions_ended": _l("Sessions ended"),
    "sha256": _l("Fingerprint"),
    "snapshot": _l("Data date"),
    "source": _l("Source"),
    "state": _l("Consent or objection"),
    "subscribers": _l("Subscribers"),
    "tables": _l("Tables"),
    "targets": _l("Targets"),
    "unchanged": _l("Unchanged"),
    "updated": _l("Updated"),
    "username": _l("Username"),
    "window_seconds": _l("Window (seconds)"),
    "withheld": _l("Withheld"),
}
#: values that are codes of the vocabulary, by the detail field holding them
#: (a card viewed from the work list is audited with the channel ``workbench``)
_VIEW_CHANNELS: dict[str, Any] = {**CHANNELS, "workbench": _l("Work list")}
#: where an account's password is checked (a directory login's ``account_source``)
ACCOUNT_SOURCES: dict[str, Any] = {"ldap": _l("Directory (LDAP)"), "local": _l("Local account")}
_CODED: dict[str, dict[str, Any]] = {
    "account_source": ACCOUNT_SOURCES,
    "channel": _VIEW_CHANNELS,
    "role": ROLES,
    "roles": ROLES,
    "decision": CAMPAIGN_STATES,  # an approval's decision: approved / rejected
    "purpose": CONSENT_PURPOSES,
    "state": CONSENT_STATES,
    "source": CONSENT_SOURCES,
}
#: who acted when no user did (the ``by`` of the daily run's events)
_ACTORS: dict[str, Any] = {
    "pipeline": _l("Daily run"),
    "pipeline publish": _l("Daily run (publish)"),
}


#: the settings documents (``config_documents.name``: ``<part>:<kind>`` or a name)
DOCUMENT_PARTS: dict[str, Any] = {
    "yaml": _l("text in effect"),
    "pending": _l("pending edit"),
    "validation": _l("validation messages"),
    "labels": _l("labels"),
}
DOCUMENTS: dict[str, Any] = {
    "policies": _l("Policy library"),
    "alerts": _l("Alert rules"),
    "care": _l("Care rules"),
    "anomalies": _l("Anomaly rules"),
    "contact_policy": _l("Contact policy"),
    "decide": _l("Next best action settings"),
    "contact_rules": _l("Contact rules in force"),
    "tags": _l("Tags"),
    "target_groups": _l("Target groups"),
    "library": _l("Library"),
    "questionnaire:return_visit": _l("Return-visit questionnaire"),
    "appraisal:settings": _l("Appraisal settings"),
}


def document_text(name: str) -> str:
    """A settings document's name in words: "Policy library (text in effect)"."""
    part, sep, kind = name.partition(":")
    if name in DOCUMENTS or not sep or part not in DOCUMENT_PARTS:
        return label(DOCUMENTS, name)
    words = {"document": label(DOCUMENTS, kind), "part": label(DOCUMENT_PARTS, part)}
    return _("%(document)s (%(part)s)", **words)


def target_text(target_type: str | None, target_id: str | None) -> str:
    """What an event was about: the kind in words and its id (a settings document by name)."""
    if target_type == "config_document" and target_id:
        return document_text(target_id)
    kind = label(TARGET_TYPES, target_type) if target_type else ""
    return " ".join(filter(None, (kind, target_id))) or "—"


def _value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, int | float):  # ids (batch_id, report_ids…) keep their digits
        return str(value) if key.endswith(("_id", "_ids")) else format_number(value)
    if isinstance(value, list):
        return _(", ").join(_value(key, item) for item in value) or "—"
    if isinstance(value, dict):
        return _("; ").join(f"{_key(k)}={_value(k, v)}" for k, v in value.items()) or "—"
    if value is None:
        return "—"
    if key == "by":
        return label(_ACTORS, str(value))
    if key == "kind":
        return label(DOCUMENTS, str(value))
    return label(_CODED[key], str(value)) if key in _CODED else str(value)


def _key(key: str) -> str:
    return label(DETAIL_KEYS, key)


def detail_text(detail: str | None) -> str:
    """An event's detail as "field: value; …" in the reader's language (unreadable JSON as
    stored)."""
    if not detail:
        return ""
    try:
        parsed = json.loads(detail)
    except ValueError:
        return detail
    if not isinstance(parsed, dict):
        return _value("", parsed)
    return _("; ").join(f"{_key(k)}: {_value(k, v)}" for k, v in parsed.items())
