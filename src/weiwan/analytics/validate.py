"""Row-level validation of a raw extract against the contract, as Ibis expressions.

``check`` returns the raw rows with every contract column parsed to its warehouse type and one
error column per check (NULL when the value is fine). The loader keeps rows with no error and
quarantines the others cell by cell, so one bad value never costs a good row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping as MappingType
from dataclasses import dataclass
from datetime import datetime

import ibis
import ibis.expr.types as ir

from weiwan.analytics.contract import WAREHOUSE_TYPES, Column, ColumnType, Table
from weiwan.analytics.extract_files import LINE

ERROR_PREFIX = "__e__"
KEY_ERROR = f"{ERROR_PREFIX}_key"
REF_ERROR = f"{ERROR_PREFIX}_ref"

_TRUE = ("true", "t", "1", "y", "yes", "是", "真")
_FALSE = ("false", "f", "0", "n", "no", "否", "假")
_DATE_FORMATS = ("%Y%m%d", "%Y/%m/%d", "%Y.%m.%d")
_TIMESTAMP_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y%m%d%H%M%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M")
_MONTH_FORMATS = ("%Y-%m", "%Y%m", "%Y/%m")
_TEMPORAL = (ColumnType.DATE, ColumnType.TIMESTAMP, ColumnType.MONTH)
_YEARS = (1900, 2100)


@ibis.udf.scalar.builtin  # type: ignore[untyped-decorator]
def try_strptime(text: str, fmt: str) -> datetime:  # type: ignore[empty-body]
    """DuckDB's TRY_STRPTIME: NULL instead of an error when ``text`` does not fit ``fmt``."""


@dataclass(frozen=True)
class ColumnRules:
    """What validation needs to know about one column beyond the contract."""

    column: Column
    codes: MappingType[str, str] | None = None  # operator code -> contract code
    fmt: str | None = None  # strptime format declared in the mapping
    percent: bool = False  # every value is a percentage: "35.2%" / "35.2" -> 0.352
    thousands: str | None = None  # thousands separator: "1,234.56" -> 1234.56
    null_values: tuple[str, ...] = ()  # cells that mean "no value" ("NULL", "\\N", "-")
    blank: bool | int | float | str | None = None  # the value a blank cell stands for

    @property
    def plain(self) -> bool:
        """True when the mapping declares nothing beyond the contract for this column."""
        return (
            self.codes is None
            and self.fmt is None
            and not self.percent
            and self.thousands is None
            and not self.null_values
        )


def _text(value: ir.Value) -> ir.StringValue:
    text: ir.StringValue = value.cast("string").strip()
    return text.nullif("")


def _from_formats(text: ir.StringValue, formats: tuple[str, ...]) -> ir.TimestampValue:
    return ibis.coalesce(*(try_strptime(text, f) for f in formats))


def _number_text(text: ir.StringValue, rules: ColumnRules) -> ir.StringValue:
    """The text of a number without its declared percent sign and thousands separators."""
    if rules.percent:
        text = text.re_replace(r"\s*%$", "")
    if rules.thousands is not None:
        sep = re.escape(rules.thousands)
        grouped = text.re_search(rf"^[+-]?[0-9]{{1,3}}({sep}[0-9]{{3}})+(\.[0-9]*)?$")
        text = ibis.ifelse(grouped, text.replace(rules.thousands, ""), text)
    return text


def parse(value: ir.Value, rules: ColumnRules) -> tuple[ir.Value, ir.StringValue]:
    """(typed value, cleaned source text) for one column; unparseable text gives NULL.

    A blank cell takes the mapping's ``blank`` value when one is declared (in the contract's
    unit); a null token ("NULL", "\\N", "-") is a missing value.
    """
    parsed, text = _parse(value, rules)
    if rules.blank is None:
        return parsed, text
    target = WAREHOUSE_TYPES[rules.column.type]
    blank = _text(value).isnull()
    return (
        ibis.ifelse(blank, ibis.literal(rules.blank).cast(target), parsed),
        ibis.ifelse(blank, ibis.literal(str(rules.blank)), text),
    )


def _parse(value: ir.Value, rules: ColumnRules) -> tuple[ir.Value, ir.StringValue]:
    target = WAREHOUSE_TYPES[rules.column.type]
    numeric_target = rules.column.type in (ColumnType.INTEGER, ColumnType.DECIMAL)
    if rules.plain and numeric_target and value.type().is_numeric():
        return value.try_cast(target), value.cast("string")
    if value.type().is_temporal() and rules.fmt is None:
        if rules.column.type is ColumnType.MONTH:
            return value.cast("date").truncate("M"), value.cast("string")
        return value.cast(target), value.cast("string")
    text = _text(value)
    if rules.null_values:
        text = ibis.ifelse(text.isin(rules.null_values), ibis.null("string"), text)
    if rules.codes:
        text = text.substitute(dict(rules.codes), else_=text)
    kind = rules.column.type
    parsed: ir.Value
    if kind is ColumnType.STRING:
        parsed = text
    elif kind is ColumnType.INTEGER:
        # DuckDB rounds "1.5" to 2 when casting to BIGINT; only whole numbers ("12", "12.0") pass.
        whole = _number_text(text, rules).re_replace(r"\.0*$", "")
        parsed = ibis.ifelse(
            whole.re_search(r"^[+-]?[0-9]+$"), whole.try_cast(target), ibis.null(target)
        )
    elif kind is ColumnType.DECIMAL:
        parsed = _number_text(text, rules).try_cast(target)
        if rules.percent:
            parsed = parsed / 100
    elif kind is ColumnType.BOOLEAN:
        lowered = text.lower()
        parsed = ibis.cases(
            (lowered.isin(_TRUE), True), (lowered.isin(_FALSE), False), else_=ibis.null("boolean")
        )
    elif kind is ColumnType.DATE:
        formats: tuple[str, ...] = (rules.fmt,) if rules.fmt else _DATE_FORMATS
        parsed = ibis.coalesce(
            *(() if rules.fmt else (text.try_cast("date"),)),
            _from_formats(text, formats).cast("date"),
        )
    elif kind is ColumnType.TIMESTAMP:
        formats = (rules.fmt,) if rules.fmt else _TIMESTAMP_FORMATS
        parsed = ibis.coalesce(
            *(() if rules.fmt else (text.try_cast("timestamp"),)), _from_formats(text, formats)
        )
    else:  # MONTH
        parsed = ibis.coalesce(
            _from_formats(text, _MONTH_FORMATS).cast("date"), text.try_cast("date")
        ).truncate("M")
    if rules.column.type in _TEMPORAL:
        # strptime takes "26-10" as the year 26: a four-digit year within reason is required.
        parsed = ibis.ifelse(parsed.year().between(*_YEARS), parsed, ibis.null(target))
    return parsed, text


def _error(
    parsed: ir.Value, text: ir.StringValue, column: Column, *, required: bool
) -> ir.StringValue:
    checks: list[tuple[ir.BooleanValue, str]] = []
    if required:
        checks.append((text.isnull(), "required value missing"))
    invalid = text.notnull() & parsed.isnull()
    if column.type in (ColumnType.INTEGER, ColumnType.DECIMAL):
        # The two ways operators' exports write numbers that the contract does not: say how to
        # declare them rather than only that the value is bad.
        mapping_key = f"numbers.{column.name}"
        checks.append(
            (
                invalid & text.re_search(r"[0-9]\s*%$"),
                f"not a valid {column.type.value}: a percentage "
                f"(declare {mapping_key}.percent in the mapping)",
            )
        )
        checks.append(
            (
                invalid & text.re_search(r"^[+-]?[0-9]{1,3}([, '][0-9]{3})+(\.[0-9]*)?$"),
                f"not a valid {column.type.value}: a thousands separator "
                f"(declare {mapping_key}.thousands in the mapping)",
            )
        )
    checks.append((invalid, f"not a valid {column.type.value}"))
    if column.allowed is not None:
        allowed = ", ".join(column.allowed)
        checks.append((~parsed.isin(column.allowed), f"not an allowed value ({allowed})"))
    if column.minimum is not None:
        checks.append((parsed < column.minimum, f"below the minimum {column.minimum:g}"))
    if column.maximum is not None:
        checks.append((parsed > column.maximum, f"above the maximum {column.maximum:g}"))
    if column.pattern is not None:
        checks.append((~parsed.re_search(column.pattern), f"does not match {column.pattern}"))
    # A comparison with NULL is NULL, which ibis.cases treats as false: only real failures fire.
    error: ir.StringValue = ibis.cases(*checks, else_=ibis.null("string"))
    return error


def check(
    raw: ir.Table,
    contract: Table,
    rules: MappingType[str, ColumnRules],
    known_subscribers: ir.Table | None,
    not_delivered: frozenset[str] = frozenset(),
) -> ir.Table:
    """Parse every column of ``raw`` and attach one error column per check.

    ``rules`` covers the contract columns present plus any extra attribute columns (their
    ``Column`` carries the inferred type). Columns absent from the file are optional ones (or
    declared ``not_delivered``) and come back as NULL of their type.
    """
    values: dict[str, ir.Value] = {LINE: raw[LINE]}
    errors: dict[str, ir.Value] = {}
    for name, rule in rules.items():
        if name in raw.columns:
            parsed, text = parse(raw[name], rule)
            values[name] = parsed
            required = rule.column.required and name not in not_delivered
            errors[f"{ERROR_PREFIX}{name}"] = _error(parsed, text, rule.column, required=required)
        else:
            values[name] = ibis.null(WAREHOUSE_TYPES[rule.column.type])
    parsed_table = raw.select(**values, **errors)
    keys = [parsed_table[k] for k in contract.key]
    complete = ibis.and_(*(k.notnull() for k in keys))
    first_line = parsed_table[LINE].min().over(group_by=keys)
    parsed_table = parsed_table.mutate(
        **{
            KEY_ERROR: ibis.ifelse(
                complete & (parsed_table[LINE] != first_line),
                "duplicate key ("
                + ", ".join(contract.key)
                + ") first at line "
                + first_line.cast("string"),
                ibis.null("string"),
            )
        }
    )
    if contract.references_subscribers and known_subscribers is not None:
        ids = known_subscribers.select("subscriber_id").distinct()
        sub = parsed_table["subscriber_id"]
        parsed_table = parsed_table.mutate(
            **{
                REF_ERROR: ibis.ifelse(
                    sub.notnull() & ~sub.isin(ids["subscriber_id"]),
                    "unknown subscriber_id (not in the subscribers extract)",
                    ibis.null("string"),
                )
            }
        )
    return parsed_table


def error_columns(checked: ir.Table) -> list[str]:
    """The error columns ``check`` added."""
    return [c for c in checked.columns if c.startswith(ERROR_PREFIX)]


def is_clean(checked: ir.Table) -> ir.BooleanValue:
    """True for rows with no error at all."""
    return ibis.and_(*(checked[c].isnull() for c in error_columns(checked)))
