"""Pages of the campaigns area (四步一库): the plan list, the plan form with the live target
count, the detail page with the actions of the plan's state (rehearse, submit, approve /
reject, start, complete, evaluate), the approval queue and the plan library with clone.
Who may do what is the campaign services' (docs/campaigns.md); the pages only hide buttons."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from weiwan.core.errors import ConflictError, InvalidRequestError
from weiwan.ops.campaigns import approvals, evaluation, execution, rehearsal, service
from weiwan.ops.campaigns.models import STATUSES, SUBMITTED, Campaign
from weiwan.ops.campaigns.schemas import CampaignCreate, CampaignUpdate
from weiwan.ops.customers.tags import tag_labels
from weiwan.ops.offers.service import policy_names
from weiwan.ops.org.access import Actor
from weiwan.ops.org.directory import display_names
from weiwan.web.errors import error_text
from weiwan.web.i18n import current_language
from weiwan.web.i18n import gettext as _
from weiwan.web.pages import campaign_forms as forms
from weiwan.web.pages import campaign_views as views
from weiwan.web.pages.campaign_lists import (
    branch_names,
    campaign_table,
    form_choices,
    library_table,
    questionnaire_title,
)
from weiwan.web.pages.deps import Db, LocalTz, PageActor, PageForm, export_tables
from weiwan.web.tables import wants_export
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)


def _go(request: Request, url: str) -> Response:
    """Answer a finished action: htmx follows ``HX-Redirect``, a plain form a 303."""
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def _safe_next(value: Any, default: str) -> str:
    text = str(value or "")
    return text if text.startswith("/campaigns") and "//" not in text else default


# --- lists ------------------------------------------------------------------------------------


@router.get("/campaigns")
def campaign_list(
    request: Request,
    actor: PageActor,
    db: Db,
    tz: LocalTz,
    status: str | None = None,
    branch_id: int | None = None,
) -> Response:
    """Plans in scope by state, newest first."""
    chosen = status if status in STATUSES else None
    rows = service.list_campaigns(db, actor, status=chosen, branch_id=branch_id, limit=500)
    names = branch_names(db)
    table = campaign_table("campaigns", rows, names, title=_("Campaigns"))
    if wants_export(request):
        return export_tables(request, actor, db, [table], "campaigns", tz)
    counts: dict[str, int] = {}
    for row in service.list_campaigns(db, actor, branch_id=branch_id, limit=500):
        counts[row.status] = counts.get(row.status, 0) + 1
    return render(
        request,
        "campaigns/list.html",
        {
            "table": table,
            "statuses": STATUSES,
            "status": chosen,
            "counts": counts,
            "branch_id": branch_id,
            "branches": {k: v for k, v in names.items() if service.sees_branch(actor, k)},
            "may_plan": actor.role in service.PLANNERS,
        },
    )


@router.get("/campaigns/approvals")
def approval_queue(request: Request, actor: PageActor, db: Db, tz: LocalTz) -> Response:
    """Submitted plans waiting for the actor's level (and branch)."""
    actor.require_approve()
    waiting = [
        c
        for c in service.list_campaigns(db, actor, status=SUBMITTED, limit=500)
        if views.may_decide(actor, c)
    ]
    names = branch_names(db)
    table = campaign_table("approval-queue", waiting, names, title=_("Approval queue"))
    if wants_export(request):
        return export_tables(request, actor, db, [table], "approval-queue", tz)
    return render(
        request,
        "campaigns/approvals.html",
        {"table": table, "waiting": waiting, "branches": names, "chain_of": views.chain_of},
    )


@router.get("/campaigns/library")
def plan_library(request: Request, actor: PageActor, db: Db, tz: LocalTz) -> Response:
    """Finished plans (completed, evaluated) with their figures, to clone."""
    actor.require(*service.PLANNERS, *service.READ_ALL)
    plans = evaluation.library(db, actor)
    table = library_table(plans, branch_names(db))
    if wants_export(request):
        return export_tables(request, actor, db, [table], "plan-library", tz)
    return render(
        request,
        "campaigns/library.html",
        {"table": table, "may_clone": actor.role in service.PLANNERS},
    )


# --- the plan form ----------------------------------------------------------------------------


def _form_page(
    request: Request,
    db: Db,
    actor: Actor,
    plan: forms.PlanForm,
    campaign: Campaign | None = None,
    problem: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "campaigns/form.html",
        {
            "plan": plan,
            "campaign": campaign,
            "problem": problem,
            **form_choices(db, actor),
        },
        status_code=422 if problem else 200,
    )


@router.get("/campaigns/new")
def new_plan(request: Request, actor: PageActor, db: Db) -> Response:
    """An empty plan form (planners)."""
    actor.require(*service.PLANNERS)
    plan = forms.PlanForm(
        branch_id=actor.branch_id if service.sees_branch(actor, actor.branch_id) else None
    )
    return _form_page(request, db, actor, plan)


@router.post("/campaigns/new")
def create_plan(request: Request, actor: PageActor, db: Db, form: PageForm) -> Response:
    """Create the draft from the form (the campaign service's create, as the API's)."""
    actor.require(*service.PLANNERS)
    plan = forms.plan_form_of(form)
    try:
        body = CampaignCreate(**forms.service_fields(plan, tag_labels(db)))
        campaign = service.create_campaign(db, actor, body)
    except ValidationError as exc:
        where, message = forms.validation_message(exc)
        return _form_page(request, db, actor, plan, problem=f"{where}: {message}")
    except InvalidRequestError as exc:
        return _form_page(request, db, actor, plan, problem=error_text(exc))
    return RedirectResponse(f"/campaigns/{campaign.id}", status_code=303)


@router.post("/campaigns/preview-count")
def preview_count(request: Request, actor: PageActor, db: Db, form: PageForm) -> Response:
    """The live target count of the form's filter (the same count as the API's
    ``POST /campaigns/preview-count``): an htmx fragment."""
    try:
        combine, rows, filter_json = forms.filter_rows_of_form(form)
        raw = forms.build_filter(combine, rows, filter_json, tag_labels(db))
        if not any(raw.values()) and len(raw) == 1:
            return render(
                request,
                "campaigns/_count.html",
                {"count": None, "problem": _("Add a condition to count the targets.")},
            )
        branch = str(form.get("branch_id") or "")
        count = rehearsal.preview_count(db, actor, raw, int(branch) if branch.isdigit() else None)
    except InvalidRequestError as exc:
        return render(request, "campaigns/_count.html", {"count": None, "problem": error_text(exc)})
    return render(request, "campaigns/_count.html", {"count": count, "problem": None})


@router.get("/campaigns/{campaign_id}/edit")
def edit_plan(request: Request, campaign_id: int, actor: PageActor, db: Db) -> Response:
    """The plan form filled with the plan (editing sends a rehearsed/submitted plan back to
    draft)."""
    campaign = service.get_campaign(db, actor, campaign_id)
    service.require(actor, service.PLANNERS, campaign.branch_id)
    service.expect(campaign, service.EDITABLE, "edit")
    combine, rows, filter_json = forms.rows_of_filter(
        service.loads(campaign.target_filter), tag_labels(db)
    )
    plan = forms.PlanForm(
        name=campaign.name,
        description=campaign.description,
        branch_id=campaign.branch_id,
        combine=combine,
        rows=rows,
        filter_json=filter_json,
        policy_ids=service.loads(campaign.policy_ids),
        channels=service.loads(campaign.channels),
        script_zh=campaign.script_zh,
        script_en=campaign.script_en,
        holdout_share=campaign.holdout_share,
        start_date=campaign.start_date,
        end_date=campaign.end_date,
        questionnaire_id=campaign.questionnaire_id,
    )
    return _form_page(request, db, actor, plan, campaign)


@router.post("/campaigns/{campaign_id}/edit")
def update_plan(
    request: Request, campaign_id: int, actor: PageActor, db: Db, form: PageForm
) -> Response:
    """Save the edited plan (the campaign service's update)."""
    campaign = service.get_campaign(db, actor, campaign_id)
    plan = forms.plan_form_of(form)
    try:
        body = CampaignUpdate(**forms.service_fields(plan, tag_labels(db)))
        service.update_campaign(db, actor, campaign_id, body)
    except ValidationError as exc:
        where, message = forms.validation_message(exc)
        return _form_page(request, db, actor, plan, campaign, problem=f"{where}: {message}")
    except (InvalidRequestError, ConflictError) as exc:
        return _form_page(request, db, actor, plan, campaign, problem=error_text(exc))
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


# --- one plan ---------------------------------------------------------------------------------


@router.get("/campaigns/{campaign_id}")
def campaign_detail(
    request: Request, campaign_id: int, actor: PageActor, db: Db, tz: LocalTz
) -> Response:
    """A plan: its fields, actions, approval chain, rehearsal, running monitor, evaluation and
    history."""
    campaign = service.get_campaign(db, actor, campaign_id)
    history = list(service.history(db, campaign.id))
    stored_rehearsal = service.loads(campaign.rehearsal)
    figures = service.loads(campaign.evaluation)
    policy_words = policy_names(db, current_language())
    rehearsal_view = (
        views.rehearsal_view(stored_rehearsal, policy_words) if stored_rehearsal else None
    )
    evaluation_view = views.evaluation_view(figures) if figures else None
    monitor = (
        views.monitor_figures(evaluation.members_summary(db, actor, campaign.id))
        if campaign.started_at is not None
        else None
    )
    tables = [
        *(
            [
                rehearsal_view["load_table"],
                rehearsal_view["conflict_table"],
                *(
                    [rehearsal_view["opportunity_table"]]
                    if rehearsal_view["opportunity_table"]
                    else []
                ),
            ]
            if rehearsal_view
            else []
        ),
        *([evaluation_view["table"]] if evaluation_view else []),
    ]
    if wants_export(request):
        return export_tables(request, actor, db, tables, f"campaign-{campaign.id}", tz)
    return render(
        request,
        "campaigns/detail.html",
        {
            "campaign": campaign,
            "target_filter": service.loads(campaign.target_filter),
            "filter_text": forms.describe_filter(
                service.loads(campaign.target_filter), tag_labels(db)
            ),
            "policy_ids": service.loads(campaign.policy_ids),
            "policy_words": policy_words,
            "channels": service.loads(campaign.channels),
            "branch_name": branch_names(db).get(campaign.branch_id, str(campaign.branch_id)),
            "questionnaire": questionnaire_title(db, campaign.questionnaire_id),
            "history": history,
            "notes": {t.id: views.note_text(t.note) for t in history},
            "users": display_names(db, {t.user_id for t in history}),
            "actions": views.allowed_actions(actor, campaign),
            "unavailable": views.unavailable_actions(campaign, datetime.now(tz).date()),
            "action_labels": views.ACTION_LABELS,
            "long_actions": views.LONG_ACTIONS,
            "may_edit": views.may_edit(actor, campaign),
            "may_decide": views.may_decide(actor, campaign),
            "steps": views.approval_steps(campaign, history) if campaign.approval_chain else [],
            "rehearsal": stored_rehearsal,
            "rehearsal_view": rehearsal_view,
            "evaluation": figures,
            "evaluated_on": views.evaluation_data_day(figures, campaign.started_at, tz)
            if figures
            else None,
            "evaluation_view": evaluation_view,
            "monitor": monitor,
        },
    )


@router.post("/campaigns/{campaign_id}/approve")
def approve(
    request: Request, campaign_id: int, actor: PageActor, db: Db, form: PageForm
) -> Response:
    """Approve the current level (the approvals service, as the API's)."""
    comment = str(form.get("comment") or "").strip() or None
    approvals.approve(db, actor, campaign_id, comment)
    return _go(request, _safe_next(form.get("next"), f"/campaigns/{campaign_id}"))


@router.post("/campaigns/{campaign_id}/reject")
def reject(
    request: Request, campaign_id: int, actor: PageActor, db: Db, form: PageForm
) -> Response:
    """Reject at the current level (a comment is required)."""
    approvals.reject(db, actor, campaign_id, str(form.get("comment") or "").strip() or None)
    return _go(request, _safe_next(form.get("next"), f"/campaigns/{campaign_id}"))


@router.post("/campaigns/{campaign_id}/clone")
def clone(request: Request, campaign_id: int, actor: PageActor, db: Db) -> Response:
    """A new draft copied from the plan; opens its form (a new schedule is needed)."""
    copy = service.clone_campaign(db, actor, campaign_id)
    return _go(request, f"/campaigns/{copy.id}/edit")


@router.post("/campaigns/{campaign_id}/{action}")
def transition(
    request: Request, campaign_id: int, action: str, actor: PageActor, db: Db, tz: LocalTz
) -> Response:
    """rehearse / submit / start / complete / evaluate (the campaign services, as the API's)."""
    if action == "rehearse":
        rehearsal.rehearse(db, actor, campaign_id, tz)
    elif action == "submit":
        approvals.submit(db, actor, campaign_id, tz)
    elif action == "start":
        execution.start(db, actor, campaign_id, tz)
    elif action == "complete":
        execution.complete(db, actor, campaign_id)
    elif action == "evaluate":
        evaluation.evaluate(db, actor, campaign_id)
    else:
        raise InvalidRequestError(_("Unknown action."), field="action")
    return _go(request, f"/campaigns/{campaign_id}")
