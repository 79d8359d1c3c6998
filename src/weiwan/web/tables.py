"""Tables shown on pages, each exportable to Excel with the same columns and rows.

A page builds a :class:`Table` once; the ``data_table`` macro renders it and
:func:`xlsx_response` writes it (typed cells, headings in the reader's language). Pages answer
``?export=xlsx`` on their own URL, so every table's export shows exactly what the page shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response

from weiwan.core.tabular_export import XLSX_MEDIA_TYPE, Sheet, xlsx_bytes
from weiwan.ops.base import as_utc

#: ``id``: a number that names something (a task number), shown without thousands separators;
#: ``code``: a configuration key (a rule or policy id) that its editors type, shown as code
ColumnKind = Literal[
    "text", "id", "code", "int", "number", "percent", "money", "date", "datetime", "link"
]

_NUMBER_FORMATS: dict[str, str] = {
    "id": "0",
    "int": "#,##0",
    "number": "#,##0.00",
    "percent": "0.0%",
    "money": "#,##0.00",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}


@dataclass(frozen=True, slots=True)
class Column:
    """One column: the row key, its heading (already translated or lazy) and how to show it.

    ``link`` columns take their text from ``key`` and their address from ``href(row)``;
    ``sort``: the key the list sorts by when the heading is clicked (see :class:`Sorting`).
    """

    key: str
    label: Any
    kind: ColumnKind = "text"
    href: Callable[[Mapping[str, Any]], str] | None = None
    sort: str | None = None


@dataclass(frozen=True, slots=True)
class Sorting:
    """How a table is sorted (``key``, ``order`` asc/desc) and the address of the list sorted
    by another key, ``href(key, order)``; a heading shows the order and links to its own."""

    key: str
    order: str
    href: Callable[[str, str], str]
    natural: Mapping[str, str] = field(default_factory=dict)

    def link(self, key: str) -> str:
        """The address a heading links to: the other order of the current key, else the
        key's natural order."""
        if key == self.key:
            return self.href(key, "desc" if self.order == "asc" else "asc")
        return self.href(key, self.natural.get(key, "asc"))

    def aria(self, key: str) -> str | None:
        """The heading's ``aria-sort``: ascending/descending on the sorted column."""
        if key != self.key:
            return None
        return "ascending" if self.order == "asc" else "descending"


@dataclass(slots=True)
class Table:
    """Rows (mappings) under columns, with an id that names its export file."""

    table_id: str
    columns: Sequence[Column]
    rows: Sequence[Mapping[str, Any]]
    title: Any = ""
    empty: Any = ""
    export: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def wants_export(request: Request) -> bool:
    """Whether the request asks for the page's table as an Excel file."""
    return request.query_params.get("export") == "xlsx"


def export_url(request: Request, table_id: str | None = None) -> str:
    """The page's own URL asking for the Excel export (of ``table_id`` when a page has
    several)."""
    params = dict(request.query_params)
    params["export"] = "xlsx"
    if table_id:
        params["table"] = table_id
    query = "&".join(f"{quote(k)}={quote(str(v))}" for k, v in params.items())
    return f"{request.url.path}?{query}"


def _cell(value: Any, kind: str, tz: ZoneInfo) -> Any:
    if value is None:
        return None
    if kind == "datetime" and isinstance(value, datetime):
        return as_utc(value).astimezone(tz).replace(tzinfo=None)  # Excel has no time zones
    if isinstance(value, date | int | float | str | bool):
        return value
    return str(value)


def _sheet(table: Table, tz: ZoneInfo) -> Sheet:
    columns = list(table.columns)
    return Sheet(
        title=str(table.title) or table.table_id,
        header=[str(column.label) for column in columns],
        rows=[[_cell(row.get(c.key), c.kind, tz) for c in columns] for row in table.rows],
        number_formats=[_NUMBER_FORMATS.get(c.kind) for c in columns],
        widths=[max(10, min(40, len(str(c.label)) * 2)) for c in columns],
    )


def workbook_bytes(tables: Sequence[Table], tz: ZoneInfo) -> bytes:
    """An .xlsx with one sheet per table: translated headings, typed and formatted cells, user
    text always as text (the shared writer, ``weiwan.core.tabular_export``)."""
    return xlsx_bytes([_sheet(table, tz) for table in tables])


def xlsx_response(tables: Sequence[Table], filename: str, tz: ZoneInfo) -> Response:
    """The tables as an Excel download named ``filename`` (.xlsx added)."""
    name = filename if filename.endswith(".xlsx") else f"{filename}.xlsx"
    return Response(
        workbook_bytes(tables, tz),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )
