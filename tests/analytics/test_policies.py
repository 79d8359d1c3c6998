"""Policy library: refusal rules, generosity warnings, the shipped file, eligibility on DuckDB,
entry limits, mutual exclusion, value caps and remaining budgets."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest
import yaml

from weiwan.analytics.policies import (
    eligibility,
    load_policies,
    load_value_caps,
    policy_table,
    remaining_budget,
    remaining_budgets,
    validate_library,
)
from weiwan.analytics.policy_models import Policy, ValueCaps
from weiwan.analytics.targets import TargetGroup
from weiwan.core.errors import ConfigError
from weiwan.core.months import OPEN_END, add_months

DAY = date(2026, 10, 31)
CAPS = {"tiers": {"diamond": 3000, "gold": 1500, "silver": 800, "ordinary": 600, "mass": 200}}

# every column the shipped policies' targets and the shipped target group read
PROFILE = pa.table(
    {
        "subscriber_id": ["s1", "s2", "s3", "s4", "s5", "s6"],
        "plan_id": ["TC096", "TC126", "TC058", "TC096", "TC038", None],
        "plan_monthly_fee": [96.0, 126.0, 58.0, 96.0, 38.0, None],
        "status": ["active"] * 6,
        "value_tier": ["ordinary", "silver", "mass", "gold", "diamond", None],
        "future_value": [1000.0, 5000.0, 300.0, None, 20000.0, 100.0],
        "risk_band": ["high", "medium", "high", "low", "low", "high"],
        "bill_shock": [True, False, False, False, False, False],
        "value_declining": [False, False, True, False, False, False],
        "promotion_seeker": [False] * 6,
        "small_recharger": [False] * 6,
        "heavy_data_user": [True, True, False, False, False, False],
        "old_device": [False, True, False, False, False, False],
        "contract_ending_soon": [False, True, False, False, False, False],
        "clv_quadrant": ["retain_with_added_value"] * 6,
        "complaints_unresolved": pa.array([1, 0, 0, 0, 0, 0], pa.int64()),
        "last_survey_score": pa.array([9, 9, 9, 9, 9, 9], pa.int64()),
    }
)
GROUPS = [
    TargetGroup.model_validate(
        {
            "id": "plan96",
            "name_zh": "96元套餐",
            "name_en": "96-yuan plan",
            "filter": {"field": "plan_id", "op": "=", "value": "TC096"},
        }
    )
]


@pytest.fixture(scope="module")
def con() -> Any:
    return ibis.duckdb.connect()


@pytest.fixture(scope="module")
def profile(con: Any) -> ir.Table:
    return con.create_table("profile", PROFILE)


def entry(**changes: Any) -> dict[str, Any]:
    """A valid policy as a YAML entry, with ``changes`` (None removes a key)."""
    raw: dict[str, Any] = {
        "id": "p96",
        "name_zh": "预存168元送504元话费",
        "name_en": "Prepay 168 get 504",
        "offer_type": "prepay_and_get",
        "target": {"field": "plan_id", "op": "=", "value": "TC096"},
        "valid_from": date(2026, 1, 1),
        "valid_to": date(2026, 12, 31),
        "min_spend": 96,
        "prepay": 168,
        "limit": {"times": 1, "per_months": 12},
        "cost": {"kind": "monthly", "amount": 42, "months": 12},
        "budget": {"count": 10, "money": 5040},
        "channels": ["outbound_call", "store"],
        "approval": "approved",
    }
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def policy(**changes: Any) -> Policy:
    return Policy.model_validate(entry(**changes))


def write(tmp_path: Path, entries: list[dict[str, Any]], caps: Any = CAPS) -> Path:
    path = tmp_path / "policies.yaml"
    doc: dict[str, Any] = {"policies": entries}
    if caps is not None:
        doc["value_caps"] = caps
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return path


def pairs(table: ir.Table) -> set[tuple[str, str]]:
    rows = table.to_pyarrow().to_pylist()
    return {(r["subscriber_id"], r["policy_id"]) for r in rows}


def grants(rows: list[tuple[str, str, date]], cost: list[float] | None = None) -> ir.Table:
    data: dict[str, Any] = {
        "subscriber_id": pa.array([r[0] for r in rows], pa.string()),
        "policy_id": pa.array([r[1] for r in rows], pa.string()),
        "granted_on": pa.array([r[2] for r in rows], pa.date32()),
    }
    if cost is not None:
        data["cost"] = pa.array(cost, pa.float64())
    return ibis.memtable(pa.table(data))


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"target": None}, "target", "no target group"),
        ({"valid_from": None}, "valid_from", "no validity period"),
        ({"valid_to": None}, "valid_to", "no validity period"),
        ({"valid_to": date(2025, 12, 31)}, "valid_to", "before valid_from"),
        ({"min_spend": None}, "min_spend", "no minimum spend"),
        ({"min_spend": 0}, "min_spend", "minimum spend above 0"),
        ({"limit": None}, "limit", "no entry limit"),
        ({"limit": {"times": 0, "per_months": 12}}, "limit.times", "greater than or equal"),
        ({"target": None, "target_group": "nope"}, "target_group", "unknown target group"),
        ({"channels": ["outbound_call", "fax"]}, "channels", "unknown channels ['fax']"),
        ({"channels": []}, "channels", "no channels"),
        ({"exclusive_with": ["ghost"]}, "exclusive_with", "unknown policy ids ['ghost']"),
        ({"offer_type": "cashback"}, "offer_type", "not an offer type"),
        ({"cost": {"kind": "monthly", "amount": 42}}, "cost", "needs months"),
        ({"valid_from": "2026-13-01"}, "valid_from", "valid date"),
        ({"valid_to": "open"}, "review_by", "needs a review_by date"),
        ({"valid_to": "open", "review_by": "2027-06-30"}, "budget", "needs per_months"),
        ({"valid_to": "open", "review_by": date(2025, 6, 30)}, "review_by", "before valid_from"),
    ],
)
def test_refusals_name_file_policy_and_field(
    tmp_path: Path, changes: dict[str, Any], field: str, words: str
) -> None:
    good = entry(id="fine")
    path = write(tmp_path, [entry(id="bad_one", **changes), good])
    library = load_policies(path, target_groups=GROUPS)
    assert [p.id for p in library.policies] == ["fine"]  # the rest still load
    assert len(library.errors) >= 1
    issue = library.errors[0]
    assert (issue.policy_id, issue.field) == ("bad_one", field)
    assert words in issue.message
    assert str(issue).startswith(f"{path}: policy bad_one: {field}: ")


def test_target_group_and_filter_are_exclusive_but_either_works() -> None:
    report = validate_library(
        [
            entry(id="by_group", target=None, target_group="plan96"),
            entry(id="both", target_group="plan96"),
        ],
        GROUPS,
    )
    assert [p.id for p in report.valid] == ["by_group"]
    assert [(e.policy_id, e.field) for e in report.errors] == [("both", "target")]


def test_duplicate_ids_refuse_every_copy() -> None:
    report = validate_library([entry(), entry(), entry(id="other")], GROUPS)
    assert [p.id for p in report.valid] == ["other"]
    assert [(e.policy_id, e.field) for e in report.errors] == [("p96", "id"), ("p96", "id")]


def test_bad_filter_and_unknown_profile_field(profile: ir.Table) -> None:
    bad_op = entry(id="bad_op", target={"field": "plan_id", "op": "~", "value": 1})
    unknown = entry(id="unknown", target={"field": "plan_idd", "op": "=", "value": "x"})
    report = validate_library([bad_op, unknown], GROUPS, profile)
    assert [(e.policy_id, e.field) for e in report.errors] == [
        ("bad_op", "target"),
        ("unknown", "target"),
    ]
    assert "did you mean 'plan_id'" in report.errors[1].message


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="value_caps: missing"):
        load_policies(write(tmp_path, [entry()], caps=None), target_groups=GROUPS)
    bad_caps = {"tiers": {"diamond": 1, "gold": 1, "silver": 1, "ordinary": 1}}
    with pytest.raises(ConfigError, match=r"policies.yaml: value_caps.tiers: .*missing"):
        load_policies(write(tmp_path, [entry()], caps=bad_caps), target_groups=GROUPS)
    path = tmp_path / "odd.yaml"
    path.write_text("policies: {}\nvalue_caps: {}\n", "utf-8")
    with pytest.raises(ConfigError, match=r"odd.yaml: policies: expected a list"):
        load_policies(path, target_groups=GROUPS)


# ----------------------------------------------------------------------------- generosity


def test_policy_money_helpers() -> None:
    p = policy()
    assert p.total_cost() == 504
    assert p.generosity() == pytest.approx(504 / 168)
    data = policy(
        offer_type="bonus_data",
        prepay=None,
        min_spend=58,
        commitment_months=12,
        cost={"kind": "monthly", "amount": 5, "months": 6},
        benefit_value=180,
    )
    assert data.total_cost() == 30
    assert data.generosity() == pytest.approx(180 / (58 * 12))
    assert policy(cost={"kind": "device_subsidy", "amount": 600}).total_cost() == 600
    assert p.is_active(date(2026, 1, 1)) and p.is_active(date(2026, 12, 31))
    assert not p.is_active(date(2027, 1, 1))
    assert not policy(approval="submitted").is_active(DAY)


def test_more_generous_overlapping_policy_warns(profile: ir.Table) -> None:
    base = entry(id="base")
    richer = entry(
        id="richer",
        approval="draft",
        target={"field": "plan_monthly_fee", "op": ">=", "value": 90},
        cost={"kind": "monthly", "amount": 60, "months": 12},
    )
    report = validate_library([base, richer], GROUPS, profile)
    assert report.errors == ()
    assert [(w.policy_id, w.field, w.overlap) for w in report.warnings] == [
        ("richer", "benefit_value", 2)  # s1 and s4 are on TC096 and pay >= 90
    ]
    message = report.warnings[0].message
    assert "approved policy base" in message
    assert "switch" in message and "leave and rejoin" in message


def test_disjoint_or_less_generous_or_other_type_does_not_warn(profile: ir.Table) -> None:
    base = entry(id="base")
    disjoint = entry(
        id="disjoint",
        target={"field": "plan_id", "op": "=", "value": "TC126"},
        cost={"kind": "monthly", "amount": 60, "months": 12},
    )
    stingier = entry(
        id="stingier", approval="draft", cost={"kind": "monthly", "amount": 30, "months": 12}
    )
    other_type = entry(
        id="other_type", offer_type="discount", cost={"kind": "monthly", "amount": 90, "months": 12}
    )
    report = validate_library([base, disjoint, stingier, other_type], GROUPS, profile)
    assert report.errors == () and report.warnings == ()


def test_without_profile_same_group_or_identical_filter_overlaps() -> None:
    richer_cost = {"kind": "monthly", "amount": 60, "months": 12}
    report = validate_library(
        [
            entry(id="base", target=None, target_group="plan96"),
            entry(id="same_group", target=None, target_group="plan96", cost=richer_cost),
            entry(id="same_filter", cost=richer_cost),  # the group's filter written out
            entry(
                id="other_filter",
                target={"field": "plan_id", "op": "=", "value": "TC126"},
                cost=richer_cost,
            ),
        ],
        GROUPS,
    )
    assert sorted(w.policy_id for w in report.warnings) == ["same_filter", "same_group"]
    assert all(w.overlap is None for w in report.warnings)


# ----------------------------------------------------------------------------- shipped file


def test_shipped_library_loads_clean(profile: ir.Table) -> None:
    library = load_policies()
    assert library.errors == () and library.warnings == ()
    ids = {p.id for p in library.policies}
    assert {"prepay_168_get_504", "prepay_228_get_684"} <= ids
    assert {p.offer_type for p in library.policies} == {
        "discount",
        "bonus_data",
        "device_subsidy",
        "prepay_and_get",
        "care_call",
    }
    assert all(p.approval == "approved" and p.is_active(date(2026, 6, 1)) for p in library.policies)
    # no shipped date may expire: the examples are open-ended, their review date only warns
    assert all(p.valid_to is None and p.review_by is not None for p in library.policies)
    assert all(p.budget.per_months == 12 for p in library.policies)
    far = add_months(date.today(), 12 * 30)
    assert all(p.is_active(far) and p.review_overdue(far) for p in library.policies)
    assert all(p.script_zh and p.script_en for p in library.policies)
    seed = library.get("prepay_168_get_504")
    assert (seed.prepay, seed.total_cost(), seed.min_spend) == (168, 504, 96)
    assert library.get("prepay_228_get_684").total_cost() == 684
    # every target fits the profile's columns, and the shipped groups resolve
    checked = load_policies(profile=profile)
    assert checked.errors == () and checked.warnings == ()
    assert load_value_caps().tiers["diamond"] == library.value_caps.tiers["diamond"]


def test_shipped_seed_offers_only_for_their_plans(profile: ir.Table) -> None:
    library = load_policies()
    found = pairs(eligibility(profile, library.policies, DAY, target_groups=library.target_groups))
    assert {s for s, p in found if p == "prepay_168_get_504"} == {"s1", "s4"}
    assert {s for s, p in found if p == "prepay_228_get_684"} == {"s2"}
    assert {s for s, p in found if p == "prepay_100_get_200"} == {"s3", "s5"}
    assert {s for s, p in found if p == "discount_price_sensitive"} == {"s1", "s3"}
    assert {s for s, p in found if p == "care_call_dissatisfied"} == {"s1"}
    assert {s for s, p in found if p == "device_subsidy_renewal"} == {"s2"}


# ----------------------------------------------------------------------------- eligibility


def test_min_spend_checks_plan_fee(profile: ir.Table) -> None:
    wide = policy(target={"field": "status", "op": "=", "value": "active"}, min_spend=90)
    assert {s for s, _ in pairs(eligibility(profile, [wide], DAY))} == {"s1", "s2", "s4"}


def test_entry_limit_window(profile: ir.Table) -> None:
    p = policy()
    granted = grants(
        [
            ("s1", "p96", date(2026, 7, 31)),  # 3 months ago: blocked
            ("s4", "p96", date(2025, 9, 30)),  # 13 months ago: free again
            ("s4", "other", date(2026, 10, 1)),  # another policy does not count
        ]
    )
    assert pairs(eligibility(profile, [p], DAY, granted=granted)) == {("s4", "p96")}
    # exactly 12 months ago is outside the 12-month window; later grants are ignored
    edge = grants([("s1", "p96", date(2025, 10, 31)), ("s4", "p96", date(2026, 11, 5))])
    assert pairs(eligibility(profile, [p], DAY, granted=edge)) == {("s1", "p96"), ("s4", "p96")}
    # twice per 12 months: one grant leaves room, two do not
    twice = policy(limit={"times": 2, "per_months": 12})
    one = grants([("s1", "p96", date(2026, 7, 31))])
    two = grants([("s1", "p96", date(2026, 7, 31)), ("s1", "p96", date(2026, 9, 1))])
    assert ("s1", "p96") in pairs(eligibility(profile, [twice], DAY, granted=one))
    assert ("s1", "p96") not in pairs(eligibility(profile, [twice], DAY, granted=two))


def test_mutual_exclusion_either_side(profile: ir.Table) -> None:
    a = policy(id="a", exclusive_with=["b"])
    b = policy(id="b", limit={"times": 1, "per_months": 6})
    c = policy(id="c")
    granted = grants(
        [
            ("s1", "b", date(2026, 3, 1)),  # 8 months ago: inside a's 12-month window
            ("s4", "a", date(2026, 9, 1)),  # b lists nothing, but a excludes b
        ]
    )
    got = pairs(eligibility(profile, [a, b, c], DAY, granted=granted))
    # s1: a blocked by b's grant (a's 12-month window); b's own 6-month limit has passed.
    # s4: a used up; b blocked because a lists b (exclusion works both ways).
    assert got == {("s1", "b"), ("s1", "c"), ("s4", "c")}
    old = grants([("s1", "b", date(2025, 9, 1))])  # 14 months ago: outside both windows
    assert ("s1", "a") in pairs(eligibility(profile, [a, b], DAY, granted=old))


def test_expired_and_unapproved_policies_are_not_eligible(profile: ir.Table) -> None:
    expired = policy(id="expired", valid_from=date(2025, 1, 1), valid_to=date(2025, 12, 31))
    future = policy(id="future", valid_from=date(2026, 11, 1))
    draft = policy(id="draft", approval="draft")
    retired = policy(id="retired", approval="retired")
    assert pairs(eligibility(profile, [expired, future, draft, retired], DAY)) == set()
    assert pairs(eligibility(profile, [], DAY)) == set()


def test_target_group_reference_resolves(profile: ir.Table) -> None:
    p = policy(target=None, target_group="plan96")
    assert pairs(eligibility(profile, [p], DAY, target_groups=GROUPS)) == {
        ("s1", "p96"),
        ("s4", "p96"),
    }


# ----------------------------------------------------------------------------- caps, budgets


def test_value_cap_is_tier_cap_or_clv_share(profile: ir.Table) -> None:
    caps = ValueCaps.model_validate({**CAPS, "clv_share": 0.3})
    rows = profile.select("subscriber_id", cap=caps.cap_expression(profile)).to_pyarrow()
    got = dict(zip(rows["subscriber_id"].to_pylist(), rows["cap"].to_pylist(), strict=True))
    assert got == {
        "s1": 300.0,  # ordinary 600, but 30% of 1000
        "s2": 800.0,  # silver 800 < 30% of 5000
        "s3": 90.0,  # mass 200, 30% of 300
        "s4": 1500.0,  # gold, future value unknown: the tier cap
        "s5": 3000.0,  # diamond 3000 < 6000
        "s6": 30.0,  # no tier: the lowest cap (200), 30% of 100
    }
    # one subscriber's form (the real-time ledger's) gives each the same cap
    facts = profile.select("subscriber_id", "value_tier", "future_value").to_pyarrow().to_pylist()
    assert {
        r["subscriber_id"]: caps.cap_for(r["value_tier"], r["future_value"]) for r in facts
    } == got
    plain = ValueCaps.model_validate({**CAPS, "unknown_tier": 50})
    rows = profile.select("subscriber_id", cap=plain.cap_expression(profile)).to_pyarrow()
    assert dict(zip(rows["subscriber_id"].to_pylist(), rows["cap"].to_pylist(), strict=True)) == {
        "s1": 600.0,
        "s2": 800.0,
        "s3": 200.0,
        "s4": 1500.0,
        "s5": 3000.0,
        "s6": 50.0,
    }


def test_remaining_budget() -> None:
    p = policy()  # count 10, money 5040; 504 per grant
    assert remaining_budget(p, None) == (10, 5040.0)
    granted = grants(
        [
            ("s1", "p96", date(2026, 2, 1)),
            ("s2", "p96", date(2026, 3, 1)),
            ("s3", "p96", date(2025, 12, 31)),  # before the validity period
            ("s4", "other", date(2026, 3, 1)),
        ]
    )
    assert remaining_budget(p, granted) == (8, 5040.0 - 2 * 504)
    with_cost = grants(
        [("s1", "p96", date(2026, 2, 1)), ("s2", "p96", date(2026, 3, 1))], cost=[500.0, 4800.0]
    )
    assert remaining_budget(p, with_cost) == (8, 0.0)  # overspent: never below 0
    unlimited = policy(id="free", budget={"count": 5})
    assert remaining_budget(unlimited, granted) == (5, None)
    table = remaining_budgets([p, unlimited], granted).to_pyarrow().to_pylist()
    assert [(r["policy_id"], r["used_count"], r["remaining_count"]) for r in table] == [
        ("free", 0, 5),
        ("p96", 2, 8),
    ]


def test_open_ended_policy_never_ends_and_its_review_date_only_warns(profile: ir.Table) -> None:
    p = policy(valid_to="open", review_by="2027-06-30", budget={"count": 2, "per_months": 12})
    assert p.valid_to is None and p.valid_until == OPEN_END
    assert p.is_active(date(2027, 6, 30)) and not p.review_overdue(date(2027, 6, 30))
    assert p.is_active(date(2031, 1, 1)) and p.review_overdue(date(2031, 1, 1))
    later = pairs(eligibility(profile, [p], date(2031, 1, 1)))
    assert later and later == pairs(eligibility(profile, [policy()], date(2026, 6, 1)))
    assert p.overlaps_in_time(policy(valid_from=date(2040, 1, 1), valid_to=date(2040, 2, 1)))


def test_budget_per_months_counts_the_months_up_to_the_day() -> None:
    p = policy(valid_to="open", review_by="2027-06-30", budget={"count": 2, "per_months": 12})
    granted = grants(
        [
            ("s1", "p96", date(2026, 2, 1)),
            ("s2", "p96", date(2026, 12, 1)),
            ("s3", "p96", date(2027, 3, 1)),
        ]
    )
    assert remaining_budget(p, granted, date(2027, 1, 31)) == (0, None)  # 2026-02 and 2026-12
    assert remaining_budget(p, granted, date(2027, 12, 31)) == (1, None)  # only 2027-03
    assert remaining_budget(p, granted, date(2029, 1, 1)) == (2, None)
    # without a day: the whole validity period
    assert remaining_budget(p, granted) == (0, None)


def test_policy_table() -> None:
    rows = policy_table([policy(), policy(id="free", budget={})]).to_pyarrow().to_pylist()
    assert rows[0]["total_cost"] == 504 and rows[0]["generosity"] == pytest.approx(3.0)
    assert rows[1]["budget_count"] is None and rows[1]["budget_money"] is None
