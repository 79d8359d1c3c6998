"""Export a snapshot's churn scores (CSV or Excel) for operators' other systems."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from weiwan.analytics.exports import write_table
from weiwan.analytics.warehouse import RUN_WARNINGS, Warehouse
from weiwan.core.errors import WeiwanError

COLUMNS = ["subscriber_id", "churn_probability", "risk_band", "reason_1", "reason_2", "reason_3"]


def export_scores(
    warehouse: Warehouse, snapshot: date, out: Path, *, lang: Literal["zh", "en"] = "zh"
) -> int:
    """Write the scores of ``snapshot``, highest risk first; returns the rows written.

    No scores for the snapshot: WeiwanError saying why when its run could not score (no model
    could be trained, or the one trained was too weak to promote) and what to do.
    """
    why = _why_no_scores(warehouse, snapshot)
    if not warehouse.has_table("scores"):
        raise WeiwanError(why or "no scores yet: run `weiwan pipeline run` first")
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
            why or f"no scores for {snapshot}: run `weiwan pipeline run --snapshot {snapshot}`"
        )
    return write_table(frame, out, f"scores {snapshot}")


def _why_no_scores(warehouse: Warehouse, snapshot: date) -> str | None:
    """The snapshot's run warning about scoring (``scores.*``), if its run left one."""
    if not warehouse.has_table(RUN_WARNINGS):
        return None
    notes = warehouse.table(RUN_WARNINGS)
    found = notes.filter(
        (notes.snapshot_date == snapshot) & notes.event.startswith("scores.")
    ).to_pyarrow()
    messages = found.column("message").to_pylist()
    return str(messages[0]) if messages else None
