"""The registry of personal-data places (个人信息存放位置): one declarative list of every
table, in the operational database and in the warehouse, that holds data about a subscriber.

The personal-data report (what is held, where, why, for how long), the erasure of one
subscriber and the retention purge all read this list, so a table added here is reported,
erased and purged alike; ``tests/core/test_personal_data.py`` fails when an ops table with a
``subscriber_id`` or ``msisdn`` column is missing from it. Both sides use it: ``core`` holds it
because ``ops`` and ``analytics`` may not import each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

#: what an erased free text or required personal field becomes
REDACTED = "[erased]"
#: the columns of a warehouse table that always hold personal data, whatever the table
WAREHOUSE_PII_COLUMNS: tuple[str, ...] = ("msisdn", "name", "id_number", "birth_date")

StoreName = Literal["ops", "warehouse"]
#: on erasure: keep the row for the aggregates under the pseudonym, or delete it
OnErase = Literal["pseudonymise", "delete"]
#: on the retention purge: delete the expired rows, or blank their personal fields
OnPurge = Literal["delete", "anonymise"]


@dataclass(frozen=True, slots=True)
class Label:
    """A text in both languages (zh-CN default, English)."""

    zh: str
    en: str


#: why data is held (the purpose of processing, PIPL Art. 17)
PURPOSES: Mapping[str, Label] = MappingProxyType(
    {
        "retention_service": Label(
            "客户维系服务（客户视图、任务分派）", "retention service (customer card, tasks)"
        ),
        "churn_prediction": Label("离网预测与维系决策", "churn prediction and retention decisions"),
        "contact_record": Label(
            "接触与受理记录、效果评估", "contact and acceptance records, evaluation"
        ),
        "contact_preferences": Label(
            "尊重客户的免打扰与授权意愿", "honouring do-not-disturb and consent wishes"
        ),
        "sms_delivery": Label("短信发送与回执", "sending SMS and their receipts"),
        "real_time_events": Label("实时事件触发的维系", "retention triggered by real-time events"),
        "service_quality": Label(
            "服务质量（投诉、满意度、质检、数据纠错）",
            "service quality (complaints, surveys, inspections, data corrections)",
        ),
        "accountability": Label("审计与问责", "audit and accountability"),
        "operations": Label("系统运行（并发控制）", "running the system (concurrency control)"),
    }
)


@dataclass(frozen=True, slots=True)
class Via:
    """A child table reached through its parent: ``column`` references ``parent``'s ``key``."""

    column: str
    parent: str
    key: str = "id"


@dataclass(frozen=True, slots=True)
class Place:
    """One table holding data about a subscriber.

    ``subscriber_column`` names the subscriber (``None`` for a child table reached ``via`` its
    parent); ``erase`` gives each personal field the value it takes on erasure (``None``:
    NULL); ``kind`` is the retention kind (``retention.yaml``) and ``time_column`` the time the
    purge compares with its period (``None``: not purged by age).
    """

    store: StoreName
    table: str
    kind: str
    purpose: str
    subscriber_column: str | None = "subscriber_id"
    via: Via | None = None
    erase: Mapping[str, str | None] = field(default_factory=dict)
    on_erase: OnErase = "pseudonymise"
    time_column: str | None = None
    on_purge: OnPurge = "delete"
    #: the fields the purge blanks (``on_purge = "anonymise"``): default ``erase``
    purge_fields: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        """The personal fields held (the subscriber's id first, when the row names it)."""
        own = (self.subscriber_column,) if self.subscriber_column else ()
        return (*own, *self.erase)


def _ops(table: str, kind: str, purpose: str, **kw: object) -> Place:
    return Place("ops", table, kind, purpose, **kw)  # type: ignore[arg-type]


def _wh(table: str, kind: str, purpose: str, **kw: object) -> Place:
    return Place("warehouse", table, kind, purpose, **kw)  # type: ignore[arg-type]


_CONTACT = Via("contact_id", "contacts")
#: every place in the operational database (children after their parents)
OPS_PLACES: tuple[Place, ...] = (
    # the card is deleted (no card, no scoring of a person who is gone); its fields:
    _ops(
        "customer_view",
        "customer_profile",
        "retention_service",
        erase={"msisdn": None, "name": None, "id_number": None, "customer_id": None},
        on_erase="delete",
    ),
    _ops("customer_assignments", "customer_profile", "retention_service", on_erase="delete"),
    _ops("decisions", "decisions", "churn_prediction", time_column="snapshot_date"),
    _ops("online_grants", "decisions", "churn_prediction", time_column="granted_on"),
    _ops("campaign_members", "decisions", "churn_prediction"),
    _ops("tasks", "contacts", "retention_service"),
    _ops(
        "task_transfers",
        "contacts",
        "retention_service",
        subscriber_column=None,
        via=Via("task_id", "tasks"),
        erase={"reason": None},
    ),
    _ops(
        "contacts",
        "contacts",
        "contact_record",
        erase={"note": None},
        time_column="at",
        on_purge="anonymise",
    ),
    _ops(
        "contact_outcomes",
        "contacts",
        "contact_record",
        subscriber_column=None,
        via=_CONTACT,
        erase={"refusal_reason": None},
    ),
    _ops(
        "quality_inspections",
        "contacts",
        "service_quality",
        subscriber_column=None,
        via=_CONTACT,
        erase={"comments": None, "recording_ref": None},
    ),
    _ops("acceptances", "contacts", "contact_record"),
    _ops("subscriber_locks", "customer_profile", "operations", on_erase="delete"),
    _ops("do_not_disturb", "preferences", "contact_preferences", erase={"reason": None}),
    _ops("consent_events", "preferences", "contact_preferences", erase={"reference": None}),
    _ops("consents", "preferences", "contact_preferences"),
    _ops(
        "sms_messages",
        "sms_bodies",
        "sms_delivery",
        erase={"msisdn": "", "body": REDACTED},
        time_column="created_at",
        on_purge="anonymise",
    ),
    _ops(
        "sms_replies",
        "sms_bodies",
        "sms_delivery",
        erase={"msisdn": None, "text": REDACTED},
        time_column="received_at",
        on_purge="anonymise",
    ),
    _ops(
        "events",
        "events",
        "real_time_events",
        erase={"msisdn": None, "attributes": "{}"},
        time_column="received_at",
        on_purge="anonymise",
    ),
    _ops("event_follow_ups", "events", "real_time_events", time_column="created_at"),
    _ops("survey_responses", "surveys", "service_quality"),
    _ops(
        "survey_answers",
        "surveys",
        "service_quality",
        subscriber_column=None,
        via=Via("response_id", "survey_responses"),
        erase={"text": None},
    ),
    _ops("dissatisfied_customers", "surveys", "service_quality", time_column="survey_time"),
    _ops("published_complaints", "complaints", "service_quality", time_column="at"),
    _ops(
        "anomalies",
        "anomalies",
        "retention_service",
        erase={"note": None},
        time_column="detected_on",
        on_purge="anonymise",
    ),
    _ops(
        "anomaly_changes",
        "anomalies",
        "retention_service",
        subscriber_column=None,
        via=Via("anomaly_id", "anomalies"),
        erase={"note": None},
    ),
    _ops(
        "data_quality_reports",
        "data_quality",
        "service_quality",
        erase={"data_value": None, "reported_value": REDACTED, "note": None, "review_note": None},
        time_column="reported_at",
        on_purge="anonymise",
    ),
    # the audit trail: the event stays, the person in it is pseudonymised (target_id and the
    # subscriber's id and number inside ``detail``)
    _ops(
        "audit_events", "audit", "accountability", subscriber_column="target_id", time_column="at"
    ),
)

#: the warehouse's contract tables (the operator's deliveries); derived tables with a
#: ``subscriber_id`` column are erased too (found by their column, see analytics.privacy)
WAREHOUSE_PLACES: tuple[Place, ...] = (
    # deleted on erasure: no profile, no score, no card for a person who is gone
    _wh(
        "subscribers",
        "customer_profile",
        "churn_prediction",
        erase={"msisdn": None, "name": None, "id_number": None, "birth_date": None},
        on_erase="delete",
    ),
    _wh("monthly_usage", "raw_usage", "churn_prediction", time_column="bill_month"),
    _wh("status_events", "events", "churn_prediction", time_column="event_time"),
    _wh("complaints", "complaints", "service_quality", time_column="complaint_time"),
    _wh("surveys", "surveys", "service_quality", time_column="survey_time"),
    _wh("churn_records", "churn_history", "churn_prediction"),
    _wh("retention_contacts", "contacts", "contact_record", time_column="contact_date"),
    # the delivered values ingest rejected (any column: a number, a name), with the row's
    # subscriber: deleted on erasure, purged with the data corrections
    _wh(
        "quarantine",
        "data_quality",
        "service_quality",
        erase={"value": None},
        on_erase="delete",
        time_column="_snapshot",
    ),
)

PLACES: tuple[Place, ...] = (*OPS_PLACES, *WAREHOUSE_PLACES)


def place(store: StoreName, table: str) -> Place:
    """The registered place ``table`` of ``store`` (KeyError when not registered)."""
    for p in PLACES:
        if p.store == store and p.table == table:
            return p
    raise KeyError(f"{store}.{table} is not a registered personal-data place")


def digest(salt: str, subscriber_id: str) -> str:
    """The salted SHA-256 of a subscriber id (hex): how an erased subscriber is recognised
    without keeping the id; DuckDB computes the same as ``sha256(salt || subscriber_id)``."""
    return hashlib.sha256(f"{salt}{subscriber_id}".encode()).hexdigest()


def pseudonym_of(salt: str, subscriber_id: str) -> str:
    """The stable pseudonym that replaces an erased subscriber's id (20 characters, fits every
    ``subscriber_id`` column): the same subscriber always gets the same one."""
    return "E" + digest(salt, subscriber_id)[:19]
