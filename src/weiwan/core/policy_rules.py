"""The retention policy library as data (维系政策库), shared by the nightly run and the editors:
a policy entry's fields and the checks it passes on its own, the value caps, and the library's
checks that need no warehouse (duplicate ids, unknown target groups and exclusions, a policy
more generous than an approved one for the same group).

``analytics.policy_models`` adds what needs the profile (the target as an Ibis expression, the
value cap per subscriber); ``analytics.policies`` adds the checks against the profile. The
operational side (``ops.org.config``) checks an edit with these same rules when it is saved.

Every refusal carries a stable ``code`` and its figures (``params``) beside its English text,
so a page can say it in the reader's language.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from weiwan.core.contact_rules import CHANNELS
from weiwan.core.filters import FilterError, TargetFilter
from weiwan.core.months import OPEN_END, add_months

#: what a policy offers (the data contract's offer types)
OFFER_TYPES = ("discount", "bonus_data", "device_subsidy", "prepay_and_get", "care_call")
#: the tiers value caps are set for
VALUE_TIERS = ("diamond", "gold", "silver", "ordinary", "mass")
Approval = Literal["draft", "submitted", "approved", "rejected", "retired"]
APPROVALS: tuple[str, ...] = Approval.__args__  # type: ignore[attr-defined]
CostKind = Literal["one_off", "monthly", "device_subsidy"]
COST_KINDS: tuple[str, ...] = CostKind.__args__  # type: ignore[attr-defined]
_ID = r"^[a-z][a-z0-9_]*$"
_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)
EPSILON = 1e-9
#: ``valid_to: open``: the policy has no end (it carries a ``review_by`` date instead)
OPEN = "open"


def refusal(code: str, message: str, **params: Any) -> PydanticCustomError:
    """A refusal with its stable ``code`` (the page's key to say it in the reader's language)
    and its figures; ``message`` is the English text (no braces: it is not a template)."""
    return PydanticCustomError(code, message.replace("{", "(").replace("}", ")"), params)


#: friendlier messages for the fields every policy must have (the library's refusal rules)
REQUIRED = {
    "valid_from": "refused: no validity period (有效期): set valid_from and valid_to",
    "valid_to": "refused: no validity period (有效期): set valid_from and valid_to "
    "(a date, or `open` with a review_by date)",
    "min_spend": "refused: no minimum spend (最低消费): set min_spend in yuan per month",
    "limit": "refused: no entry limit (参与次数限制): set limit {times, per_months}",
    "channels": "refused: no channels: list at least one of " + ", ".join(CHANNELS),
    "cost": "refused: no cost: set cost {kind, amount[, months]}",
}


def _iso_date(value: Any) -> Any:
    """YAML gives dates; JSON and quoted YAML give ISO strings. Anything else fails later."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


class EntryLimit(BaseModel):
    """At most ``times`` grants per subscriber within any ``per_months`` months (参与次数)."""

    model_config = _STRICT
    times: int = Field(ge=1)
    per_months: int = Field(ge=1, le=120)


class Cost(BaseModel):
    """What a grant costs the operator: one-off, ``amount`` per month for ``months``, or a
    device subsidy (one-off)."""

    model_config = _STRICT
    kind: CostKind
    amount: float = Field(ge=0)
    months: int | None = Field(default=None, ge=1, le=60)

    @model_validator(mode="after")
    def _months_for_monthly(self) -> Cost:
        if self.kind == "monthly" and self.months is None:
            raise refusal(
                "cost_months_needed", "a monthly cost needs months (how many months it is paid)"
            )
        if self.kind != "monthly" and self.months is not None:
            raise refusal(
                "cost_months_not_monthly",
                f"months applies to monthly costs only, not {self.kind}",
                kind=self.kind,
            )
        return self

    def total(self) -> float:
        """Yuan per grant: ``amount`` × ``months`` for monthly costs, else ``amount``."""
        return self.amount * (self.months or 1) if self.kind == "monthly" else self.amount


class Budget(BaseModel):
    """Grants allowed per validity period, or per ``per_months`` months up to the day when
    given: a count and/or money in yuan (omitted: unlimited)."""

    model_config = _STRICT
    count: int | None = Field(default=None, ge=0)
    money: float | None = Field(default=None, ge=0)
    per_months: int | None = Field(default=None, ge=1, le=60)

    def limited(self) -> bool:
        """A count or a money limit is set."""
        return self.count is not None or self.money is not None


class PolicyRule(BaseModel):
    """One retention policy (维系政策) as data: every field and the checks each entry passes on
    its own. See ``docs/policies.md`` for every field."""

    model_config = _STRICT
    id: str = Field(pattern=_ID)
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    description: str = ""
    offer_type: str
    target_group: str | None = Field(default=None, pattern=_ID)
    target: TargetFilter | None = Field(default=None, validate_default=True)
    valid_from: dt.date
    #: None: open-ended (``valid_to: open`` in the file)
    valid_to: dt.date | None
    #: when someone should look at the policy again; passing it only warns
    review_by: dt.date | None = None
    min_spend: float = Field(ge=0)
    limit: EntryLimit
    cost: Cost
    benefit_value: float | None = Field(default=None, ge=0)
    prepay: float | None = Field(default=None, gt=0)
    commitment_months: int = Field(default=12, ge=1, le=60)
    budget: Budget = Budget()
    exclusive_with: tuple[str, ...] = Field(default=(), strict=False)
    channels: tuple[str, ...] = Field(strict=False)
    script_zh: str = ""
    script_en: str = ""
    approval: Approval = "draft"

    @field_validator("offer_type")
    @classmethod
    def _known_offer_type(cls, value: str) -> str:
        if value not in OFFER_TYPES:
            raise refusal(
                "offer_type_unknown",
                f"{value!r} is not an offer type; use one of {', '.join(OFFER_TYPES)}",
                value=value,
            )
        return value

    @field_validator("target", mode="before")
    @classmethod
    def _parse_target(cls, raw: Any, info: ValidationInfo) -> TargetFilter | None:
        has_group = info.data.get("target_group") is not None
        if raw is None:
            if "target_group" in info.data and not has_group:
                raise refusal(
                    "target_missing",
                    "refused: no target group (目标客户群): set target_group (a saved group id) "
                    "or target (a filter)",
                )
            return None
        if has_group:
            raise refusal("target_both", "give target_group or target, not both")
        try:
            return TargetFilter.parse(raw)
        except FilterError as exc:
            raise refusal("target_invalid", str(exc), path=exc.path or "") from exc

    @field_validator("valid_from", "review_by", mode="before")
    @classmethod
    def _parse_date(cls, raw: Any) -> Any:
        return _iso_date(raw)

    @field_validator("valid_to", mode="before")
    @classmethod
    def _parse_end(cls, raw: Any) -> Any:
        if raw is None:
            raise refusal("missing", REQUIRED["valid_to"])
        return None if raw == OPEN else _iso_date(raw)

    @field_validator("valid_to", "review_by")
    @classmethod
    def _after_start(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("valid_from")
        if start is not None and value is not None and value < start:
            raise refusal(
                "date_before_start",
                f"refused: {info.field_name} {value} is before valid_from {start}",
                value=value.isoformat(),
                start=start.isoformat(),
            )
        return value

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise refusal("missing", REQUIRED["channels"])
        unknown = [c for c in value if c not in CHANNELS]
        if unknown:
            raise refusal(
                "channels_unknown",
                f"unknown channels {unknown}; use {', '.join(CHANNELS)}",
                values=", ".join(unknown),
            )
        if len(set(value)) != len(value):
            raise refusal("listed_twice", "a channel is listed twice")
        return value

    @field_validator("exclusive_with")
    @classmethod
    def _distinct_exclusions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise refusal("listed_twice", "a policy id is listed twice")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PolicyRule:
        if self.id in self.exclusive_with:
            raise refusal("exclusion_self", "exclusive_with: a policy cannot exclude itself")
        if self.min_spend <= 0 and self.total_cost() > 0:
            raise refusal(
                "min_spend_needed",
                "min_spend: refused: a policy that costs money needs a minimum spend above 0",
            )
        if self.valid_to is None and self.review_by is None:
            raise refusal(
                "review_by_needed",
                "review_by: refused: an open-ended policy (valid_to: open) needs a review_by "
                "date (passing it only warns)",
            )
        if self.valid_to is None and self.budget.limited() and self.budget.per_months is None:
            raise refusal(
                "budget_period_needed",
                "budget: refused: an open-ended policy's budget needs per_months (else it "
                "would be one budget for all time)",
            )
        return self

    def total_cost(self) -> float:
        """Yuan the operator spends per grant."""
        return self.cost.total()

    def benefit(self) -> float:
        """Yuan the customer receives per grant (``benefit_value``, else the total cost)."""
        return self.total_cost() if self.benefit_value is None else self.benefit_value

    def commitment(self) -> float:
        """Yuan the customer commits: the prepayment, else min_spend × commitment_months."""
        return self.prepay if self.prepay is not None else self.min_spend * self.commitment_months

    def generosity(self) -> float:
        """Benefit per yuan committed: ``benefit / max(commitment, 1)``."""
        return self.benefit() / max(self.commitment(), 1.0)

    @property
    def valid_until(self) -> dt.date:
        """The last valid day (:data:`OPEN_END` for an open-ended policy)."""
        return OPEN_END if self.valid_to is None else self.valid_to

    def is_valid_on(self, day: dt.date) -> bool:
        """``day`` is within the validity period (both ends included)."""
        return self.valid_from <= day <= self.valid_until

    def budget_window(self, day: dt.date | None) -> tuple[dt.date, dt.date]:
        """First and last day whose grants count against the budget: the validity period, or
        the ``budget.per_months`` months up to ``day`` within it (the daily decisions and the
        real-time ledger count alike)."""
        start, end = self.valid_from, self.valid_until
        months = self.budget.per_months
        if months is not None and day is not None:
            start = max(start, add_months(day, -months) + dt.timedelta(days=1))
            end = min(end, day)
        return start, end

    def blocked_by_grants(
        self,
        grants: Sequence[tuple[str, dt.date]],
        day: dt.date,
        library: Mapping[str, PolicyRule],
    ) -> bool:
        """Whether one subscriber's earlier ``grants`` ((policy id, day) pairs) bar this policy
        on ``day``: its entry limit is used up, or an exclusive policy was granted within the
        longer of the two entry-limit windows — one subscriber's form of the daily run's
        ``analytics.policies`` check."""
        since = add_months(day, -self.limit.per_months)
        own = sum(1 for policy, when in grants if policy == self.id and since < when <= day)
        if own >= self.limit.times:
            return True
        for policy, when in grants:
            other = library.get(policy)
            excludes = policy in self.exclusive_with or (
                other is not None and self.id in other.exclusive_with
            )
            if not excludes or policy == self.id:
                continue
            months = max(self.limit.per_months, other.limit.per_months if other else 0)
            if add_months(day, -months) < when <= day:
                return True
        return False

    def review_overdue(self, day: dt.date) -> bool:
        """``day`` is after the policy's ``review_by`` date (a warning, never a refusal)."""
        return self.review_by is not None and day > self.review_by

    def is_active(self, day: dt.date) -> bool:
        """Approved and valid on ``day``: the policy may be offered."""
        return self.approval == "approved" and self.is_valid_on(day)

    def overlaps_in_time(self, other: PolicyRule) -> bool:
        """The two validity periods share at least one day."""
        return self.valid_from <= other.valid_until and other.valid_from <= self.valid_until

    def resolve_target(self, groups: Mapping[str, Any]) -> TargetFilter:
        """The target filter (the saved group's ``filter`` for ``target_group``)."""
        if self.target is not None:
            return self.target
        assert self.target_group is not None
        if self.target_group not in groups:
            raise FilterError(f"unknown target group {self.target_group!r}")
        chosen: TargetFilter = groups[self.target_group].filter
        return chosen


class ValueCapsRule(BaseModel):
    """Maximum retention spend per subscriber per ``per_months`` months by value tier, and
    optionally as a share of the subscriber's expected future value (CLV)."""

    model_config = _STRICT
    per_months: int = Field(default=12, ge=1, le=60)
    tiers: dict[str, float]
    unknown_tier: float | None = Field(default=None, ge=0)
    clv_share: float | None = Field(default=None, gt=0, le=1)

    @field_validator("tiers")
    @classmethod
    def _all_tiers(cls, value: dict[str, float]) -> dict[str, float]:
        missing = [t for t in VALUE_TIERS if t not in value]
        unknown = [t for t in value if t not in VALUE_TIERS]
        if missing or unknown:
            raise refusal(
                "tiers_incomplete",
                f"expected a cap for each of {', '.join(VALUE_TIERS)}"
                + (f"; missing {missing}" if missing else "")
                + (f"; unknown {unknown}" if unknown else ""),
            )
        negative = [t for t, v in value.items() if v < 0]
        if negative:
            raise refusal("caps_negative", f"caps must be 0 or more: {negative}")
        return value

    def fallback(self) -> float:
        """Cap for a subscriber with no (or an unknown) tier: ``unknown_tier``, else the lowest."""
        return self.unknown_tier if self.unknown_tier is not None else min(self.tiers.values())

    def cap_for(self, value_tier: str | None, future_value: float | None) -> float:
        """Yuan one subscriber may receive per window: the tier's cap, or ``clv_share`` ×
        future value when smaller (no future value: the tier's cap) — one subscriber's form of
        the daily run's ``cap_expression``."""
        cap = self.tiers.get(value_tier or "", self.fallback())
        if self.clv_share is None or future_value is None:
            return float(cap)
        return float(min(cap, max(future_value, 0.0) * self.clv_share))


# ----------------------------------------------------------------------------- the library


@dataclass(frozen=True)
class PolicyIssue:
    """One refusal or warning: the file, the policy, the field and what is wrong (English),
    with its stable ``code`` and figures (``params``) for the reader's language."""

    source: str
    policy_id: str
    field: str
    message: str
    overlap: int | None = None  # subscribers in both targets (generosity warnings)
    code: str = ""
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.source}: policy {self.policy_id}: {self.field}: {self.message}"


def entry_issues(exc: ValidationError) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(field, message, code, params) for each error of a policy entry, with the refusal
    wording for missing fields; a model-level check names its field first ("field: …")."""
    out: list[tuple[str, str, str, dict[str, Any]]] = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        code = str(err["type"])
        params = {k: v for k, v in (err.get("ctx") or {}).items() if k != "error"}
        if code == "missing" and loc in REQUIRED:
            message = REQUIRED[loc]
        if not loc and ": " in message:
            loc, message = message.split(": ", 1)
        out.append((loc or "(policy)", message, code, params))
    return out


P = TypeVar("P", bound=PolicyRule)


@dataclass
class CheckedEntries:
    """The library's entries checked as data: refusals, the policies that passed, and every
    entry's id in file order (a refused entry by ``#n``)."""

    errors: list[PolicyIssue]
    valid: list[Any]
    ids: list[str]


M = TypeVar("M", bound=BaseModel)


def validate_each(
    entries: Sequence[Any], model: type[M], *, source: str, what: str
) -> tuple[list[PolicyIssue], list[M], list[str]]:
    """Each entry of a rule document (a mapping, or an already parsed ``model``) validated on
    its own: (problems by entry id — ``#n`` without one — and field, the entries that passed,
    every entry's id in order). ``what`` names an entry that is not a mapping."""
    problems: list[PolicyIssue] = []
    parsed: list[M] = []
    ids: list[str] = []
    for i, entry in enumerate(entries):
        if isinstance(entry, model):
            ids.append(str(getattr(entry, "id", f"#{i + 1}")))
            parsed.append(entry)
            continue
        name = entry.get("id") if isinstance(entry, Mapping) else None
        name = name if isinstance(name, str) and name else f"#{i + 1}"
        ids.append(name)
        if not isinstance(entry, Mapping):
            message = "expected a mapping of fields"
            problems.append(PolicyIssue(source, name, what, message, code="shape"))
            continue
        try:
            parsed.append(model.model_validate(dict(entry)))
        except ValidationError as exc:
            problems += [
                PolicyIssue(source, name, f, m, code=c, params=p)
                for f, m, c, p in entry_issues(exc)
            ]
    return problems, parsed, ids


def duplicate_issues(ids: list[str], *, source: str, what: str) -> list[PolicyIssue]:
    """A refusal for each id listed more than once (``what``: the kind of entry, in English)."""
    issues = []
    for name in sorted({n for n in ids if ids.count(n) > 1}):
        times = ids.count(name)
        message = f"duplicate {what} id (listed {times}×)"
        issues.append(
            PolicyIssue(source, name, "id", message, code="duplicate_id", params={"times": times})
        )
    return issues


def check_entries(
    entries: Sequence[Any],
    group_ids: set[str] | None,
    *,
    source: str = "(policies)",
    model: type[P] = PolicyRule,  # type: ignore[assignment]
) -> CheckedEntries:
    """Check raw entries (mappings, as in the YAML file) or parsed policies: each entry on its
    own, then across the library: duplicate ids, unknown ``exclusive_with`` ids and, when
    ``group_ids`` is known, unknown target groups. ``model``: the class entries parse into."""
    errors, parsed, ids = validate_each(entries, model, source=source, what="(policy)")
    known = set(ids)
    valid: list[Any] = []
    for policy in parsed:
        problems = library_problems(policy, ids, known, group_ids)
        errors.extend(
            PolicyIssue(source, policy.id, f, m, code=c, params=p) for f, m, c, p in problems
        )
        if not problems:
            valid.append(policy)
    return CheckedEntries(errors, valid, ids)


def library_problems(
    policy: PolicyRule, ids: list[str], known: set[str], group_ids: set[str] | None
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """What is wrong with ``policy`` among the library's ``ids``: (field, message, code,
    params)."""
    problems: list[tuple[str, str, str, dict[str, Any]]] = []
    if ids.count(policy.id) > 1:
        times = ids.count(policy.id)
        problems.append(
            ("id", f"refused: duplicate id (listed {times}×)", "duplicate_id", {"times": times})
        )
    if (
        group_ids is not None
        and policy.target_group is not None
        and policy.target_group not in group_ids
    ):
        problems.append(
            (
                "target_group",
                f"unknown target group {policy.target_group!r}; known: "
                f"{', '.join(sorted(group_ids)) or '(none)'}",
                "unknown_target_group",
                {"value": policy.target_group},
            )
        )
    unknown = [p for p in policy.exclusive_with if p not in known]
    if unknown:
        problems.append(
            (
                "exclusive_with",
                f"unknown policy ids {unknown}",
                "unknown_policies",
                {"values": ", ".join(unknown)},
            )
        )
    return problems


#: whether two policies' targets overlap: (overlap, subscribers in both or None, how decided)
Overlap = Callable[[PolicyRule, PolicyRule], tuple[bool, int | None, str]]


def same_target(a: PolicyRule, b: PolicyRule) -> tuple[bool, int | None, str]:
    """Overlap without the profile: the same target group id, or an identical filter."""
    if a.target_group is not None and a.target_group == b.target_group:
        return True, None, f"the same target group {a.target_group}"
    if a.target is not None and a.target == b.target:
        return True, None, "an identical target"
    return False, None, ""


def generosity_warnings(
    policies: Sequence[PolicyRule], overlap: Overlap = same_target, source: str = "(policies)"
) -> list[PolicyIssue]:
    """A warning for each policy more generous (benefit per yuan committed) than an approved
    policy of the same offer type whose validity and target overlap: it invites customers to
    switch to it, or to leave and rejoin to get it."""
    warnings: list[PolicyIssue] = []
    for policy in policies:
        if policy.approval in ("rejected", "retired"):
            continue
        for other in policies:
            if (
                other is policy
                or other.id == policy.id
                or other.approval != "approved"
                or other.offer_type != policy.offer_type
                or not policy.overlaps_in_time(other)
                or policy.generosity() <= other.generosity() + EPSILON
            ):
                continue
            overlaps, count, how = overlap(policy, other)
            if not overlaps:
                continue
            warnings.append(
                PolicyIssue(
                    source,
                    policy.id,
                    "benefit_value",
                    f"more generous than approved policy {other.id} "
                    f"({policy.generosity():.2f} vs {other.generosity():.2f} yuan of benefit per "
                    f"yuan committed) for an overlapping group ({how}): it invites customers to "
                    "switch to it, or to leave and rejoin to get it",
                    count,
                    code="more_generous",
                    params={"other": other.id},
                )
            )
    return warnings
