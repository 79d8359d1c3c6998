"""Call quality inspection (质检, /quality): a random sample of the team's recent contacts,
the score form (the contacts service's inspection, as the API's route) and past inspections
with the average score per agent."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from weiwan.core.errors import InvalidRequestError
from weiwan.ops.appraisal import board
from weiwan.ops.base import as_utc
from weiwan.ops.contacts import service as contacts
from weiwan.ops.contacts.schemas import InspectionIn
from weiwan.ops.org.directory import display_names
from weiwan.ops.tasks.due import day_bounds
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import template_globals
from weiwan.web.pages.deps import Db, LocalTz, PageActor, PageForm, export_tables
from weiwan.web.tables import Column, Table, wants_export
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)

DEFAULT_SAMPLE = 5
MAX_SAMPLE = 50

SAMPLE_COLUMNS = (
    Column("contact_id", _l("Contact")),
    Column("agent", _l("Agent")),
    Column("at", _l("Time"), "datetime"),
    Column("channel", _l("Channel")),
    Column("subscriber_id", _l("Subscriber")),
    Column("outcomes", _l("Outcome")),
    Column("note", _l("Notes")),
    Column("recording_ref", _l("Recording")),
    Column("score", _l("Score"), "int"),
)
INSPECTION_COLUMNS = (
    Column("at", _l("Inspected at"), "datetime"),
    Column("agent", _l("Agent")),
    Column("contact_id", _l("Contact")),
    Column("score", _l("Score"), "int"),
    Column("recording_ref", _l("Recording")),
    Column("comments", _l("Comments")),
    Column("inspector", _l("Inspector")),
)
AVERAGE_COLUMNS = (
    Column("agent", _l("Agent")),
    Column("inspections", _l("Inspections"), "int"),
    Column("average", _l("Average score"), "number"),
)


def _day(value: str | None, default: date, field: str) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequestError(_("Use a date like 2026-11-24."), field=field) from exc


def recording_url(template: str | None, contact: Any, agent: str) -> str | None:
    """The contact's recording link from the ``recording_url`` setting (None when unset);
    each value URL-encoded."""
    if not template:
        return None
    values = {
        "contact_id": str(contact.id),
        "subscriber_id": str(contact.subscriber_id),
        "agent": agent,
        "at": as_utc(contact.at).isoformat(),
    }
    return template.format_map({k: quote(v, safe="") for k, v in values.items()})


@router.get("/quality")
def quality(
    request: Request,
    actor: PageActor,
    db: Db,
    tz: LocalTz,
    since: str | None = None,
    until: str | None = None,
    agent: int | None = None,
    size: int = DEFAULT_SAMPLE,
    seed: int | None = None,
) -> Response:
    """The sample to inspect, past inspections and the average score per agent."""
    actor.require(*board.BOARD_READERS)
    today = datetime.now(tz).date()
    first = _day(since, today - timedelta(days=1), "since")
    last = _day(until, today, "until")
    if last < first:
        raise InvalidRequestError(_("The end is before the start."), field="until")
    size = max(1, min(MAX_SAMPLE, size))
    if seed is None:  # a stable sample for the day until the inspector draws another
        seed = int(today.strftime("%Y%m%d"))
    start, _end = day_bounds(first, tz)
    _start, end = day_bounds(last, tz)
    agents = board.team_agents(db, actor)
    sample = board.sample_contacts(db, actor, start, end, per_agent=size, seed=seed, agent_id=agent)
    labels = template_globals()
    outcomes = contacts.outcomes_of(db, [c.id for c in sample])
    latest = board.inspections_of_contacts(db, [c.id for c in sample])
    past = board.inspections(db, actor, start, end)
    names = {a.id: a.display_name for a in agents} | display_names(
        db, {i.inspector_id for i, _c in past}
    )
    usernames = {a.id: a.username for a in agents}
    sample_rows = [
        {
            "contact_id": c.id,
            "agent": names.get(c.user_id or 0, "—"),
            "at": c.at,
            "channel": labels["channel_label"](c.channel),
            "subscriber_id": c.subscriber_id,
            "outcomes": ", ".join(
                labels["outcome_label"](o.outcome) for o in outcomes.get(c.id, [])
            ),
            "note": c.note,
            "recording_ref": latest[c.id].recording_ref if c.id in latest else None,
            "score": latest[c.id].score if c.id in latest else None,
            "recording_url": recording_url(
                request.app.state.settings.recording_url, c, usernames.get(c.user_id or 0, "")
            ),
        }
        for c in sample
    ]
    inspection_rows = [
        {
            "at": i.at,
            "agent": names.get(c.user_id or 0, "—"),
            "agent_id": c.user_id,
            "contact_id": c.id,
            "score": i.score,
            "recording_ref": i.recording_ref,
            "comments": i.comments,
            "inspector": names.get(i.inspector_id, "—"),
        }
        for i, c in past
    ]
    average_rows = sorted(
        (
            {
                "agent": names.get(s.agent_id, "—"),
                "inspections": s.inspections,
                "average": s.average,
            }
            for s in board.score_averages(past)
        ),
        key=lambda row: str(row["agent"]),
    )
    tables = [
        Table(
            "quality-sample",
            SAMPLE_COLUMNS,
            sample_rows,
            title=_("Sample to inspect"),
            empty=_("No contacts in this period."),
        ),
        Table(
            "quality-inspections",
            INSPECTION_COLUMNS,
            inspection_rows,
            title=_("Inspections"),
            empty=_("No inspections in this period."),
        ),
        Table(
            "quality-averages",
            AVERAGE_COLUMNS,
            average_rows,
            title=_("Average score per agent"),
            empty=_("No inspections in this period."),
        ),
    ]
    if wants_export(request):
        return export_tables(request, actor, db, tables, f"quality-{first}-{last}", tz)
    return render(
        request,
        "team/quality.html",
        {
            "tables": tables,
            "since": first,
            "until": last,
            "agent": agent,
            "agents": agents,
            "size": size,
            "seed": seed,
            "new_seed": random.randrange(1, 2**31),
        },
    )


@router.post("/quality/{contact_id}/inspect")
def inspect(
    request: Request, contact_id: int, actor: PageActor, db: Db, form: PageForm
) -> Response:
    """Score a contact (the contacts service's inspection, as ``POST
    /api/v1/contacts/{id}/inspections``)."""
    actor.require(*board.BOARD_READERS)
    try:
        body = InspectionIn(
            score=int(str(form.get("score") or "")),
            comments=str(form.get("comments") or "").strip() or None,
            recording_ref=str(form.get("recording_ref") or "").strip() or None,
        )
    except (ValueError, ValidationError) as exc:
        raise InvalidRequestError(_("Give a score from 0 to 100."), field="score") from exc
    inspection = contacts.inspect_contact(db, actor, contact_id, body)
    if request.headers.get("HX-Request"):
        return render(request, "team/_inspected.html", {"inspection": inspection})
    back = str(form.get("next") or "/quality")
    return RedirectResponse(back if back.startswith("/quality") else "/quality", status_code=303)
