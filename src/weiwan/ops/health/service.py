"""Readiness: the operational database answers, its schema is at this release's migration
head, and the day's publication is there — or not yet due (``publication_due``, local time).

No login: a load balancer or monitoring probe calls these. They disclose no data: states and
the latest publication's date and time only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from weiwan.ops.base import as_utc
from weiwan.ops.customers.models import Publication
from weiwan.ops.migrate import head
from weiwan.ops.tasks.due import local_today

#: the publication kind that makes a day (the customers' view)
DAY_KIND = "customers"


@dataclass
class Readiness:
    """Each check's state and whether all of them allow serving."""

    database: str = "ok"
    migrations: str = "ok"
    publication: str = "ok"
    latest_publication: datetime | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        """Every check passed."""
        return not self.problems


def readiness(session: Session, now: datetime, tz: ZoneInfo, due: time) -> Readiness:
    """The checks at ``now``: database, migrations, today's publication (due at ``due``)."""
    found = Readiness()
    try:
        session.execute(text("SELECT 1"))
        revision = MigrationContext.configure(session.connection()).get_current_revision()
    except SQLAlchemyError as exc:
        found.database = "unreachable"
        found.migrations = found.publication = "unknown"
        found.problems.append(f"database: {type(exc).__name__}")
        return found
    expected = head()
    if revision != expected:  # an older schema may lack what the checks below read
        found.migrations = "behind" if revision else "none"
        found.publication = "unknown"
        found.problems.append(f"migrations: at {revision or 'none'}, this release needs {expected}")
        return found
    latest = session.scalar(
        select(func.max(Publication.published_at)).where(Publication.kind == DAY_KIND)
    )
    found.latest_publication = as_utc(latest) if latest else None
    if latest is not None and local_today(tz, latest) == local_today(tz, now):
        return found
    if as_utc(now).astimezone(tz).time() < due:
        found.publication = "not yet due"
        return found
    found.publication = "late"
    found.problems.append(f"publication: none today (due {due.strftime('%H:%M')} local time)")
    return found
