"""Today's work in the operational database, for ``/metrics``: tasks created and closed,
contacts and acceptances, SMS by status, real-time events by status and the backlog; and the
latest daily run: its end, its outcome, each step's duration and rows.

Read from the database, not counted in the web process: tasks, contacts and SMS are also made
by the daily hand-over, the dispatcher and the event consumers, which run in other processes;
the database sees them all. Each figure is one indexed aggregate over the local day; the
figures are kept :data:`CACHE_SECONDS` so frequent scrapes cost nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from weiwan.core.ttl_cache import TTLCache
from weiwan.ops.base import as_utc
from weiwan.ops.contacts.models import Acceptance, Contact
from weiwan.ops.events.models import EventRecord
from weiwan.ops.runs.models import DailyRun, DailyRunStep
from weiwan.ops.sms.models import SmsMessage
from weiwan.ops.tasks.due import day_bounds, local_today
from weiwan.ops.tasks.models import Task

CACHE_SECONDS = 15.0


@dataclass(frozen=True)
class Figure:
    """One sample: metric name, help text, labels and value."""

    name: str
    help: str
    labels: tuple[tuple[str, str], ...]
    value: float


_cache: TTLCache[tuple[str, str], list[Figure]] = TTLCache(CACHE_SECONDS, max_entries=8)


def todays_figures(session: Session, now: datetime, tz: ZoneInfo) -> list[Figure]:
    """The figures of the local day of ``now`` (cached :data:`CACHE_SECONDS` per database)."""
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    day = local_today(tz, now)
    return _cache.get_or_compute((url, day.isoformat()), lambda: _figures(session, day, tz))


def _figures(session: Session, day: date, tz: ZoneInfo) -> list[Figure]:
    start, end = day_bounds(day, tz)
    out: list[Figure] = []

    def grouped(name: str, text: str, label: str, query: object) -> None:
        for key, count in session.execute(query):  # type: ignore[call-overload]
            out.append(Figure(name, text, ((label, str(key)),), float(count)))

    grouped(
        "weiwan_tasks_created_today",
        "Tasks created since local midnight, by channel.",
        "channel",
        select(Task.channel, func.count())
        .where(Task.created_at >= start, Task.created_at < end)
        .group_by(Task.channel),
    )
    grouped(
        "weiwan_tasks_closed_today",
        "Tasks closed since local midnight, by status.",
        "status",
        select(Task.status, func.count())
        .where(Task.closed_at >= start, Task.closed_at < end)
        .group_by(Task.status),
    )
    grouped(
        "weiwan_contacts_today",
        "Contacts recorded since local midnight (sent or blocked), by channel.",
        "channel",
        select(Contact.channel, func.count())
        .where(Contact.at >= start, Contact.at < end)
        .group_by(Contact.channel),
    )
    grouped(
        "weiwan_acceptances_today",
        "Offers accepted since local midnight, by channel.",
        "channel",
        select(Acceptance.channel, func.count())
        .where(Acceptance.at >= start, Acceptance.at < end)
        .group_by(Acceptance.channel),
    )
    grouped(
        "weiwan_sms_today",
        "SMS created since local midnight, by status (queued, scheduled, sent, failed …).",
        "status",
        select(SmsMessage.status, func.count())
        .where(SmsMessage.created_at >= start, SmsMessage.created_at < end)
        .group_by(SmsMessage.status),
    )
    grouped(
        "weiwan_events_today",
        "Real-time events received since local midnight, by status.",
        "status",
        select(EventRecord.status, func.count())
        .where(EventRecord.received_at >= start, EventRecord.received_at < end)
        .group_by(EventRecord.status),
    )
    backlog = session.scalar(
        select(func.count()).select_from(EventRecord).where(EventRecord.status == "received")
    )
    out.append(
        Figure(
            "weiwan_events_backlog",
            "Events received and not yet processed.",
            (),
            float(backlog or 0),
        )
    )
    out += _last_run(session)
    return out


def _last_run(session: Session) -> list[Figure]:
    """The latest finished daily run: when it ended, whether it succeeded, and each step's
    duration and rows (the pipeline's figures, from the run history of `weiwan daily`)."""
    run = session.scalar(
        select(DailyRun)
        .where(DailyRun.finished_at.is_not(None))
        .order_by(DailyRun.id.desc())
        .limit(1)
    )
    if run is None or run.finished_at is None:
        return []
    out = [
        Figure(
            "weiwan_daily_run_finished_timestamp_seconds",
            "When the latest daily run ended (Unix time).",
            (),
            as_utc(run.finished_at).timestamp(),
        ),
        Figure(
            "weiwan_daily_run_succeeded",
            "Whether the latest daily run succeeded (1) or not (0).",
            (("status", run.status),),
            1.0 if run.status == "succeeded" else 0.0,
        ),
    ]
    for step in session.scalars(select(DailyRunStep).where(DailyRunStep.run_id == run.id)):
        labels = (("step", step.step), ("status", step.status))
        text = "Duration of each step of the latest daily run."
        out.append(Figure("weiwan_daily_run_step_seconds", text, labels, step.seconds))
        if step.rows is not None:
            text = "Rows of each step of the latest daily run."
            out.append(Figure("weiwan_daily_run_step_rows", text, labels, float(step.rows)))
    return out
