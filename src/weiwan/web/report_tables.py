"""The weekly / monthly report and the churn analysis report as tables (one per section), in
the reader's language: the report pages show them and export them (a sheet per section), and
``weiwan report … --xlsx`` writes the same workbook. Titles are sheet names too: short (Excel
keeps 31 characters) and without ``: \\ / ? * [ ]``."""

from __future__ import annotations

from typing import Any

from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import CHANNELS, VALUE_TIERS, label
from weiwan.web.pages.dashboard_labels import member_label
from weiwan.web.tables import Column, Table

DIMENSION_TITLES: dict[str, Any] = {
    "branch": _l("By branch"),
    "brand": _l("By brand"),
    "value_tier": _l("By value tier"),
    "channel": _l("By channel"),
}
FIGURE_COLUMNS = (
    Column("churn_rate", _l("Churn rate"), "percent"),
    Column("churn_rate_last_year", _l("Same period last year"), "percent"),
    Column("churn_yoy_change", _l("Change on last year"), "percent"),
    Column("churned", _l("Churned"), "int"),
    Column("at_start", _l("Subscribers at the start"), "int"),
    Column("satisfaction_rate", _l("Satisfaction rate"), "percent"),
    Column("surveys", _l("Survey answers"), "int"),
    Column("avg_tenure_months", _l("Average tenure (months)"), "number"),
    Column("tenure_gain_months", _l("Tenure change (months)"), "number"),
    Column("saves", _l("Saves"), "int"),
    Column("value_saved", _l("Value saved (CNY)"), "money"),
    Column("cost", _l("Retention cost (CNY)"), "money"),
    Column("roi", _l("ROI"), "number"),
    Column("incremental_saves", _l("Incremental saves (vs hold-out)"), "number"),
    Column("treated", _l("Treated (closed outcomes)"), "int"),
    Column("holdout", _l("Hold-out (closed outcomes)"), "int"),
)
TARGET_NAMES: dict[str, Any] = {
    "churn_yoy_change": _l("Churn rate on last year"),
    "satisfaction_rate": _l("Satisfaction rate"),
    "tenure_gain_months": _l("Average tenure on last year (months)"),
}
GROUP_NAMES: dict[tuple[str, str], Any] = {
    ("internal", "controllable"): _l("Internal, controllable"),
    ("external", "controllable"): _l("External, controllable"),
    ("internal", "uncontrollable"): _l("Internal, hard to change"),
    ("external", "uncontrollable"): _l("External, not controllable"),
}
COST_NAMES: dict[str, Any] = {
    "direct": _l("Direct: monthly revenue lost"),
    "indirect": _l("Indirect: marketing, sales, service and brand"),
    "lost_future": _l("Lost future revenue (CLV)"),
    "opportunity": _l("Opportunity cost of retention effort"),
    "total": _l("Total"),
}
SEGMENT_NAMES: dict[str, Any] = {
    "brand": _l("Brand"),
    "channel": _l("Join channel"),
    "payment_type": _l("Payment type"),
}


def language_of(current: str) -> str:
    """The findings' language key of a UI language."""
    return "en" if current == "en" else "zh-CN"


def member_name(member: str, dimension: str) -> str:
    """A breakdown member in the reader's language (branch codes and brands as delivered)."""
    if dimension == "value_tier":
        return label(VALUE_TIERS, member) if member != "unknown" else member_label(member)
    if dimension == "channel" and member in CHANNELS:
        return label(CHANNELS, member)
    return member_label(member)


def _target_text(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    if name == "tenure_gain_months":
        return f"{value:+.1f}"
    return f"{value * 100:+.2f}%" if name == "churn_yoy_change" else f"{value * 100:.2f}%"


def period_tables(doc: dict[str, Any], language: str) -> list[Table]:
    """Summary, targets, one breakdown per dimension and the findings of a period report."""
    total = {"member": _("Total"), **doc["total"]}
    tables = [
        Table(
            "summary",
            (Column("member", _l("Scope")), *FIGURE_COLUMNS),
            [total],
            title=_("Key figures"),
        )
    ]
    met = {True: _("Met"), False: _("Not met"), None: _("No comparison")}
    tables.append(
        Table(
            "targets",
            (
                Column("name", _l("Goal")),
                Column("target", _l("Target value")),
                Column("actual", _l("Actual")),
                Column("met", _l("Met")),
            ),
            [
                {
                    "name": str(TARGET_NAMES.get(name, name)),
                    "target": _target_text(name, goal["target"]),
                    "actual": _target_text(name, goal["actual"]),
                    "met": met[goal["met"]],
                }
                for name, goal in doc["targets"].items()
            ],
            title=_("Against targets"),
        )
    )
    for dimension, rows in doc["breakdowns"].items():
        tables.append(
            Table(
                f"by-{dimension.replace('_', '-')}",
                (Column("member", DIMENSION_TITLES.get(dimension, dimension)), *FIGURE_COLUMNS),
                [{**r, "member": member_name(r["member"], dimension)} for r in rows],
                title=DIMENSION_TITLES.get(dimension, dimension),
            )
        )
    tables.append(findings_table(doc, language))
    return tables


def findings_table(doc: dict[str, Any], language: str) -> Table:
    """The findings written from the figures, in ``language``."""
    return Table(
        "findings",
        (Column("text", _l("Finding")),),
        [{"text": line} for line in doc["findings"].get(language, [])],
        title=_("Findings"),
    )


def _band_start(band: str) -> int:
    head = band.split("-")[0].rstrip("+")
    return int(head) if head.isdigit() else 10_000


def _shares(table_id: str, rows: list[dict[str, Any]], title: Any, head: Any) -> Table:
    dimension = {"reasons": "reason", "tenure": "leavers"}.get(table_id, "")
    return Table(
        table_id,
        (
            Column("member", head),
            Column("numerator", _l("Leavers"), "int"),
            Column("share", _l("Share of leavers"), "percent"),
        ),
        [{**r, "member": member_label(r["member"], dimension)} for r in rows],
        title=title,
    )


def churn_tables(doc: dict[str, Any], language: str) -> list[Table]:
    """Reason groups, reasons, destinations, tenure, touchpoints, cost, segments, findings."""
    groups = Table(
        "reason-groups",
        (
            Column("group", _l("Reason group")),
            Column("leavers", _l("Leavers"), "int"),
            Column("share", _l("Share of leavers"), "percent"),
            Column("treatment", _l("Recommended treatment")),
        ),
        [
            {
                "group": str(GROUP_NAMES[g["kind"], g["control"]]),
                "leavers": g["leavers"],
                "share": g["share"],
                "treatment": g["treatment_text"][language],
            }
            for g in doc["reason_groups"]
        ],
        title=_("Reason groups"),
    )
    leavers = {r["member"]: r for r in doc["tenure_leavers"]}
    base = {r["member"]: r for r in doc["tenure_base"]}
    bands = sorted({*leavers, *base}, key=_band_start)
    tenure = Table(
        "tenure",
        (
            Column("member", _l("Tenure")),
            Column("leavers", _l("Share of leavers"), "percent"),
            Column("base", _l("Share of the customer base"), "percent"),
            Column("leaver_count", _l("Leavers"), "int"),
            Column("base_count", _l("Customers"), "int"),
        ),
        [
            {
                "member": member_label(band, "leavers"),
                "leavers": leavers[band]["share"] if band in leavers else None,
                "base": base[band]["share"] if band in base else None,
                "leaver_count": leavers[band]["numerator"] if band in leavers else None,
                "base_count": base[band]["numerator"] if band in base else None,
            }
            for band in bands
        ],
        title=_("Tenure of leavers"),
    )
    costs = doc["costs"]
    per = doc["leavers"] or None
    cost = Table(
        "cost",
        (
            Column("item", _l("Cost")),
            Column("amount", _l("Amount (CNY)"), "money"),
            Column("per_leaver", _l("Per leaver (CNY)"), "money"),
        ),
        [
            {
                "item": str(name),
                "amount": costs[key],
                "per_leaver": costs[key] / per if per else None,
            }
            for key, name in COST_NAMES.items()
        ],
        title=_("Churn cost"),
    )
    segments = Table(
        "segments",
        (
            Column("dimension", _l("Segment")),
            Column("member", _l("Member")),
            Column("previous_rate", _l("Previous month"), "percent"),
            Column("rate", _l("This month"), "percent"),
            Column("change_points", _l("Change (points)"), "percent"),
            Column("base", _l("Subscribers at the start"), "int"),
        ),
        [
            {
                **s,
                "dimension": str(SEGMENT_NAMES.get(s["dimension"], s["dimension"])),
                "member": member_label(s["member"]),
            }
            for s in doc["segments"]
        ],
        title=_("Churn by segment"),
    )
    return [
        groups,
        _shares("reasons", doc["reasons"], _("Churn reasons"), _l("Reason")),
        _shares("destinations", doc["destinations"], _("Destinations"), _l("Destination")),
        tenure,
        _shares("touchpoints", doc["touchpoints"], _("Last touchpoints"), _l("Touchpoint")),
        cost,
        segments,
        findings_table(doc, language),
    ]  # fmt: skip
