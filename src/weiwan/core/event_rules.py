"""Event rules (实时预警规则): the alert rules with ``trigger: event``, fired by one event as it
arrives instead of by the daily run.

They live in the alert rules' YAML (``alerts.yaml``) beside the daily ones; the daily run skips
them, the operational side reads them from the document in effect and evaluates each event with
them. In core because both sides need their shape (the daily run validates the document; the
operational side evaluates events).

A rule: ``id``, names, ``event_type``, ``severity``, an optional ``condition`` in the target
filter language over the event (``event.<attribute>``, ``event.type``) and the customer's
published view (``value_tier``, ``risk_band``, ``churn_probability``, ``plan_id`` …, tags as
``{tag: …}``), the share ``holdout`` held out (so real-time triggers are measured too), and the
SLA per value tier — which staffed channel acts and within how many minutes — and the churn
risk the event implies (``event_risk``) and the leaving reason it reveals (``event_reason``),
with which the offer the contact carries is valued (``ops.events.offers``)::

    - id: port_out_code
      trigger: event
      event_type: port_out_code_request
      name_zh: 携号转网授权码申请
      name_en: Port-out code requested
      severity: critical
      event_risk: 0.6            # the churn risk the event implies (offer valuation)
      event_reason: competitor_offer  # why the customer would leave, as the event shows it
      sla:
        diamond: {action: account_manager_call, within_minutes: 120}
        gold: {action: account_manager_call, within_minutes: 120}
        default: {action: sms, within_minutes: 5, template: 实时挽留}
      follow_up:                 # ended by an acceptance in any channel, or the port-out
        - {after_hours: 24, action: outbound_call, within_minutes: 240}

The condition is evaluated here, in Python, over one customer's values: the same two-valued
semantics as the warehouse's and the SQL compilers of the language (a missing or NULL field
never matches, so ``not`` is the exact complement); written by hand because it is our language
and one event needs no query engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from weiwan.core.decide_rules import CHURN_REASONS
from weiwan.core.event_contract import EventType
from weiwan.core.filters import (
    AllOf,
    AnyOf,
    FieldCondition,
    Node,
    NotOf,
    TagCondition,
    TargetFilter,
    parse_date,
)
from weiwan.core.stable_draw import draw, holdout_bound

_STRICT = ConfigDict(extra="forbid", frozen=True)
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
#: the channels an event rule may act through: a person within the SLA, or an SMS at once
ACTIONS = ("account_manager_call", "outbound_call", "store", "hotline", "sms")


class SlaStep(BaseModel):
    """Who acts and within how many minutes of the event; an SMS names its template (by name;
    it may use the free variable ``offer``, the offer's name) and goes at once, or when the
    SMS quiet hours end."""

    model_config = _STRICT
    action: Literal["account_manager_call", "outbound_call", "store", "hotline", "sms"]
    within_minutes: int = Field(ge=1, le=7 * 24 * 60)
    template: str | None = Field(None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _template_for_sms(self) -> SlaStep:
        if (self.action == "sms") != (self.template is not None):
            raise ValueError("an sms action names its template, and only an sms action does")
        return self


class FollowUp(BaseModel):
    """A later step of a rule's sequence (跟进): ``after_hours`` after the event, unless the
    customer has accepted an offer in any channel since (the sequence ends, accepted) or left
    (published status disconnected or ported out: it ends, lost). Its contact goes through
    the contact policy and the capacity like the first; it carries the event's offer."""

    model_config = _STRICT
    after_hours: float = Field(gt=0, le=30 * 24)
    action: Literal["account_manager_call", "outbound_call", "store", "hotline", "sms"]
    within_minutes: int = Field(240, ge=1, le=7 * 24 * 60)
    template: str | None = Field(None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _template_for_sms(self) -> FollowUp:
        if (self.action == "sms") != (self.template is not None):
            raise ValueError("an sms action names its template, and only an sms action does")
        return self

    def step(self) -> SlaStep:
        """The step as an SLA step (its action, deadline and template)."""
        return SlaStep(
            action=self.action, within_minutes=self.within_minutes, template=self.template
        )


class EventRule(BaseModel):
    """One event rule (see the module doc)."""

    model_config = _STRICT
    id: str = Field(min_length=1, max_length=48, pattern=r"^[a-z0-9][a-z0-9_]*$")
    trigger: Literal["event"]
    event_type: EventType
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field(min_length=1, max_length=96)
    kind: Literal["alert"] = "alert"
    severity: Literal["critical", "high", "medium", "low"] = "high"
    condition: TargetFilter | None = None
    holdout: float = Field(0.1, ge=0.0, le=0.5)
    sla: dict[str, SlaStep]
    #: the monthly churn probability the event implies: an offer is valued at the larger of
    #: this and the customer's published score (omitted: the score alone)
    event_risk: float | None = Field(None, gt=0.0, le=1.0)
    #: the leaving reason the event reveals (a reason code of the data contract): the offer is
    #: matched to its driver first and to the customer's own reasons after (omitted: the
    #: customer's reasons, or leaving-reason mix, alone)
    event_reason: str | None = None
    #: whether the contact carries an offer chosen at once by expected value (false: the
    #: contact only, the person offers from the customer's eligible policies)
    offer: bool = True
    #: later steps, each ``after_hours`` after the event (increasing), ended by acceptance
    follow_up: tuple[FollowUp, ...] = Field((), max_length=5)
    enabled: bool = True
    description_zh: str = ""
    description_en: str = ""

    @field_validator("condition", mode="before")
    @classmethod
    def _parse_condition(cls, value: Any) -> Any:
        return None if value is None else TargetFilter.parse(value)

    @field_validator("event_reason")
    @classmethod
    def _known_reason(cls, value: str | None) -> str | None:
        if value is not None and value not in CHURN_REASONS:
            raise ValueError(f"event_reason is one of {', '.join(CHURN_REASONS)}, not {value!r}")
        return value

    @field_validator("sla")
    @classmethod
    def _has_default(cls, value: dict[str, SlaStep]) -> dict[str, SlaStep]:
        if "default" not in value:
            raise ValueError("give the SLA of the 'default' value tier")
        return value

    @field_validator("follow_up")
    @classmethod
    def _in_order(cls, value: tuple[FollowUp, ...]) -> tuple[FollowUp, ...]:
        hours = [f.after_hours for f in value]
        if hours != sorted(set(hours)):
            raise ValueError("follow-up steps come in order of after_hours, each later")
        return value

    def step_for(self, value_tier: str | None) -> SlaStep:
        """The SLA of a customer's value tier (else the default)."""
        return self.sla.get(value_tier or "", self.sla["default"])

    def matches(self, values: Mapping[str, Any], tags: Sequence[str] = ()) -> bool:
        """Whether the condition holds for these values (no condition: always)."""
        return self.condition is None or _holds(self.condition.root, values, set(tags))

    def holds_out(self, subscriber_id: str) -> bool:
        """Whether the subscriber is in this rule's hold-out: the daily decisions' stable draw
        (first 8 hex digits of md5("event:<rule id>:<subscriber>") below ``holdout`` × 16⁸),
        the same customers whatever the day."""
        if self.holdout <= 0:
            return False
        return draw(f"event:{self.id}", subscriber_id) < holdout_bound(self.holdout)


def event_rules_of(document: Any) -> tuple[list[EventRule], list[str]]:
    """The event rules of an alert rules document (parsed YAML: ``{"rules": [...]}``) and the
    problems of those refused ("rule id: field: problem"); daily rules are left alone."""
    rules: list[EventRule] = []
    problems: list[str] = []
    items = document.get("rules") if isinstance(document, dict) else None
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or item.get("trigger") != "event":
            continue
        try:
            rules.append(EventRule.model_validate(item))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"]) or "(rule)"
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{item.get('id', '(no id)')}: {where}: {message}")
    return rules, problems


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _comparable(left: Any, right: Any) -> tuple[Any, Any] | None:
    """The two values in one comparable kind (numbers, dates, text), or None."""
    if isinstance(left, bool) or isinstance(right, bool):
        return (left, right) if isinstance(left, bool) and isinstance(right, bool) else None
    a, b = _number(left), _number(right)
    if a is not None and b is not None and not isinstance(left, str | dt.date):
        return a, b
    if isinstance(left, dt.date) or isinstance(right, dt.date):
        da, db = parse_date(left), parse_date(right)
        return (da, db) if da is not None and db is not None else None
    return str(left), str(right)


def _compare(value: Any, op: str, target: Any) -> bool:
    pair = _comparable(value, target)
    if pair is None:
        return False
    a, b = pair
    try:
        return bool(
            {
                "=": lambda: a == b,
                "!=": lambda: a != b,
                ">": lambda: a > b,
                ">=": lambda: a >= b,
                "<": lambda: a < b,
                "<=": lambda: a <= b,
            }[op]()
        )
    except TypeError:
        return False


def _leaf(node: FieldCondition, values: Mapping[str, Any]) -> bool:
    value = values.get(node.field)
    if node.op == "is_null":
        return value is None
    if node.op == "not_null":
        return value is not None
    if value is None:
        return False  # two-valued: NULL never matches
    target = node.value
    if node.op in ("in", "not_in"):
        options = target if isinstance(target, list) else [target]
        found = any(_compare(value, "=", option) for option in options)
        return found if node.op == "in" else not found
    if node.op == "between":
        if not isinstance(target, list) or len(target) != 2:
            return False
        return _compare(value, ">=", target[0]) and _compare(value, "<=", target[1])
    return _compare(value, node.op, target)


def _holds(node: Node, values: Mapping[str, Any], tags: set[str]) -> bool:
    if isinstance(node, AllOf):
        return all(_holds(child, values, tags) for child in node.all)
    if isinstance(node, AnyOf):
        return any(_holds(child, values, tags) for child in node.any)
    if isinstance(node, NotOf):
        return not _holds(node.not_, values, tags)
    if isinstance(node, TagCondition):
        return node.tag in tags
    return _leaf(node, values)
