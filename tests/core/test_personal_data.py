"""The registry of personal-data places covers every ops table that names a subscriber, and
what it declares exists; the retention periods load and a bad file names the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from weiwan.analytics.contract import QUARANTINE_COLUMNS, TABLES
from weiwan.core.errors import ConfigError
from weiwan.core.personal_data import (
    OPS_PLACES,
    PURPOSES,
    WAREHOUSE_PLACES,
    pseudonym_of,
)
from weiwan.core.retention import KINDS, load_rules
from weiwan.ops.metadata import target_metadata

REGISTERED = {p.table for p in OPS_PLACES}


def test_every_ops_table_naming_a_subscriber_is_a_registered_place() -> None:
    naming = {
        name
        for name, table in target_metadata.tables.items()
        if {"subscriber_id", "msisdn"} & set(table.c.keys())
    }
    assert naming, "no table names a subscriber: the check would prove nothing"
    assert naming - REGISTERED == set(), "add these tables to core/personal_data.py"


def test_what_the_registry_declares_exists() -> None:
    for place in OPS_PLACES:
        table = target_metadata.tables[place.table]
        declared = [*place.erase, place.time_column, place.subscriber_column]
        for column in filter(None, declared):
            assert column in table.c, f"{place.table}.{column}"
        if place.via is not None:
            assert place.via.parent in REGISTERED and place.via.column in table.c
            assert place.subscriber_column is None
        if place.time_column is not None:
            assert len(table.primary_key.columns) == 1, f"{place.table}: the purge pages by key"
        assert place.purpose in PURPOSES
    contract = {t.name: t for t in TABLES}
    # the contract's tables, and ingest's quarantine of their rejected values
    assert {p.table for p in WAREHOUSE_PLACES} == {*contract, "quarantine"}
    held = {name for name, _, _ in QUARANTINE_COLUMNS}
    for place in WAREHOUSE_PLACES:
        if place.table == "quarantine":
            assert {*place.erase, place.time_column, "subscriber_id"} <= held
            continue
        names = contract[place.table].column_names
        for column in filter(None, [*place.erase, place.time_column]):
            assert column in names, f"{place.table}.{column}"
        # every personal column of the contract is erased
        pii = {c.name for c in contract[place.table].columns if c.pii}
        assert pii <= set(place.erase), place.table


def test_the_pseudonym_is_stable_per_salt_and_fits_every_id_column() -> None:
    assert pseudonym_of("s1", "S00001") == pseudonym_of("s1", "S00001")
    assert pseudonym_of("s1", "S00001") != pseudonym_of("s2", "S00001")
    assert pseudonym_of("s1", "S00001") != pseudonym_of("s1", "S00002")
    assert len(pseudonym_of("s1", "S00001")) == 20


def test_the_shipped_periods_cover_every_kind(tmp_path: Path) -> None:
    rules = load_rules(tmp_path)  # no file in the home: the shipped defaults
    assert set(rules.kinds) == KINDS
    assert rules.months("sms_bodies") == 12 and rules.months("audit") == 36
    assert rules.months("preferences") is None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("kinds: {contacts: {months: 0}}", "kinds.contacts.months"),
        ("kinds: {contacts: {months: 12}, sms: {months: 1}}", "unknown kind(s) sms"),
        ("kinds: {contacts: {months: 12}}", "missing kind(s)"),
        ("kinds: {contacts: {monts: 12}}", "kinds.contacts.monts"),
        ("kinds: [", "cannot read"),
    ],
)
def test_an_operators_file_with_an_error_names_the_field(
    tmp_path: Path, text: str, named: str
) -> None:
    (tmp_path / "retention.yaml").write_text(text, "utf-8")
    with pytest.raises(ConfigError) as raised:
        load_rules(tmp_path)
    assert named in str(raised.value) and "retention.yaml" in str(raised.value)


def test_an_operators_file_replaces_the_defaults(tmp_path: Path) -> None:
    lines = "\n".join(f"  {k}: {{months: 6}}" for k in sorted(KINDS))
    (tmp_path / "retention.yaml").write_text(f"kinds:\n{lines}\n", "utf-8")
    assert load_rules(tmp_path).months("contacts") == 6
