"""Render the data contract as Markdown, so docs/data-contract.md never drifts from the code."""

from __future__ import annotations

from weiwan.analytics.contract import TABLES, Column, Table

_INTRO = """# Data contract / 数据接口规范

Generated from `src/weiwan/analytics/contract.py` by `weiwan contract docs`; do not edit by hand.

An operator delivers one directory of extract files per **snapshot** (delivery date), loaded with
`weiwan ingest DIR --snapshot YYYY-MM-DD [--mapping FILE] [--json]`.

## Files
- One file per table, named `<table>.parquet`, `<table>.csv`, `<table>.tsv` or `<table>.txt`, or
  named by a glob in the mapping file. A delivery may hold only some tables (a daily delivery often
  has only `status_events`); the tables that reference subscribers need `subscribers` in the same or
  an earlier delivery.
- CSV: header row, UTF-8 (with or without BOM) or GBK/GB18030, comma or tab separated (detected, or
  set in the mapping file). Blank cells are missing values.
- Types: `date` is `YYYY-MM-DD` (also `YYYYMMDD`, `YYYY/MM/DD`); `timestamp` is
  `YYYY-MM-DD HH:MM:SS` (also `YYYY/MM/DD HH:MM:SS`, `YYYYMMDDHHMMSS`); `month` is `YYYY-MM` or
  `YYYYMM`; `boolean` is true/false, 1/0, Y/N, yes/no, 是/否; `decimal` uses a dot. A mapping file
  may declare another strptime format per date/timestamp column.
- Parquet: typed columns are taken as they are (timestamps in any unit, dates as date32 or text,
  `month` as text `YYYY-MM` or a date whose day is ignored); text columns are parsed as in CSV.
- `subscribers` may carry any number of extra attribute columns; they are kept (typed as integer,
  decimal, boolean or text by their values) and are usable as features. Extra columns in other
  tables are ignored and reported.

## Validation, quarantine and idempotency
- Every row is checked against the table below: required values, type, allowed values, ranges,
  patterns, unique key within the file, and that `subscriber_id` is a known subscriber. A row
  failing any check goes to the `quarantine` table (snapshot, table, file, line, column, value,
  reason), one entry per failing check; the other rows load.
- A missing required column, an unreadable file or a wrong encoding fails the whole delivery with a
  message naming the file and column; the warehouse is left exactly as it was.
- Loading the same file again for the same snapshot changes nothing; a corrected re-delivery of a
  snapshot replaces that snapshot's rows of that table atomically. A later snapshot's version of a
  key supersedes an earlier one.

## Column-mapping files
Operators load their own headers (often Chinese) and codes with a YAML file:

```yaml
defaults: {encoding: auto, delimiter: auto}   # auto | utf-8 | gbk | gb18030; auto | "," | "\\t"
tables:
  subscribers:
    file: "用户资料*.csv"
    encoding: gbk
    columns: {用户标识: subscriber_id, 手机号码: msisdn, 付费类型: payment_type}
    values: {payment_type: {预付费: prepaid, 后付费: postpaid}}
    formats: {join_date: "%Y%m%d"}
```
"""


def _rules(column: Column) -> str:
    parts: list[str] = []
    if column.allowed:
        parts.append(" / ".join(f"`{v}`" for v in column.allowed))
    if column.minimum is not None or column.maximum is not None:
        low = "" if column.minimum is None else f"{column.minimum:g}"
        high = "" if column.maximum is None else f"{column.maximum:g}"
        parts.append(f"{low}..{high}")
    if column.pattern:
        parts.append(f"`{column.pattern}`")
    if column.description:
        parts.append(column.description)
    return "; ".join(parts).replace("|", "\\|")


def _table_section(table: Table) -> str:
    lines = [
        f"## {table.name} — {table.label_zh} / {table.label_en}",
        "",
        f"Grain: {table.grain}. Key: `{', '.join(table.key)}`."
        + (f" Event time: `{table.event_time}`." if table.event_time else "")
        + (" Extra attribute columns allowed." if table.extra_columns else ""),
        "",
        "| column | type | required | unit | rules | 中文 | English | PII |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for col in table.columns:
        lines.append(
            f"| `{col.name}` | {col.type.value} | {'yes' if col.required else 'no'} | "
            f"{col.unit or ''} | {_rules(col)} | {col.label_zh} | {col.label_en} | "
            f"{'yes' if col.pii else ''} |"
        )
    return "\n".join(lines)


def render_markdown() -> str:
    """The whole contract document."""
    return _INTRO + "\n" + "\n\n".join(_table_section(t) for t in TABLES) + "\n"
