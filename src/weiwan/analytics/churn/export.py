"""Export a snapshot's churn scores (CSV or Excel) for operators' other systems."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from weiwan.analytics.exports import write_table
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.errors import WeiwanError

COLUMNS = ["subscriber_id", "churn_probability", "risk_band", "reason_1", "reason_2", "reason_3"]


def export_scores(
    warehouse: Warehouse, snapshot: date, out: Path, *, lang: Literal["zh", "en"] = "zh"
) -> int:
    """Write the scores of ``snapshot``, highest risk first; returns the rows written."""
    if not warehouse.has_table("scores"):
        raise WeiwanError("no scores yet: run `weiwan pipeline run` first")
    table = warehouse.table("scores")
    rows = table.filter(table.snapshot_date == snapshot)
    suffix = "" if lang == "zh" else "_en"
    frame = (
        rows.select(
            "subscriber_id",
            "churn_probability",
            "risk_band",
            *(rows[f"reason_{k}{suffix}"].name(f"reason_{k}") for k in (1, 2, 3)),
        )
        .order_by([rows.churn_probability.desc(), "subscriber_id"])
        .to_pandas()
    )
    if frame.empty:
        raise WeiwanError(
            f"no scores for {snapshot}: run `weiwan pipeline run --snapshot {snapshot}`"
        )
    return write_table(frame, out, f"scores {snapshot}")
