"""Property-based ingest tests: whatever is wrong with a row, it is quarantined with its reason and
no good row is lost.

Each example costs one ingest (about a second, nearly all of it fixed), so the examples are
few but large: 24 rows with up to 16 corruptions, or up to 10 malformed rows each cut at its
own length, cover as many corruptions per run as more examples of half the size did.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import factories as f
from weiwan.analytics.ingest import ingest
from weiwan.analytics.warehouse import Warehouse

ROWS = 24
# Text that no engine reads as a number, date or month.
GARBAGE = st.text(alphabet="维挽流失xyz!?#", min_size=1, max_size=8)

#: column -> values that must be rejected in that column.
CORRUPTIONS: dict[str, st.SearchStrategy[str]] = {
    "bill_amount": st.one_of(GARBAGE, st.just("-3.5")),
    "voice_minutes": GARBAGE,
    "offnet_voice_share": st.sampled_from(["1.01", "-0.1", "2", "七成"]),
    "sms_count": st.one_of(GARBAGE, st.sampled_from(["1.5", "-1"])),
    "call_forwarding_days": st.sampled_from(["32", "-1", "x"]),
    "bill_month": st.sampled_from(["2026-13", "2026-00", "26-10", "", "十月"]),
    "subscriber_id": st.sampled_from(["", "NOBODY", "U999999"]),
    "balance": GARBAGE,
}

corruption = st.tuples(
    st.integers(min_value=0, max_value=ROWS - 1),
    st.sampled_from(sorted(CORRUPTIONS)),
    st.data(),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hits=st.lists(corruption, max_size=16), data=st.data())
def test_every_bad_row_is_quarantined_and_no_good_row_is_lost(
    hits: list[tuple[int, str, st.DataObject]], data: st.DataObject
) -> None:
    rows = [f.usage(i, "2026-10") for i in range(ROWS)]
    bad_cells: dict[int, set[str]] = {}
    for index, column, _ in hits:
        strategy = CORRUPTIONS[column]
        rows[index][column] = data.draw(strategy)
        bad_cells.setdefault(index, set()).add(column)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        f.write_csv(
            root / "subscribers.csv", f.SUBSCRIBER_HEADER, [f.subscriber(i) for i in range(ROWS)]
        )
        f.write_csv(root / "monthly_usage.csv", f.USAGE_HEADER, rows)
        wh = Warehouse(root / "wh.duckdb", threads=1)
        try:
            result = ingest(root, snapshot=date(2026, 10, 31), warehouse=wh)
            quarantined = wh.execute(
                "SELECT line, column_name, value, reason FROM quarantine "
                "WHERE table_name = 'monthly_usage'"
            )
            loaded = {r[0] for r in wh.execute("SELECT _line FROM monthly_usage")}
        finally:
            wh.close()
    bad_lines = {i + 2 for i in bad_cells}
    flagged = {(line, col) for line, col, _, _ in quarantined}
    for index, columns in bad_cells.items():
        for column in columns:
            assert (index + 2, column) in flagged, (rows[index][column], quarantined)
    # duplicate-key entries may add lines only when a corrupted key collides: never a good row
    assert {line for line, *_ in quarantined} == bad_lines
    assert loaded == {i + 2 for i in range(ROWS)} - bad_lines
    assert (
        result.tables["monthly_usage"].loaded + result.tables["monthly_usage"].quarantined == ROWS
    )
    assert all(reason for *_, reason in quarantined)


@settings(max_examples=8, deadline=None)
@given(
    broken=st.dictionaries(
        st.integers(min_value=0, max_value=ROWS - 1),
        st.integers(min_value=1, max_value=14),  # the fields a broken record keeps
        max_size=10,
    )
)
def test_malformed_records_never_shift_the_good_rows(broken: dict[int, int]) -> None:
    lines = [",".join(f.USAGE_HEADER)]
    for i in range(ROWS):
        fields = [f.usage(i, "2026-10")[h] for h in f.USAGE_HEADER]
        lines.append(",".join(fields[: broken[i]] if i in broken else fields))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        f.write_csv(
            root / "subscribers.csv", f.SUBSCRIBER_HEADER, [f.subscriber(i) for i in range(ROWS)]
        )
        (root / "monthly_usage.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        wh = Warehouse(root / "wh.duckdb", threads=1)
        try:
            ingest(root, snapshot=date(2026, 10, 31), warehouse=wh)
            quarantined = {r[0] for r in wh.execute("SELECT line FROM quarantine")}
            loaded = dict(wh.execute("SELECT _line, subscriber_id FROM monthly_usage"))
        finally:
            wh.close()
    assert quarantined == {i + 2 for i in broken}
    assert loaded == {i + 2: f"U{i:06d}" for i in range(ROWS) if i not in broken}
