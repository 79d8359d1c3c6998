"""Rows for the team and campaign page tests: tasks, contacts with outcomes, acceptances, and
a parser of the pages' tables."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import Engine

from weiwan.core.db import session_scope
from weiwan.ops.contacts.models import Acceptance, Contact, ContactOutcome
from weiwan.ops.tasks.models import Task


@dataclass(frozen=True)
class TaskRow:
    """A task to create: assignee, status, due and closed moments (UTC)."""

    assignee: int
    status: str = "open"
    due_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True)
class ContactRow:
    """A contact to create: who, when, sent or blocked, its outcomes."""

    user_id: int
    at: datetime
    status: str = "sent"
    outcomes: tuple[str, ...] = ("connected",)
    accepted: bool = False


def add_tasks(engine: Engine, branch_id: int, rows: list[TaskRow]) -> list[int]:
    """Create the tasks; their ids in order."""
    ids: list[int] = []
    batch = uuid.uuid4().hex[:8]
    with session_scope(engine) as session:
        for n, row in enumerate(rows):
            task = Task(
                subscriber_id=f"S{n + 1:05d}",
                source="manual",
                origin=f"test:{batch}:{n}",
                channel="outbound_call",
                branch_id=branch_id,
                assignee_id=row.assignee,
                status=row.status,
                due_at=row.due_at,
                closed_at=row.closed_at,
                title_zh=f"任务{n}",
                title_en=f"Task {n}",
            )
            session.add(task)
            session.flush()
            ids.append(task.id)
    return ids


def add_contacts(engine: Engine, rows: list[ContactRow]) -> list[int]:
    """Create the contacts with their outcomes (and an acceptance when accepted)."""
    ids: list[int] = []
    with session_scope(engine) as session:
        for n, row in enumerate(rows):
            contact = Contact(
                subscriber_id=f"S{n + 1:05d}",
                at=row.at,
                channel="outbound_call",
                status=row.status,
                user_id=row.user_id,
                note=f"note {n}",
            )
            session.add(contact)
            session.flush()
            for outcome in row.outcomes:
                session.add(ContactOutcome(contact_id=contact.id, outcome=outcome))
            if row.accepted:
                session.add(
                    Acceptance(
                        subscriber_id=contact.subscriber_id,
                        policy_id="keep168",
                        contact_id=contact.id,
                        channel="outbound_call",
                        user_id=row.user_id,
                        at=row.at,
                        status="active",
                        cost=10.0,
                    )
                )
            ids.append(contact.id)
    return ids


class _TableParser(HTMLParser):
    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id = table_id
        self.depth = 0
        self.rows: list[dict[str, Any]] = []
        self.row: dict[str, Any] | None = None
        self.key: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "table" and values.get("id") == self.table_id:
            self.depth = 1
        elif self.depth and tag == "table":
            self.depth += 1
        elif self.depth and tag == "tr":
            self.row = {"_attrs": values}
        elif self.depth and tag == "td" and self.row is not None and values.get("data-key"):
            self.key, self.text = values["data-key"], []

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag == "table":
            self.depth -= 1
        elif self.depth and tag == "td" and self.key and self.row is not None:
            self.row[self.key] = " ".join("".join(self.text).split())
            self.key = None
        elif self.depth and tag == "tr" and self.row is not None:
            if len(self.row) > 1:
                self.rows.append(self.row)
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.key:
            self.text.append(data)


def table_rows(html: str, table_id: str) -> list[dict[str, Any]]:
    """The body rows of ``<table id=table_id>``: cell text by ``data-key`` (and ``_attrs``)."""
    parser = _TableParser(table_id)
    parser.feed(html)
    return parser.rows


def workbook_rows(content: bytes) -> list[list[Any]]:
    """The rows (heading first) of the first sheet of an .xlsx."""
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def at_local(tz: Any, days: int = 0, hour: int = 0, second: int = 0) -> datetime:
    """Midnight (plus ``hour``/``second``) of today + ``days`` in ``tz``."""
    today = datetime.now(tz).date() + timedelta(days=days)
    return datetime(today.year, today.month, today.day, hour, 0, second, tzinfo=tz)
