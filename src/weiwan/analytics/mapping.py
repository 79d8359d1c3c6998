"""Column-mapping files (字段映射): load an operator's own headers and codes onto the contract.

A mapping is YAML, one entry per contract table::

    defaults: {encoding: auto, delimiter: auto}
    tables:
      subscribers:
        file: "用户资料*.csv"          # glob in the extract directory
        encoding: gbk                  # auto | utf-8 | gbk | gb18030
        columns: {用户标识: subscriber_id, 手机号码: msisdn}
        values:  {payment_type: {预付费: prepaid, 后付费: postpaid}}
        formats: {join_date: "%Y%m%d"}  # strptime format for date/timestamp columns
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from weiwan.analytics.contract import TABLES_BY_NAME, ColumnType
from weiwan.core.errors import ConfigError
from weiwan.core.yaml_safe import load_yaml

Encoding = Literal["auto", "utf-8", "gbk", "gb18030"]
Delimiter = Literal["auto", ",", "\t", ";", "|"]


class FileDefaults(BaseModel):
    """How files are read when a table entry does not say."""

    model_config = ConfigDict(extra="forbid")

    encoding: Encoding = "auto"
    delimiter: Delimiter = "auto"


class TableMapping(BaseModel):
    """How one operator file maps onto one contract table."""

    model_config = ConfigDict(extra="forbid")

    file: str | None = None
    encoding: Encoding | None = None
    delimiter: Delimiter | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    formats: dict[str, str] = Field(default_factory=dict)

    @field_validator("values", mode="before")
    @classmethod
    def _codes_as_text(cls, raw: object) -> object:
        # YAML reads codes like 1 / 0 / yes as int/bool; operators mean the literal text.
        if isinstance(raw, dict):
            return {
                col: {str(k): str(v) for k, v in codes.items()}
                if isinstance(codes, dict)
                else codes
                for col, codes in raw.items()
            }
        return raw


class Mapping(BaseModel):
    """A whole mapping file."""

    model_config = ConfigDict(extra="forbid")

    defaults: FileDefaults = Field(default_factory=FileDefaults)
    tables: dict[str, TableMapping] = Field(default_factory=dict)
    fingerprint: str = ""

    def for_table(self, name: str) -> TableMapping:
        """The entry for ``name`` (an empty one when the file does not mention it)."""
        return self.tables.get(name, TableMapping())

    def encoding(self, name: str) -> Encoding:
        return self.for_table(name).encoding or self.defaults.encoding

    def delimiter(self, name: str) -> Delimiter:
        return self.for_table(name).delimiter or self.defaults.delimiter


def _check_against_contract(mapping: Mapping, path: Path) -> None:
    for table_name, entry in mapping.tables.items():
        if table_name not in TABLES_BY_NAME:
            raise ConfigError(
                f"{path}: tables.{table_name}: not a contract table "
                f"(known: {', '.join(TABLES_BY_NAME)})"
            )
        contract = TABLES_BY_NAME[table_name]
        for source, target in entry.columns.items():
            if target not in contract.column_names and not contract.extra_columns:
                raise ConfigError(
                    f"{path}: tables.{table_name}.columns.{source}: maps to {target!r}, "
                    f"which is not a column of {table_name}"
                )
        for field_name in (*entry.values, *entry.formats):
            if field_name not in contract.column_names:
                raise ConfigError(
                    f"{path}: tables.{table_name}: {field_name!r} is not a column of {table_name}"
                )
        for col, fmt in entry.formats.items():
            if contract.column(col).type not in (ColumnType.DATE, ColumnType.TIMESTAMP):
                raise ConfigError(
                    f"{path}: tables.{table_name}.formats.{col}: formats apply to date and "
                    f"timestamp columns only"
                )
            if "%" not in fmt:
                raise ConfigError(
                    f"{path}: tables.{table_name}.formats.{col}: {fmt!r} is not a strptime format"
                )


def load_mapping(path: Path | None) -> Mapping:
    """Read and validate a mapping file; ``None`` gives the identity mapping."""
    if path is None:
        return Mapping()
    try:
        text = path.read_bytes()
        raw = load_yaml(text.decode("utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read mapping file: {exc}") from exc
    try:
        mapping = Mapping.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: invalid mapping: {problems}") from exc
    _check_against_contract(mapping, path)
    mapping.fingerprint = hashlib.sha256(text).hexdigest()
    return mapping
