"""The data contract is consistent, documented and matches its generated Markdown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from weiwan.analytics.contract import TABLES, ColumnType, table
from weiwan.analytics.contract_docs import render_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"


def test_docs_match_the_contract() -> None:
    assert DOCS.read_text(encoding="utf-8") == render_markdown(), (
        "docs/data-contract.md is stale: run `weiwan contract docs`"
    )


@pytest.mark.parametrize("contract", TABLES, ids=lambda t: t.name)
def test_every_table_is_well_formed(contract: object) -> None:
    from weiwan.analytics.contract import Table

    assert isinstance(contract, Table)
    names = contract.column_names
    assert len(names) == len(set(names))
    assert all(k in names for k in contract.key)
    assert all(contract.column(k).required for k in contract.key)
    if contract.event_time:
        assert contract.column(contract.event_time).type in (
            ColumnType.DATE,
            ColumnType.TIMESTAMP,
            ColumnType.MONTH,
        )
    if contract.references_subscribers:
        assert "subscriber_id" in names
    for col in contract.columns:
        assert col.label_zh and col.label_en
        assert re.search(r"[\u4e00-\u9fff]", col.label_zh), col.name
        if col.allowed is not None:
            assert col.type is ColumnType.STRING
        if col.pattern is not None:
            re.compile(col.pattern)


def test_pii_columns_are_marked() -> None:
    subs = table("subscribers")
    assert {c.name for c in subs.columns if c.pii} == {"msisdn", "name", "birth_date", "id_number"}


def test_unknown_table_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="subscribers"):
        table("bills")


def test_docs_list_the_quarantine_tables_columns(tmp_path: Path) -> None:
    from weiwan.analytics.contract import QUARANTINE_COLUMNS
    from weiwan.analytics.warehouse import Warehouse

    wh = Warehouse(tmp_path / "wh.duckdb", threads=1)
    try:
        live = [(r[0], r[1]) for r in wh.execute("DESCRIBE quarantine")]
    finally:
        wh.close()
    assert live == [(name, kind) for name, kind, _ in QUARANTINE_COLUMNS]
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("The `quarantine` table:") : text.index("## Column-mapping files")]
    documented = re.findall(r"^\| `(\w+)` \| (\w+) \|", section, flags=re.MULTILINE)
    assert documented == [(name, kind.lower()) for name, kind in live]


def test_the_documented_mapping_example_loads(tmp_path: Path) -> None:
    from weiwan.analytics.mapping import load_mapping

    text = DOCS.read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "mapping.yaml"
    path.write_text(example, encoding="utf-8")
    mapping = load_mapping(path)
    assert mapping.null_values("monthly_usage", "bill_amount") == ("NULL", "\\N", "-")
    assert mapping.null_values("subscribers", "account_manager") == ("-", "无")
    assert mapping.for_table("monthly_usage").numbers["offnet_voice_share"].percent
