"""Values and text of the evaluation report: JSON-able documents, atomic writes, number
formats and safe reads of the evaluation document's parts."""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

DASH = "–"


def _jsonable(value: Any) -> Any:
    """Plain JSON types: NaN/inf → None, numpy scalars and arrays, dates as ISO strings."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` next to ``path`` under a unique name, then rename it over ``path``."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("x", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _number(value: Any) -> float | None:
    """A finite float, or None for missing, NaN, infinite and non-numeric values."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _fmt(value: Any, digits: int = 3) -> str:
    number = _number(value)
    return DASH if number is None else f"{number:,.{digits}f}"


def _fmt_int(value: Any) -> str:
    number = _number(value)
    return DASH if number is None else f"{round(number):,}"


def _fmt_pct(value: Any, digits: int = 1) -> str:
    number = _number(value)
    return DASH if number is None else f"{number * 100:,.{digits}f}%"


def _fmt_compact(value: Any) -> str:
    """Whole numbers without decimals, others with up to two (parameters such as 6 or 0.5)."""
    number = _number(value)
    if number is None:
        return DASH
    if number == round(number):
        return f"{round(number):,}"
    return f"{number:,.2f}".rstrip("0").rstrip(".")


_METRIC_FORMAT: dict[str, Any] = {
    "roc_auc": lambda v: _fmt(v, 3),
    "pr_auc": lambda v: _fmt(v, 3),
    "top_decile_lift": lambda v: _fmt(v, 2),
    "brier": lambda v: _fmt(v, 4),
    "emp": lambda v: _fmt(v, 3),
    "emp_share_contacted": lambda v: _fmt_pct(v, 1),
}


def _text(value: Any) -> str:
    return DASH if value is None or value == "" else str(value)


def _when(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return DASH
    try:
        return datetime.fromisoformat(value).isoformat(sep=" ", timespec="minutes")
    except ValueError:
        return value


def _months(labels: Mapping[str, str], value: Any) -> str:
    number = _number(value)
    if number is None:
        return DASH
    key = "months_1" if number == 1 else "months_n"
    return labels[key].format(n=_fmt_compact(number))


def _model_label(labels: Mapping[str, str], key: str, *, short: bool = False) -> str:
    return labels.get(f"{'short' if short else 'model'}_{key}", key)


def _rows(model: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    rows = model.get(key)
    return [r for r in rows if isinstance(r, Mapping)] if isinstance(rows, list) else []


def _column(rows: Iterable[Mapping[str, Any]], key: str) -> list[float]:
    values = []
    for row in rows:
        number = _number(row.get(key))
        values.append(math.nan if number is None else number)
    return values


def _models(document: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    models = document.get("models")
    if not isinstance(models, Mapping):
        return {}
    return {str(k): v for k, v in models.items() if isinstance(v, Mapping)}
