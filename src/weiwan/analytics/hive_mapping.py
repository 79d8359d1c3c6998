"""The column-mapping file applied to contract tables read in place from Hive.

With ``WEIWAN_SPARK_HIVE_DATABASE`` the operator's Hive tables are read where they are, never
copied. ``WEIWAN_SPARK_HIVE_MAPPING`` names a mapping file (the format ``weiwan ingest
--mapping`` reads, :mod:`weiwan.analytics.mapping`) whose ``columns`` (the operator's names ->
contract names), ``values`` (the operator's codes -> contract codes) and ``not_delivered``
entries become a projection of each table, evaluated by Spark with the table. A mapped or
required column the table lacks is an error naming the table and the column. The rules for
reading text files (``file``, ``encoding``, ``delimiter``, ``null_values``) do not concern a
Hive table; ``formats``, ``numbers``, ``blanks`` and ``column_null_values`` rewrite text cells
and are refused: Hive columns are typed (a Hive view can convert them).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from weiwan.analytics.contract import TABLES_BY_NAME, WAREHOUSE_TYPES
from weiwan.analytics.mapping import Mapping
from weiwan.analytics.warehouse import SNAPSHOT
from weiwan.core.errors import ConfigError

#: mapping keys that rewrite the text of a file's cells: meaningless for typed Hive columns
_TEXT_RULES = ("formats", "numbers", "blanks", "column_null_values")


def mapped_hive_table(rows: ir.Table, qualified: str, name: str, mapping: Mapping) -> ir.Table:
    """Contract table ``name`` from the Hive table ``qualified`` (its rows ``rows``): columns
    renamed and codes translated as ``mapping`` says, undelivered and optional columns absent
    from the table as typed NULLs. Raises ConfigError naming the table and the column when a
    mapped or required column is missing."""
    contract = TABLES_BY_NAME[name]
    entry = mapping.for_table(name)
    where = f"Hive table {qualified} (contract table {name})"
    for key in _TEXT_RULES:
        if getattr(entry, key):
            raise ConfigError(
                f"{where}: the column mapping's tables.{name}.{key} rewrites text cells of "
                "delivered files and does not apply to typed Hive columns: convert them in a "
                "Hive view instead"
            )
    have = set(rows.columns)
    for source, target in entry.columns.items():
        if source not in have:
            raise ConfigError(
                f"{where}: column {source!r} (mapped to {target!r} by tables.{name}.columns) "
                f"is missing; the table has: {', '.join(rows.columns)}"
            )
        if target in have and target not in entry.columns:
            raise ConfigError(
                f"{where}: column {source!r} is mapped to {target!r}, which the table already "
                f"has: map one of them only"
            )
    renamed = rows.rename({target: source for source, target in entry.columns.items()})
    if SNAPSHOT not in renamed.columns:
        raise ConfigError(
            f"{where}: column {SNAPSHOT!r} (the delivery date of each row) is missing"
        )
    absent = [c for c in contract.columns if c.name not in renamed.columns]
    missing = [c.name for c in absent if c.required and c.name not in entry.not_delivered]
    if missing:
        raise ConfigError(
            f"{where}: required column {missing[0]!r} is missing"
            + (f" (also: {', '.join(missing[1:])})" if len(missing) > 1 else "")
            + f"; map the operator's column to it in tables.{name}.columns of the column "
            "mapping (WEIWAN_SPARK_HIVE_MAPPING)"
        )
    translated = {
        column: renamed[column].substitute(codes, else_=renamed[column])
        for column, codes in entry.values.items()
        if column in renamed.columns
    }
    nulls = {c.name: ibis.null(WAREHOUSE_TYPES[c.type]) for c in absent}
    return renamed.mutate(**translated, **nulls)
