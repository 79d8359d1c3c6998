"""Exports for operators' other systems and for people: CSV (UTF-8) or Excel by file suffix."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import pandas as pd

from weiwan.analytics.warehouse import Warehouse
from weiwan.core.errors import WeiwanError
from weiwan.core.tabular_export import Sheet, csv_bytes, write_xlsx

DECISION_EXPORT = [
    "subscriber_id",
    "trigger",
    "trigger_kind",
    "holdout",
    "strategy",
    "action",
    "outcome",
    "policy_id",
    "policy_name",
    "offer_type",
    "channel",
    "churn_probability",
    "driver",
    "uplift",
    "cost",
    "expected_value",
    "alt_1_policy_id",
    "alt_1_expected_value",
    "alt_1_why_not",
    "alt_2_policy_id",
    "alt_2_expected_value",
    "alt_2_why_not",
    "why",
]


def write_table(frame: pd.DataFrame, out: Path, sheet: str) -> int:
    """Write ``frame`` as Excel when ``out`` ends .xlsx, else CSV (UTF-8); returns the rows
    written. Through the shared writer: text is never a formula, numbers stay numbers."""
    out.parent.mkdir(parents=True, exist_ok=True)
    header = [str(c) for c in frame.columns]
    rows = frame.itertuples(index=False, name=None)  # NaN and NaT are written blank
    if out.suffix.lower() == ".xlsx":
        write_xlsx(out, [Sheet(sheet, header, rows)])
    else:
        out.write_bytes(csv_bytes(header, rows, bom=False))
    return len(frame)


def export_decisions(
    warehouse: Warehouse,
    snapshot: date,
    out: Path,
    *,
    lang: Literal["zh", "en"] = "zh",
    actions_only: bool = False,
) -> int:
    """Write the decisions of ``snapshot`` (actions first, by expected value); returns rows."""
    from weiwan.analytics.policies import load_policies

    if not warehouse.has_table("decisions"):
        raise WeiwanError("no decisions yet: run `weiwan pipeline run` first")
    table = warehouse.table("decisions")
    rows = table.filter(table.snapshot_date == snapshot)
    if actions_only:
        rows = rows.filter(rows.action)
    frame = rows.to_pandas()
    if frame.empty:
        raise WeiwanError(
            f"no decisions for {snapshot}: run `weiwan pipeline run --snapshot {snapshot}`"
        )
    names = {p.id: (p.name_zh if lang == "zh" else p.name_en) for p in load_policies().policies}
    frame["policy_name"] = frame["policy_id"].map(names)
    frame["why"] = frame["why_zh"] if lang == "zh" else frame["why_en"]
    frame = frame.sort_values(
        ["action", "expected_value", "subscriber_id"], ascending=[False, False, True]
    )
    # decisions stored before strategy arms existed have no ``strategy``: exported blank
    return write_table(frame.reindex(columns=DECISION_EXPORT), out, f"decisions {snapshot}")
