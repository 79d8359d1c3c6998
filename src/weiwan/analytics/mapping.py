"""Column-mapping files (字段映射): an operator's own headers, codes and formats onto the contract.

A mapping is YAML, one entry per contract table (docs/data-contract.md describes every key)::

    defaults: {encoding: auto, delimiter: auto, null_values: ["NULL", '\\N']}
    tables:
      monthly_usage:
        file: "月度账单*.csv"           # glob in the extract directory
        encoding: gbk                  # auto | utf-8 | gbk | gb18030
        null_values: ["NULL", '\\N', "-"]   # cells that mean "no value" in this file
        columns: {用户标识: subscriber_id, 异网通话占比: offnet_voice_share}
        values:  {payment_type: {预付费: prepaid, 后付费: postpaid}}
        formats: {join_date: "%Y%m%d"}  # strptime format for date/timestamp columns
        numbers: {offnet_voice_share: {percent: true}, bill_amount: {thousands: ","}}
        column_null_values: {balance: ["--"]}   # replaces the file's tokens for one column
        blanks: {sms_count: 0}          # the value a blank cell stands for
        not_delivered: [competitor_service_calls]   # optional inputs this operator lacks
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from weiwan.analytics.contract import TABLES_BY_NAME, ColumnType, Table
from weiwan.core.errors import ConfigError
from weiwan.core.yaml_safe import load_yaml

Encoding = Literal["auto", "utf-8", "gbk", "gb18030"]
Delimiter = Literal["auto", ",", "\t", ";", "|"]
Thousands = Literal[",", " ", "'"]
BlankValue = bool | int | float | str

_NUMERIC = (ColumnType.INTEGER, ColumnType.DECIMAL)


class FileDefaults(BaseModel):
    """How files are read when a table entry does not say."""

    model_config = ConfigDict(extra="forbid")

    encoding: Encoding = "auto"
    delimiter: Delimiter = "auto"
    null_values: list[str] = Field(default_factory=list)


class NumberFormat(BaseModel):
    """How an operator writes the numbers of one column."""

    model_config = ConfigDict(extra="forbid")

    #: every value is a percentage ("35.2%" or "35.2"), stored as the contract's ratio (0.352)
    percent: bool = False
    #: thousands separator ("1,234.56"); only correctly grouped digits are accepted
    thousands: Thousands | None = None


class TableMapping(BaseModel):
    """How one operator file maps onto one contract table."""

    model_config = ConfigDict(extra="forbid")

    file: str | None = None
    encoding: Encoding | None = None
    delimiter: Delimiter | None = None
    null_values: list[str] | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    formats: dict[str, str] = Field(default_factory=dict)
    numbers: dict[str, NumberFormat] = Field(default_factory=dict)
    column_null_values: dict[str, list[str]] = Field(default_factory=dict)
    blanks: dict[str, BlankValue] = Field(default_factory=dict)
    not_delivered: list[str] = Field(default_factory=list)

    @field_validator("values", mode="before")
    @classmethod
    def _codes_as_text(cls, raw: object) -> object:
        # YAML reads codes like 1 / 0 as int; operators mean the literal text.
        if isinstance(raw, dict):
            return {
                col: {str(k): str(v) for k, v in codes.items()}
                if isinstance(codes, dict)
                else codes
                for col, codes in raw.items()
            }
        return raw


def _never_matching(key: object) -> str | None:
    """Why a mapping key can never match a header, a cell or a column (None: it can)."""
    if key is None:
        return "is empty (null)"
    if isinstance(key, bool):
        return 'was read by YAML as true/false: quote it (e.g. "yes")'
    if isinstance(key, float):
        return 'was read by YAML as a decimal number: quote it (e.g. "1.50")'
    if isinstance(key, str):
        if not key.strip():
            return "is empty"
        if key != key.strip():
            return "has leading or trailing spaces (headers and cells are compared trimmed)"
    return None


def _refuse_never_matching_tokens(tokens: object, loc: str) -> None:
    for token in tokens if isinstance(tokens, list) else ():
        if isinstance(token, str) and not token.isprintable():
            raise ValueError(
                f"{loc}: {token!r} holds a control character: in double quotes YAML reads \\N "
                "as one; write '\\N' in single quotes"
            )
        if not isinstance(token, str) or not token.strip() or token != token.strip():
            raise ValueError(
                f"{loc}: {token!r} can never match a cell: null values are non-empty text "
                "without surrounding spaces (YAML reads NULL, ~ and yes as values: quote them, "
                '"NULL")'
            )


def _refuse_never_matching_keys(node: object, loc: str) -> None:
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        problem = _never_matching(key)
        if problem is not None:
            raise ValueError(f"{loc or 'mapping'}: key {key!r} can never match: it {problem}")
        here = f"{loc}.{key}" if loc else str(key)
        if key == "null_values":
            _refuse_never_matching_tokens(value, here)
        elif key == "column_null_values" and isinstance(value, dict):
            for col, tokens in value.items():
                _refuse_never_matching_tokens(tokens, f"{here}.{col}")
        _refuse_never_matching_keys(value, here)


class Mapping(BaseModel):
    """A whole mapping file."""

    model_config = ConfigDict(extra="forbid")

    defaults: FileDefaults = Field(default_factory=FileDefaults)
    tables: dict[str, TableMapping] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _keys_that_can_match(cls, raw: object) -> object:
        _refuse_never_matching_keys(raw, "")
        return raw

    def for_table(self, name: str) -> TableMapping:
        """The entry for ``name`` (an empty one when the file does not mention it)."""
        return self.tables.get(name, TableMapping())

    def encoding(self, name: str) -> Encoding:
        return self.for_table(name).encoding or self.defaults.encoding

    def delimiter(self, name: str) -> Delimiter:
        return self.for_table(name).delimiter or self.defaults.delimiter

    def null_values(self, name: str, column: str) -> tuple[str, ...]:
        """The cells that mean "no value" in ``column`` of table ``name``: the column's own
        list, else the file's, else the defaults'."""
        entry = self.for_table(name)
        if column in entry.column_null_values:
            return tuple(entry.column_null_values[column])
        if entry.null_values is not None:
            return tuple(entry.null_values)
        return tuple(self.defaults.null_values)

    def table_fingerprint(self, name: str) -> str:
        """SHA-256 of everything that decides how table ``name`` is read: a change to another
        table's entry leaves it unchanged, so only the table whose mapping changed reloads."""
        entry = self.for_table(name)
        effective = {
            "entry": entry.model_dump(
                mode="json", exclude={"encoding", "delimiter", "null_values"}
            ),
            "encoding": self.encoding(name),
            "delimiter": self.delimiter(name),
            "null_values": list(
                entry.null_values if entry.null_values is not None else self.defaults.null_values
            ),
        }
        text = json.dumps(effective, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _columns_of(contract: Table, names: Iterable[str], where: str) -> None:
    for name in names:
        if name not in contract.column_names:
            raise ConfigError(
                f"{where}: {name!r} is not a column of {contract.name} "
                f"(columns: {', '.join(contract.column_names)})"
            )


def _check_blank(contract: Table, col: str, value: BlankValue, where: str) -> None:
    kind = contract.column(col).type
    ok = {
        ColumnType.STRING: isinstance(value, str),
        ColumnType.INTEGER: isinstance(value, int) and not isinstance(value, bool),
        ColumnType.DECIMAL: isinstance(value, int | float) and not isinstance(value, bool),
        ColumnType.BOOLEAN: isinstance(value, bool),
    }.get(kind)
    if ok is None:
        raise ConfigError(f"{where}: blanks apply to text, number and boolean columns only")
    if not ok:
        raise ConfigError(f"{where}: {value!r} is not a valid {kind.value}")


def _check_entry(table_name: str, entry: TableMapping, path: Path) -> None:
    contract = TABLES_BY_NAME[table_name]
    where = f"{path}: tables.{table_name}"
    for source, target in entry.columns.items():
        if target not in contract.column_names and not contract.extra_columns:
            raise ConfigError(
                f"{where}.columns.{source}: maps to {target!r}, which is not a column of "
                f"{table_name} (columns: {', '.join(contract.column_names)})"
            )
    for key in ("values", "formats", "numbers", "column_null_values", "blanks", "not_delivered"):
        _columns_of(contract, getattr(entry, key), f"{where}.{key}")
    for col, fmt in entry.formats.items():
        if contract.column(col).type not in (ColumnType.DATE, ColumnType.TIMESTAMP):
            raise ConfigError(f"{where}.formats.{col}: formats apply to date and timestamp columns")
        if "%" not in fmt:
            raise ConfigError(f"{where}.formats.{col}: {fmt!r} is not a strptime format")
    ratios = [
        c.name
        for c in contract.columns
        if c.type is ColumnType.DECIMAL and (c.unit or "").startswith("ratio")
    ]
    for col, number in entry.numbers.items():
        kind = contract.column(col).type
        if kind not in _NUMERIC:
            raise ConfigError(
                f"{where}.numbers.{col}: numbers apply to integer and decimal columns"
            )
        if number.percent and col not in ratios:
            raise ConfigError(
                f"{where}.numbers.{col}: percent applies to the ratio (0–1) columns only "
                f"({', '.join(ratios) or 'none in this table'}): a percentage is stored as a ratio"
            )
    for col, value in entry.blanks.items():
        _check_blank(contract, col, value, f"{where}.blanks.{col}")
    allowed = [c.name for c in contract.columns if c.optional_input or not c.required]
    for col in entry.not_delivered:
        if col not in allowed:
            raise ConfigError(
                f"{where}.not_delivered: {col!r} is needed and must be delivered "
                f"(may be not delivered: {', '.join(allowed) or 'none'})"
            )
        if col in entry.columns.values():
            raise ConfigError(f"{where}.not_delivered: {col!r} is also a target in columns")


def _check_against_contract(mapping: Mapping, path: Path) -> None:
    for table_name, entry in mapping.tables.items():
        if table_name not in TABLES_BY_NAME:
            raise ConfigError(
                f"{path}: tables.{table_name}: not a contract table "
                f"(known: {', '.join(TABLES_BY_NAME)})"
            )
        _check_entry(table_name, entry, path)


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The mapping model an error location points into (for listing its allowed keys)."""
    model: type[BaseModel] = Mapping
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        info = model.model_fields.get(str(part))
        if info is None:
            return None
        annotation: Any = info.annotation
        while True:
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                break
            origin = typing.get_origin(annotation)
            if origin is dict and parts:
                parts.pop(0)  # the key: a table or column name
                annotation = args[1]
            elif origin in (typing.Union, types.UnionType) and len(args) == 1:
                annotation = args[0]
            else:
                return None
        model = annotation
        if not parts:
            return model
    return model


def _describe(err: Any) -> str:
    loc: tuple[int | str, ...] = tuple(err["loc"])
    where = ".".join(str(p) for p in loc)
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1]) if len(loc) > 1 else Mapping
        allowed = ", ".join(parent.model_fields) if parent else ""
        return f"{where}: unknown key" + (f" (allowed keys: {allowed})" if allowed else "")
    return f"{where}: {message}" if where else message


def load_mapping(path: Path | None) -> Mapping:
    """Read and validate a mapping file; ``None`` gives the identity mapping."""
    if path is None:
        return Mapping()
    try:
        raw = load_yaml(path.read_bytes().decode("utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read mapping file: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: a mapping file is a YAML mapping (allowed keys: defaults, tables)"
        )
    try:
        mapping = Mapping.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(err) for err in exc.errors())
        raise ConfigError(f"{path}: invalid mapping: {problems}") from exc
    _check_against_contract(mapping, path)
    return mapping
