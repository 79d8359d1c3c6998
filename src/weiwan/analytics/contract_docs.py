"""Render the data contract as Markdown, so docs/data-contract.md never drifts from the code."""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

from weiwan.analytics.contract import QUARANTINE_COLUMNS, TABLES, Column, Table
from weiwan.core.event_contract import ATTRIBUTES

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
  set in the mapping file). Blank cells are missing values unless the mapping gives them a value
  (`blanks`); the mapping's `null_values` ("NULL", "\\N", "-") are missing values too.
- Types: `date` is `YYYY-MM-DD` (also `YYYYMMDD`, `YYYY/MM/DD`); `timestamp` is
  `YYYY-MM-DD HH:MM:SS` (also `YYYY/MM/DD HH:MM:SS`, `YYYYMMDDHHMMSS`); `month` is `YYYY-MM` or
  `YYYYMM`; `boolean` is true/false, 1/0, Y/N, yes/no, 是/否; `decimal` uses a dot. A mapping file
  may declare another strptime format per date/timestamp column, and percentages and thousands
  separators per number column (`numbers`).
- Parquet: typed columns are taken as they are (timestamps in any unit, dates as date32 or text,
  `month` as text `YYYY-MM` or a date whose day is ignored); text columns are parsed as in CSV.
- `subscribers` may carry any number of extra attribute columns; they are kept (typed as integer,
  decimal, boolean or text by their values) and are usable as features. Extra columns in other
  tables are ignored and reported.

## Validation, quarantine and idempotency
- Every row is checked against the table below: required values, type, allowed values, ranges,
  patterns, unique key within the file, and that `subscriber_id` is a known subscriber. A row
  failing any check goes to the `quarantine` table (below), one entry per failing check; the other
  rows load.
- A missing required column, an unreadable file or a wrong encoding fails the whole delivery with a
  message naming the file and column (for a missing column also the file's headers that map to no
  contract column and the closest one); the warehouse is left exactly as it was.
- Loading the same file again for the same snapshot changes nothing; a corrected re-delivery of a
  snapshot replaces that snapshot's rows of that table atomically. A later snapshot's version of a
  key supersedes an earlier one. Changing one table's entry in the mapping file reloads only that
  table.
- `weiwan ingest --json` reports, per table, the rows read, loaded and quarantined, the columns
  not delivered and, per column, each quarantine reason with its count and its first example
  (`{"reason", "count", "example": {"line", "value"}}`). When more than
  `WEIWAN_INGEST_MAX_QUARANTINE_SHARE` (default 0.5) of a table's rows are quarantined, the good
  rows are loaded but the command exits with code **3** (1: nothing loaded), so a scheduled
  pipeline run does not go on with a mostly rejected delivery (`--max-quarantine-share` overrides
  the setting for one run).

The `quarantine` table:
{quarantine}

## Column-mapping files
Operators load their own headers (often Chinese) and codes with a YAML file:

```yaml
defaults: {encoding: auto, delimiter: auto, null_values: ["NULL", '\\N']}
tables:
  subscribers:
    file: "用户资料*.csv"
    encoding: gbk
    columns: {用户标识: subscriber_id, 手机号码: msisdn, 付费类型: payment_type}
    values: {payment_type: {预付费: prepaid, 后付费: postpaid}}
    formats: {join_date: "%Y%m%d"}
    column_null_values: {account_manager: ["-", "无"]}
  monthly_usage:
    file: "月度账单*.csv"
    null_values: ["NULL", '\\N', "-"]
    columns: {用户标识: subscriber_id, 账期: bill_month, 出账金额: bill_amount,
              异网通话占比: offnet_voice_share}
    numbers:
      offnet_voice_share: {percent: true}     # "35.2%" (or "35.2") is stored as 0.352
      bill_amount: {thousands: ","}           # "1,234.56" is stored as 1234.56
    blanks: {sms_count: 0}
    not_delivered: [competitor_service_calls]
```

Per table (`defaults` holds `encoding`, `delimiter` and `null_values` for every table):
- `file`: glob of the file in the delivery directory (default `<table>.csv` etc.);
  `encoding`: `auto` / `utf-8` / `gbk` / `gb18030`; `delimiter`: `auto` / `","` / `"\\t"` / `";"` /
  `"|"`.
- `columns`: the operator's header → contract column. `values`: per column, the operator's code →
  the contract's value. `formats`: per date/timestamp column, a strptime format (`"%Y%m%d"`).
- `numbers`: per number column, `percent: true` — every value is a percentage, with or without `%`,
  stored as the contract's ratio 0–1 (`35.2%` → 0.352; decimal columns only); `thousands: ","` (or
  `" "`, `"'"`) — digits grouped by threes are accepted (`1,234.56`), anything else is quarantined.
- `null_values`: cells that mean "no value" in this file (replaces the defaults' list), compared
  with the trimmed cell, case-sensitive; in a required column such a cell is quarantined as
  `required value missing`. `column_null_values`: per column, its own list (replaces the file's).
- `blanks`: per text, number or boolean column, the value (in the contract's unit) a blank cell
  stands for, e.g. `0`; null values stay missing.
- `not_delivered`: contract columns this operator does not deliver — optional columns and the
  required columns marked "yes, or not delivered" below. They are stored empty and the features
  they feed are skipped (empty for everyone, not 0), said once in the run's log
  (`features.skipped`) and in the ingest summary.

Keys that can never match are refused when the file is read: an empty or null key, a key with
surrounding spaces, a YAML `yes`/`no`/`true` or decimal read as a boolean or number (quote it), and
unknown keys (the error lists the allowed ones). Write `"NULL"` in quotes (YAML reads a bare `NULL`
as nothing) and `'\\N'` in single quotes (in double quotes YAML reads `\\N` as a control
character).
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


def _quarantine_section() -> str:
    lines = ["", "| column | type | meaning |", "|---|---|---|"]
    for name, kind, meaning in QUARANTINE_COLUMNS:
        escaped = meaning.replace("|", "\\|")
        lines.append(f"| `{name}` | {kind.lower()} | {escaped} |")
    return "\n".join(lines)


def _required(column: Column) -> str:
    if not column.required:
        return "no"
    return "yes, or not delivered" if column.optional_input else "yes"


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
            f"| `{col.name}` | {col.type.value} | {_required(col)} | "
            f"{col.unit or ''} | {_rules(col)} | {col.label_zh} | {col.label_en} | "
            f"{'yes' if col.pii else ''} |"
        )
    return "\n".join(lines)


def _field_type(info: Any) -> str:
    """A pydantic field's type in words (``Literal`` as its values)."""
    annotation = info.annotation
    values = get_args(annotation)
    if get_origin(annotation) is Literal:
        return " / ".join(f"`{v}`" for v in values)
    inner = [a for a in values if a is not type(None)] or [annotation]
    if inner and get_origin(inner[0]) is Literal:
        return " / ".join(f"`{v}`" for v in get_args(inner[0]))
    name = getattr(inner[0], "__name__", str(inner[0]))
    return {"str": "text", "int": "integer", "float": "number"}.get(name, name)


def _events_section() -> str:
    """The real-time event contract (``core.event_contract``), attributes per type."""
    lines = [
        "## Real-time events (`POST /api/v1/events`)",
        "",
        "Sent one by one or in batches by the operator's systems as they happen "
        "(docs/realtime.md), not delivered as files. Fields: `event_id` (unique per source), "
        "`subscriber_id` or `msisdn` (at least one), `type`, `time` (ISO 8601 with its UTC "
        "offset), `attributes` (below; unknown ones are refused).",
        "",
        "| type | attribute | type | required |",
        "|---|---|---|---|",
    ]
    for kind, model in ATTRIBUTES.items():
        fields = model.model_fields
        if not fields:
            lines.append(f"| `{kind}` | | | |")
        for name, info in fields.items():
            required = "yes" if info.is_required() else ""
            lines.append(f"| `{kind}` | `{name}` | {_field_type(info)} | {required} |")
    return "\n".join(lines)


def render_markdown() -> str:
    """The whole contract document."""
    intro = _INTRO.replace("{quarantine}", _quarantine_section())
    tables = "\n\n".join(_table_section(t) for t in TABLES)
    return intro + "\n" + tables + "\n\n" + _events_section() + "\n"
