"""The champion–challenger page (/settings/strategies, 策略对比): each strategy arm's churn
against its hold-out and the champion with 95 % intervals and whether the difference is
significant, what the outcomes taught the decisions per offer type, a challenger promoted with
one audited action (administrators), and decide.yaml's editor (where the arms are declared).
Centre heads, directors and analysts read it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from weiwan.core.errors import WeiwanError
from weiwan.ops.offers.models import PublishedUpliftLevel
from weiwan.ops.offers.service import UpliftLevels
from weiwan.ops.org import config
from weiwan.ops.org.access import Actor
from weiwan.ops.strategies import service
from weiwan.ops.strategies.models import PublishedStrategyArm
from weiwan.web.errors import error_text
from weiwan.web.formatting import format_date, format_percent
from weiwan.web.i18n import gettext as _
from weiwan.web.labels import OFFER_TYPES, label
from weiwan.web.pages.business_rules_tables import editor_context, saved_flash
from weiwan.web.pages.deps import Db, LocalTz, PageActor, export_tables
from weiwan.web.tables import Column, Table, wants_export
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)
PATH = "/settings/strategies"


def _points(value: float | None) -> float | None:
    """A difference of two rates in percentage points (None stays)."""
    return None if value is None else round(value * 100, 2)


def _interval(low: float | None, high: float | None, points: bool = False) -> str:
    if low is None or high is None:
        return ""
    if points:
        return f"[{low * 100:+.2f}, {high * 100:+.2f}]"
    return f"[{format_percent(low)}, {format_percent(high)}]"


def _verdict(arm: PublishedStrategyArm) -> str:
    if arm.champion:
        return _("Champion")
    if arm.gain is None:
        return _("No comparison yet")
    if not arm.significant:
        return _("No significant difference")
    return _("Significantly better") if arm.gain > 0 else _("Significantly worse")


def arm_table(arms: list[PublishedStrategyArm]) -> Table:
    """One row per arm, the champion first."""
    rows = [
        {
            "arm": a.arm,
            "role": _verdict(a),
            "share": a.share,
            "subscribers": a.subscribers,
            "churn_rate": a.churn_rate,
            "churn_ci": _interval(a.churn_low, a.churn_high),
            "holdout": a.holdout_subscribers,
            "holdout_rate": a.holdout_churn_rate,
            "uplift": _points(a.uplift),
            "uplift_ci": _interval(a.uplift_low, a.uplift_high, points=True),
            "saves": a.saves,
            "spend": a.spend,
            "cost_per_save": a.cost_per_save,
            "gain": _points(a.gain),
            "gain_ci": _interval(a.gain_low, a.gain_high, points=True),
            "p_value": a.p_value,
            "pending": a.pending,
        }
        for a in arms
    ]
    columns = [
        Column("arm", _("Strategy"), "code"),
        Column("role", _("Verdict")),
        Column("share", _("Share"), "percent"),
        Column("subscribers", _("Subscribers decided"), "int"),
        Column("churn_rate", _("Churn rate"), "percent"),
        Column("churn_ci", _("95 % interval")),
        Column("holdout", _("Hold-out"), "int"),
        Column("holdout_rate", _("Hold-out churn rate"), "percent"),
        Column("uplift", _("Churn prevented (points)"), "number"),
        Column("uplift_ci", _("95 % interval")),
        Column("saves", _("Customers saved"), "number"),
        Column("spend", _("Spend (yuan)"), "money"),
        Column("cost_per_save", _("Cost per customer saved (yuan)"), "money"),
        Column("gain", _("Churn below the champion (points)"), "number"),
        Column("gain_ci", _("95 % interval")),
        Column("p_value", _("p-value"), "number"),
        Column("pending", _("Still in their outcome window"), "int"),
    ]
    return Table(
        "strategy_arms",
        columns,
        rows,
        title=_("Strategy arms"),
        empty=_(
            "No evaluation yet: the daily run evaluates the arms once decisions have been "
            "recorded with them."
        ),
    )


def _learned_verdict(row: PublishedUpliftLevel) -> str:
    if row.level <= 0:
        return _("No cut in churn shown")
    if abs(row.level - 1.0) < 1e-6:
        return _("As its prior")
    return _("Works better than its prior") if row.level > 1 else _("Works less than its prior")


def learning_table(learned: UpliftLevels) -> Table:
    """One row per offer type the outcomes taught the decisions about."""
    rows = [
        {
            "offer_type": label(OFFER_TYPES, r.offer_type),
            "verdict": _learned_verdict(r),
            "level": r.level,
            "prior_uplift": r.prior_uplift,
            "mean_uplift": r.mean_uplift,
            "persistence": r.persistence,
            "treated": r.treated,
            "controls": r.controls,
            "tree_weight": r.tree_weight,
        }
        for r in learned.offer_types.values()
    ]
    columns = [
        Column("offer_type", _("Offer type")),
        Column("verdict", _("What the outcomes show")),
        Column("level", _("Level of its prior"), "number"),
        Column("prior_uplift", _("Churn cut expected before (prior)"), "percent"),
        Column("mean_uplift", _("Churn cut learned"), "percent"),
        Column("persistence", _("Share of the effect lasting past the first month"), "percent"),
        Column("treated", _("Customers offered it"), "int"),
        Column("controls", _("Held out"), "int"),
        Column("tree_weight", _("Share of the per-customer model"), "percent"),
    ]
    title = _("What the outcomes taught the decisions")
    if learned.day is not None and rows:
        title = _("What the outcomes taught the decisions of %(day)s", day=format_date(learned.day))
    return Table(
        "uplift_levels",
        columns,
        rows,
        title=title,
        empty=_(
            "Nothing learned yet: every offer is valued by its prior until 200 customers held "
            "out have had their 3-month outcome, and an offer type until it has been offered."
        ),
    )


def render_page(
    request: Request, actor: Actor, db: Any, draft: str | None = None, **extra: Any
) -> Response:
    """The page (also after a refused edit or promotion: ``draft``, ``error``)."""
    status = int(extra.pop("status_code", 200))
    evaluation = service.latest_evaluation(db, actor)
    table = arm_table(evaluation.arms)
    view = config.rule_document_view(db, actor, service.KIND)
    context = {
        "table": table,
        "learning": learning_table(service.latest_learning(db, actor)),
        "day": evaluation.day,
        "challengers": [a for a in evaluation.arms if not a.champion],
        "editors": [editor_context(view, draft)],
        "may_configure": actor.permissions.may_configure,
        **saved_flash(request),
        **extra,
    }
    if request.query_params.get("promoted"):
        context["flash"] = _(
            "Saved: %(arm)s becomes the champion at the next daily run, and the experiment ends.",
            arm=request.query_params["promoted"],
        )
    return render(request, "business_rules/strategies.html", context, status_code=status)


@router.get(PATH, response_class=HTMLResponse)
def strategies_page(request: Request, actor: PageActor, db: Db, tz: LocalTz) -> Response:
    """The arms' evaluation (Excel with ``?export=xlsx``) and decide.yaml's editor."""
    if wants_export(request):
        evaluation = service.latest_evaluation(db, actor)
        tables = [arm_table(evaluation.arms), learning_table(service.latest_learning(db, actor))]
        return export_tables(request, actor, db, tables, "strategies", tz)
    return render_page(request, actor, db)


@router.post(PATH + "/{arm}/promote", response_class=HTMLResponse)
def promote(
    request: Request,
    actor: PageActor,
    db: Db,
    arm: str,
    reason: Annotated[str, Form(max_length=500)] = "",
    override: Annotated[bool, Form()] = False,
) -> Response:
    """Promote a challenger (administrators); refused with the reason shown on the page."""
    actor.require_configure()
    try:
        service.promote(db, actor, arm[:32], reason=reason, override=override)
    except WeiwanError as exc:
        db.rollback()
        return render_page(
            request, actor, db, status_code=409, promote_error=error_text(exc), promote_arm=arm[:32]
        )
    return RedirectResponse(f"{PATH}?promoted={arm[:32]}", status_code=303)
