"""ECharts options of the dashboards (the ``chart`` macro draws them and shows their table)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _scaled(values: Sequence[float | None], percent: bool) -> list[float | None]:
    if not percent:
        return [round(v, 4) if v is not None else None for v in values]
    return [round(v * 100, 2) if v is not None else None for v in values]


def _value_axis(percent: bool) -> dict[str, Any]:
    axis: dict[str, Any] = {"type": "value"}
    if percent:
        axis["axisLabel"] = {"formatter": "{value}%"}
    return axis


def _threshold(option: dict[str, Any], value: float | None, axis: str) -> dict[str, Any]:
    """A dashed line at ``value`` on the first series (e.g. PSI 0.2: retrain above it)."""
    if value is not None and option["series"]:
        option["series"][0]["markLine"] = {
            "silent": True,
            "symbol": "none",
            "lineStyle": {"type": "dashed", "color": "#dc3545"},
            "data": [{axis: value}],
        }
    return option


def line_chart(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    percent: bool = True,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Lines over ``categories`` (months, dates); rates shown in per cent; an optional
    dashed threshold line."""
    option = {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 48, "right": 16, "top": 32, "bottom": 32},
        "xAxis": {"type": "category", "data": list(categories)},
        "yAxis": _value_axis(percent),
        "series": [
            {"type": "line", "name": name, "data": _scaled(values, percent), "smooth": False}
            for name, values in series
        ],
    }
    return _threshold(option, threshold, "yAxis")


def bar_chart(
    categories: Sequence[str],
    values: Sequence[float | None],
    *,
    percent: bool = True,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Horizontal bars, one per category (long labels such as branch names stay readable)."""
    option = {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 8, "right": 24, "top": 8, "bottom": 24, "containLabel": True},
        "xAxis": _value_axis(percent),
        "yAxis": {"type": "category", "data": list(categories), "inverse": True},
        "series": [{"type": "bar", "data": _scaled(values, percent)}],
    }
    return _threshold(option, threshold, "xAxis")


def grouped_bar_chart(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    percent: bool = True,
) -> dict[str, Any]:
    """Vertical bars side by side per category, one colour per series (e.g. leavers vs base)."""
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 48, "right": 16, "top": 32, "bottom": 32},
        "xAxis": {"type": "category", "data": list(categories)},
        "yAxis": _value_axis(percent),
        "series": [
            {"type": "bar", "name": name, "data": _scaled(values, percent)}
            for name, values in series
        ],
    }
