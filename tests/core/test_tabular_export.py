"""The shared export writer: user text is text in every Excel and CSV export (never a live
formula), numbers stay numbers, and sheet titles are always valid."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from openpyxl import load_workbook

from weiwan.analytics.exports import write_table
from weiwan.core.tabular_export import (
    MAX_SHEET_TITLE,
    Sheet,
    csv_bytes,
    csv_value,
    sheet_titles,
    xlsx_bytes,
)
from weiwan.ops.dataquality.export import correction_csv
from weiwan.ops.tasks.dialer import to_csv, to_xlsx
from weiwan.web.tables import Column, Table, workbook_bytes

EVIL = '=HYPERLINK("http://evil","x")'
TZ = ZoneInfo("Asia/Shanghai")


def _xlsx_cells(content: bytes) -> list[list[Any]]:
    """Every data row's cells (heading skipped) of the first sheet."""
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    return [list(row) for row in sheet.iter_rows(min_row=2)]


def _web_table() -> bytes:
    table = Table(
        "t",
        [Column("note", "Note"), Column("count", "Count", "int"), Column("share", "S", "percent")],
        [{"note": EVIL, "count": 42, "share": 0.5}],
        title="Notes",
    )
    return workbook_bytes([table], TZ)


def _dialer_xlsx() -> bytes:
    return to_xlsx([{"name": EVIL, "task_id": 42, "share": 0.5}], ["name", "task_id", "share"], "x")


def _frame_xlsx(tmp_path: Path) -> bytes:
    out = tmp_path / "decisions.xlsx"
    frame = pd.DataFrame({"why": [EVIL], "n": [42], "value": [0.5]})
    assert write_table(frame, out, "decisions 2026-11-30") == 1
    return out.read_bytes()


#: every Excel writer of the product: page tables (all ``?export=xlsx`` pages and the CLI
#: ``report --xlsx``), the dialer call list and the anomaly pool export, and the analytics
#: exports (``decisions export``, ``scores export``, ``model score``)
XLSX_EXPORTS: dict[str, Callable[[Path], bytes]] = {
    "web_tables": lambda _p: _web_table(),
    "dialer_and_anomalies": lambda _p: _dialer_xlsx(),
    "analytics_write_table": _frame_xlsx,
}


@pytest.mark.parametrize("export", XLSX_EXPORTS.values(), ids=list(XLSX_EXPORTS))
def test_excel_exports_write_text_as_text_and_numbers_as_numbers(
    export: Callable[[Path], bytes], tmp_path: Path
) -> None:
    (row,) = _xlsx_cells(export(tmp_path))
    text, number, share = row
    assert text.value == EVIL and text.data_type == "s"
    assert number.value == 42 and number.data_type == "n"
    assert share.value == 0.5 and share.data_type == "n"


def _dialer_csv(_p: Path) -> str:
    return to_csv(
        [{"name": EVIL, "task_id": 42, "share": 0.5}], ["name", "task_id", "share"]
    ).decode("utf-8-sig")


def _frame_csv(tmp_path: Path) -> str:
    out = tmp_path / "scores.csv"
    write_table(pd.DataFrame({"why": [EVIL], "n": [42], "value": [0.5]}), out, "scores")
    return out.read_text(encoding="utf-8")


def _corrections_csv(_p: Path) -> str:
    report = SimpleNamespace(
        subscriber_id="S1",
        source_table="subscribers",
        source_column=None,
        data_value="-1",
        reported_value=EVIL,
        reported_at=datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
    )
    return correction_csv([report], TZ)  # type: ignore[list-item]


#: every CSV writer: the dialer call list, the analytics exports, the correction file
CSV_EXPORTS: dict[str, Callable[[Path], str]] = {
    "dialer": _dialer_csv,
    "analytics_write_table": _frame_csv,
    "dataquality_corrections": _corrections_csv,
}


@pytest.mark.parametrize("export", CSV_EXPORTS.values(), ids=list(CSV_EXPORTS))
def test_csv_exports_never_start_a_text_with_a_formula_character(
    export: Callable[[Path], str], tmp_path: Path
) -> None:
    rows = list(csv.reader(io.StringIO(export(tmp_path))))
    cells = [cell for row in rows[1:] for cell in row]
    assert f"'{EVIL}" in cells
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)


@pytest.mark.parametrize("text", ["=1+2", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_csv_prefixes_each_dangerous_first_character(text: str) -> None:
    assert csv_value(text) == f"'{text}"


def test_csv_keeps_numbers_and_plain_text() -> None:
    assert csv_value(-3.5) == -3.5 and csv_value(-2) == -2
    assert csv_value("李四") == "李四" and csv_value(None) == "" and csv_value(float("nan")) == ""
    body = csv_bytes(["a", "b"], [[-3.5, "x=1"]]).decode("utf-8")
    assert body == "\ufeffa,b\r\n-3.5,x=1\r\n"


def test_excel_keeps_types_and_drops_characters_a_cell_cannot_hold() -> None:
    when = datetime(2026, 11, 30, 9, 30)
    content = xlsx_bytes(
        [Sheet("s", ["a", "b", "c", "d"], [["bad\x01text", when, None, True]], ["", "yyyy-mm-dd"])]
    )
    ((text, day, blank, flag),) = _xlsx_cells(content)
    assert text.value == "badtext" and text.data_type == "s"
    assert day.value == when and day.is_date and blank.value is None and flag.value is True


def test_sheet_titles_are_valid_unique_and_short() -> None:
    names = [
        "1. 满意吗/为什么? *[必答]: 请说明",
        "1. 满意吗/为什么? *[必答]: 请说明",
        "",
        "'x'",
        "History",
    ]
    titles = sheet_titles(names)
    assert len(set(t.lower() for t in titles)) == len(titles)
    for title in titles:
        assert 0 < len(title) <= MAX_SHEET_TITLE
        assert not set(title) & set("\\/?*[]:") and not title.startswith("'")
    long = "问" * 40
    assert sheet_titles([long, long]) == ["问" * 31, "问" * 27 + " (2)"]
    # the workbook takes them (openpyxl raises on an invalid title)
    content = xlsx_bytes(Sheet(n, ["h"], [["v"]]) for n in names)
    assert load_workbook(io.BytesIO(content)).sheetnames == titles


def test_page_tables_each_keep_their_own_columns() -> None:
    first = Table(
        "a", [Column("x", "X"), Column("n", "N", "int")], [{"x": "甲", "n": 1}], title="A"
    )
    second = Table("b", [Column("y", "Y")], [{"y": "乙"}], title="B")
    book = load_workbook(io.BytesIO(workbook_bytes([first, second], TZ)))
    assert [list(r) for r in book["A"].iter_rows(values_only=True)] == [["X", "N"], ["甲", 1]]
    assert [list(r) for r in book["B"].iter_rows(values_only=True)] == [["Y"], ["乙"]]
