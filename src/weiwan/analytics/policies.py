"""Retention policy library (维系政策库): loading, library checks, eligibility, budgets.

A policy is one retention offer with its target group (a saved group id from
``target_groups.yaml`` or an inline target filter, see :mod:`weiwan.analytics.targets`),
validity period, minimum spend, entry limit, cost, budget, mutual exclusions, channels and
scripts. :func:`validate_library` refuses incomplete policies and warns when a policy undercuts
an approved one for an overlapping group; :func:`eligibility` is one Ibis expression giving
every (subscriber, policy) pair that may be offered on a day. Budgets and value caps are not
applied there: the next-best-action arbitration uses :func:`remaining_budgets` and
:meth:`ValueCaps.cap_expression`. The file format and rules are in ``docs/policies.md``; the
policy and value-cap models themselves are in :mod:`weiwan.analytics.policy_models`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from pydantic import ValidationError

from weiwan.analytics.config_files import read_yaml
from weiwan.analytics.policy_models import SPEND_COLUMN, Policy, ValueCaps
from weiwan.analytics.targets import (
    FilterError,
    TargetFilter,
    TargetGroup,
    compile_filter,
    load_target_groups,
)
from weiwan.core.errors import ConfigError
from weiwan.core.months import add_months
from weiwan.core.policy_rules import (
    PolicyIssue,
    PolicyRule,
    check_entries,
    generosity_warnings,
)

__all__ = ["PolicyIssue"]


@dataclass(frozen=True)
class ValidationReport:
    """Refusals (``errors``), ``warnings`` and the policies that passed, in file order."""

    errors: tuple[PolicyIssue, ...]
    warnings: tuple[PolicyIssue, ...]
    valid: tuple[Policy, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class PolicyLibrary:
    """A loaded library: the valid policies, what was refused or warned, the value caps and the
    target groups the policies were checked against."""

    policies: tuple[Policy, ...]
    errors: tuple[PolicyIssue, ...]
    warnings: tuple[PolicyIssue, ...]
    value_caps: ValueCaps
    target_groups: tuple[TargetGroup, ...]
    source: str

    def get(self, policy_id: str) -> Policy:
        """The policy with this id; KeyError if it is not in the library (or was refused)."""
        for policy in self.policies:
            if policy.id == policy_id:
                return policy
        raise KeyError(policy_id)


def _overlap(
    a: TargetFilter, b: TargetFilter, a_group: str | None, b_group: str | None, profile: Any
) -> tuple[bool, int | None, str]:
    """Whether two targets overlap, the count on the profile, and how it was decided."""
    if profile is None:
        if a_group is not None and a_group == b_group:
            return True, None, f"the same target group {a_group}"
        if a == b:
            return True, None, "an identical target"
        return False, None, ""
    both = compile_filter(a, profile) & compile_filter(b, profile)
    count = int(profile.filter(both).count().execute())
    return count > 0, count, f"{count} subscribers in both targets"


def validate_library(
    policies: Sequence[Policy | Mapping[str, Any]],
    target_groups: Sequence[TargetGroup],
    profile: ir.Table | None = None,
    *,
    source: str = "(policies)",
) -> ValidationReport:
    """Check a library: raw entries (dicts, as in the YAML file) or Policy objects.

    Refuses (one error per problem, naming ``source``, policy id and field): missing target,
    validity, minimum spend, entry limit, cost or channels; valid_to before valid_from; unknown
    target_group or exclusive_with ids; duplicate ids (the shared rules,
    :func:`weiwan.core.policy_rules.check_entries`); a target that does not fit ``profile``.
    Warns when a policy is more generous (:meth:`Policy.generosity`) than an approved policy
    of the same offer type whose validity overlaps and whose group overlaps: on ``profile``
    when given (subscribers matching both > 0), else the same group id or an identical filter.
    """
    groups = {g.id: g for g in target_groups}
    checked = check_entries(policies, set(groups), source=source, model=Policy)
    errors = list(checked.errors)
    valid: list[Policy] = []
    for policy in checked.valid:
        problems: list[tuple[str, str]] = []
        if profile is not None:
            try:
                compile_filter(policy.resolve_target(groups), profile)
                if policy.min_spend > 0 and SPEND_COLUMN not in profile.columns:
                    problems.append(("min_spend", f"the profile has no {SPEND_COLUMN} column"))
            except FilterError as exc:
                problems.append(("target_group" if policy.target_group else "target", str(exc)))
        errors.extend(
            PolicyIssue(source, policy.id, f, m, code="profile_mismatch") for f, m in problems
        )
        if not problems:
            valid.append(policy)

    def overlap(a: PolicyRule, b: PolicyRule) -> tuple[bool, int | None, str]:
        return _overlap(
            a.resolve_target(groups), b.resolve_target(groups), a.target_group, b.target_group,
            profile,
        )  # fmt: skip

    warnings = generosity_warnings(valid, overlap, source)
    return ValidationReport(tuple(errors), tuple(warnings), tuple(valid))


def _value_caps(raw: Any, source: str) -> ValueCaps:
    if raw is None:
        raise ConfigError(f"{source}: value_caps: missing; every library caps spend by value")
    try:
        return ValueCaps.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"value_caps.{'.'.join(str(p) for p in err['loc'])}".rstrip(".")
            + f": {str(err['msg']).removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}") from exc


def load_policies(
    path: Path | None = None,
    *,
    target_groups: Sequence[TargetGroup] | None = None,
    profile: ir.Table | None = None,
) -> PolicyLibrary:
    """Read a policy file (``None``: the shipped ``policies.yaml``) and validate it.

    Refused policies are reported in ``errors`` and left out; the rest load. ``target_groups``
    defaults to the shipped groups. A file that cannot be read, has no ``policies`` list or a
    bad ``value_caps`` section raises ConfigError naming the file and field.
    """
    source, raw = read_yaml(path, "policies.yaml")
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping with 'policies' and 'value_caps'")
    extra = sorted(set(raw) - {"policies", "value_caps"})
    if extra:
        raise ConfigError(f"{source}: unexpected top-level keys {extra}")
    entries = raw.get("policies")
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: policies: expected a list of policies")
    caps = _value_caps(raw.get("value_caps"), source)
    groups = tuple(load_target_groups() if target_groups is None else target_groups)
    report = validate_library(entries, groups, profile, source=source)
    return PolicyLibrary(report.valid, report.errors, report.warnings, caps, groups, source)


def load_value_caps(path: Path | None = None) -> ValueCaps:
    """Only the ``value_caps`` section of a policy file (``None``: the shipped one)."""
    source, raw = read_yaml(path, "policies.yaml")
    return _value_caps(raw.get("value_caps") if isinstance(raw, dict) else None, source)


# ----------------------------------------------------------------------------- eligibility

_PAIRS = ibis.schema({"subscriber_id": "string", "policy_id": "string"})


def _group_map(target_groups: Sequence[TargetGroup] | None) -> dict[str, TargetGroup]:
    return {g.id: g for g in (load_target_groups() if target_groups is None else target_groups)}


def _date_column(table: ir.Table, name: str) -> ir.DateValue:
    column = table[name]
    return column if column.type().is_date() else column.cast("date")


def _blocked_by_grants(
    live: Sequence[Policy], every: Mapping[str, Policy], granted: ir.Table, day: dt.date
) -> ir.Table:
    """(subscriber_id, policy_id) whose entry limit is used up, or who got an exclusive policy
    within the window (the longer of the two policies' entry-limit windows)."""
    grants = granted.select(
        g_subscriber=granted.subscriber_id.cast("string"),
        g_policy=granted.policy_id.cast("string"),
        g_day=_date_column(granted, "granted_on"),
    )
    grants = grants.filter(grants.g_day <= day)
    limits = ibis.memtable(
        pa.table(
            {
                "l_policy": pa.array([p.id for p in live], pa.string()),
                "l_since": pa.array(
                    [add_months(day, -p.limit.per_months) for p in live], pa.date32()
                ),
                "l_times": pa.array([p.limit.times for p in live], pa.int64()),
            }
        )
    )
    used = (
        grants.join(limits, grants.g_policy == limits.l_policy)
        .filter(lambda t: t.g_day > t.l_since)
        .group_by(subscriber_id="g_subscriber", policy_id="l_policy")
        .aggregate(n=lambda t: t.count(), times=lambda t: t.l_times.max())
    )
    blocked = used.filter(used.n >= used.times).select("subscriber_id", "policy_id")
    pairs: dict[tuple[str, str], dt.date] = {}
    for policy in live:
        others = set(policy.exclusive_with) | {
            q.id for q in every.values() if policy.id in q.exclusive_with
        }
        for other_id in sorted(others):
            other = every.get(other_id)
            months = max(policy.limit.per_months, other.limit.per_months if other else 0)
            pairs[(policy.id, other_id)] = add_months(day, -months)
    if pairs:
        exclusions = ibis.memtable(
            pa.table(
                {
                    "x_policy": pa.array([k[0] for k in pairs], pa.string()),
                    "x_other": pa.array([k[1] for k in pairs], pa.string()),
                    "x_since": pa.array(list(pairs.values()), pa.date32()),
                }
            )
        )
        excluded = (
            grants.join(exclusions, grants.g_policy == exclusions.x_other)
            .filter(lambda t: t.g_day > t.x_since)
            .select(subscriber_id="g_subscriber", policy_id="x_policy")
        )
        blocked = ibis.union(blocked, excluded, distinct=False)
    return blocked


def eligibility(
    profile: ir.Table,
    policies: Sequence[Policy],
    day: dt.date,
    *,
    granted: ir.Table | None = None,
    target_groups: Sequence[TargetGroup] | None = None,
) -> ir.Table:
    """(subscriber_id, policy_id) for every subscriber each policy may be offered to on ``day``.

    A pair is eligible when the policy is approved and valid on ``day``, the subscriber
    matches its target and spends at least ``min_spend`` (``plan_monthly_fee``), has had fewer
    than ``limit.times`` grants of it in the ``limit.per_months`` months up to ``day``
    (``granted``: subscriber_id, policy_id, granted_on), and has had no grant of a mutually
    exclusive policy (either side's ``exclusive_with``) within the longer of the two windows.
    Budgets and value caps are not applied here. ``target_groups`` resolves ``target_group``
    references (default: the shipped groups, read only when a policy needs them).
    """
    live = [p for p in policies if p.is_active(day)]
    if not live:
        return ibis.memtable(pa.Table.from_pylist([], schema=_PAIRS.to_pyarrow()))
    groups = _group_map(target_groups) if any(p.target_group for p in live) else {}
    parts = [
        profile.filter(policy.target_expression(profile, groups)).select(
            subscriber_id=profile.subscriber_id.cast("string"),
            policy_id=ibis.literal(policy.id, "string"),
        )
        for policy in live
    ]
    candidates = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
    if granted is None:
        return candidates
    blocked = _blocked_by_grants(live, {p.id: p for p in policies}, granted, day)
    return candidates.anti_join(blocked, ["subscriber_id", "policy_id"])


def policy_table(policies: Sequence[Policy]) -> ir.Table:
    """One row per policy with what arbitration needs: policy_id, name_zh, name_en,
    offer_type, total_cost, benefit_value, prepay, min_spend, generosity, budget_count,
    budget_money (NULL: unlimited)."""
    return ibis.memtable(
        pa.table(
            {
                "policy_id": pa.array([p.id for p in policies], pa.string()),
                "name_zh": pa.array([p.name_zh for p in policies], pa.string()),
                "name_en": pa.array([p.name_en for p in policies], pa.string()),
                "offer_type": pa.array([p.offer_type for p in policies], pa.string()),
                "total_cost": pa.array([p.total_cost() for p in policies], pa.float64()),
                "benefit_value": pa.array([p.benefit() for p in policies], pa.float64()),
                "prepay": pa.array([p.prepay for p in policies], pa.float64()),
                "min_spend": pa.array([p.min_spend for p in policies], pa.float64()),
                "generosity": pa.array([p.generosity() for p in policies], pa.float64()),
                "budget_count": pa.array([p.budget.count for p in policies], pa.int64()),
                "budget_money": pa.array([p.budget.money for p in policies], pa.float64()),
            }
        )
    )


def remaining_budgets(
    policies: Sequence[Policy], granted: ir.Table | None, day: dt.date | None = None
) -> ir.Table:
    """Budget left per policy: policy_id, used_count, used_money, remaining_count,
    remaining_money (NULL: no limit; never below 0).

    Grants count when granted_on is within the policy's validity period, or, for a budget with
    ``per_months``, within the ``per_months`` months up to ``day`` (omitted ``day``: the whole
    validity period). Money used is the sum of ``granted.cost`` when that column exists, else
    grants × :meth:`Policy.total_cost`.
    """
    windows = [p.budget_window(day) for p in policies]
    params = ibis.memtable(
        pa.table(
            {
                "policy_id": pa.array([p.id for p in policies], pa.string()),
                "b_from": pa.array([w[0] for w in windows], pa.date32()),
                "b_to": pa.array([w[1] for w in windows], pa.date32()),
                "b_unit": pa.array([p.total_cost() for p in policies], pa.float64()),
                "b_count": pa.array([p.budget.count for p in policies], pa.int64()),
                "b_money": pa.array([p.budget.money for p in policies], pa.float64()),
            }
        )
    )
    if granted is None:
        used = params.select(
            policy_id=params.policy_id,
            used_count=ibis.literal(0, "int64"),
            used_money=ibis.literal(0.0, "float64"),
        )
    else:
        has_cost = "cost" in granted.columns
        grants = granted.select(
            g_policy=granted.policy_id.cast("string"),
            g_day=_date_column(granted, "granted_on"),
            g_cost=granted.cost.cast("float64") if has_cost else ibis.null("float64"),
        )
        joined = params.left_join(
            grants,
            [
                params.policy_id == grants.g_policy,
                grants.g_day >= params.b_from,
                grants.g_day <= params.b_to,
            ],
        )
        used = joined.group_by("policy_id").aggregate(
            used_count=joined.g_policy.count(),
            used_money=(
                joined.g_cost.sum().fill_null(0.0)
                if has_cost
                else joined.g_policy.count().cast("float64") * joined.b_unit.max()
            ),
        )
    table = params.join(used, "policy_id")
    return table.select(
        "policy_id",
        used_count=table.used_count.cast("int64"),
        used_money=table.used_money.cast("float64"),
        remaining_count=ibis.ifelse(
            table.b_count.isnull(), None, ibis.greatest(table.b_count - table.used_count, 0)
        ).cast("int64"),
        remaining_money=ibis.ifelse(
            table.b_money.isnull(), None, ibis.greatest(table.b_money - table.used_money, 0.0)
        ).cast("float64"),
    ).order_by("policy_id")


def remaining_budget(
    policy: Policy, granted: ir.Table | None, day: dt.date | None = None
) -> tuple[int | None, float | None]:
    """(count, money) left of one policy's budget (see :func:`remaining_budgets`); None =
    unlimited."""
    row = remaining_budgets([policy], granted, day).to_pyarrow().to_pylist()[0]
    count, money = row["remaining_count"], row["remaining_money"]
    return (None if count is None else int(count), None if money is None else float(money))
