"""The evaluation report's charts: ROC, gain, lift, calibration and profit, drawn with
matplotlib (Agg, no pyplot state) as base64 PNG data URIs.

Chart text is localised only when matplotlib has a font with CJK glyphs; otherwise the charts
carry English labels while the captions around them stay localised.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, NullFormatter, PercentFormatter

from weiwan.analytics.churn.report_format import (
    _column,
    _fmt_pct,
    _model_label,
    _models,
    _number,
    _rows,
)
from weiwan.analytics.churn.report_labels import LABELS, Language

COLOURS = ("#1f5fa8", "#d9822b", "#3d8c4a", "#8e5ba8", "#b0413e")
GREY = "#7a7a7a"
_DPI = 110
_CJK_PROBE = "流失模型评估"
_CJK_NAME_HINTS = (
    "cjk",
    "wenquanyi",
    "source han",
    "simhei",
    "simsun",
    "yahei",
    "pingfang",
    "hiragino sans gb",
    "heiti",
    "droid sans fallback",
    "ar pl",
    "noto sans sc",
    "noto serif sc",
    "sarasa",
)


@dataclass(frozen=True)
class _Drawn:
    key: str
    note_keys: tuple[str, ...]
    data_uri: str


@dataclass(frozen=True)
class _Chart:
    """One chart as a data URI, with its localised caption."""

    key: str
    title: str
    note: str
    data_uri: str


@cache
def cjk_font() -> str | None:
    """The family name of an installed font matplotlib can draw Chinese with, if any."""
    for entry in font_manager.fontManager.ttflist:
        if not any(hint in entry.name.lower() for hint in _CJK_NAME_HINTS):
            continue
        try:
            charmap = FT2Font(entry.fname).get_charmap()
        except (OSError, RuntimeError, ValueError):
            continue
        if all(ord(char) in charmap for char in _CJK_PROBE):
            return str(entry.name)
    return None


def _chart_language(language: Language) -> Language:
    return language if cjk_font() is not None else "en"


def _captioned(drawn: Sequence[_Drawn], language: Language) -> list[_Chart]:
    labels = LABELS[language]
    joiner = "" if language == "zh" else " "
    return [
        _Chart(
            key=chart.key,
            title=labels[f"chart_{chart.key}_title"],
            note=joiner.join(labels[key] for key in chart.note_keys),
            data_uri=chart.data_uri,
        )
        for chart in drawn
    ]


def _charts(document: Mapping[str, Any], language: Language) -> list[_Drawn]:
    """The five charts, drawn with ``language`` labels; captions are filled in later."""
    labels = LABELS[language]
    models = _models(document)
    churn_rate = _number((document.get("holdout") or {}).get("churn_rate"))
    calibration, log_scale = _calibration_chart(models, labels)
    calibration_notes = ("chart_calibration_note",) + (
        ("chart_calibration_note_log",) if log_scale else ()
    )
    return [
        _Drawn("roc", ("chart_roc_note",), _png(_roc_chart(models, labels))),
        _Drawn("gain", ("chart_gain_note",), _png(_gain_chart(models, labels, churn_rate))),
        _Drawn("lift", ("chart_lift_note",), _png(_lift_chart(models, labels))),
        _Drawn("calibration", calibration_notes, _png(calibration)),
        _Drawn(
            "profit", ("chart_profit_note",), _png(_profit_chart(models.get("default", {}), labels))
        ),
    ]


def _figure() -> tuple[Figure, Axes]:
    figure = Figure(figsize=(6.4, 4.0), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.grid(True, color="#e4e4e4", linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return figure, axes


def _png(figure: Figure) -> str:
    font = cjk_font()
    if font is not None:
        for text in figure.findobj(Text):
            text.set_fontfamily([font, "DejaVu Sans"])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def _legend_label(labels: Mapping[str, str], name: str) -> str:
    short = _model_label(labels, name, short=True)
    return short[:1].upper() + short[1:]


def _legend(axes: Axes) -> None:
    axes.legend(loc="best", fontsize=8, frameon=False)


def _roc_chart(models: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str]) -> Figure:
    figure, axes = _figure()
    axes.plot(
        [0, 1], [0, 1], linestyle="--", color=GREY, linewidth=1, label=labels["legend_random"]
    )
    for index, (name, model) in enumerate(models.items()):
        rows = _rows(model, "roc")
        if rows:
            axes.plot(
                _column(rows, "fpr"),
                _column(rows, "tpr"),
                color=_colour(index),
                linewidth=2 if name == "default" else 1.4,
                label=_legend_label(labels, name),
            )
    axes.set(xlim=(0, 1), ylim=(0, 1.01), xlabel=labels["ax_fpr"], ylabel=labels["ax_tpr"])
    _legend(axes)
    return figure


def _gain_chart(
    models: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str], churn_rate: float | None
) -> Figure:
    figure, axes = _figure()
    axes.plot(
        [0, 1], [0, 1], linestyle="--", color=GREY, linewidth=1, label=labels["legend_random"]
    )
    if churn_rate is not None and 0 < churn_rate <= 1:
        axes.plot(
            [0, churn_rate, 1],
            [0, 1, 1],
            linestyle=":",
            color=GREY,
            linewidth=1.2,
            label=labels["legend_perfect"],
        )
    for index, (name, model) in enumerate(models.items()):
        rows = _rows(model, "lift")
        if rows:
            axes.plot(
                [0.0, *_column(rows, "share_contacted")],
                [0.0, *_column(rows, "gain")],
                color=_colour(index),
                marker="o",
                markersize=3,
                linewidth=2 if name == "default" else 1.4,
                label=_legend_label(labels, name),
            )
    axes.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    axes.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    axes.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel=labels["ax_share_contacted"],
        ylabel=labels["ax_gain"],
    )
    _legend(axes)
    return figure


def _lift_chart(models: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str]) -> Figure:
    figure, axes = _figure()
    axes.axhline(1.0, linestyle="--", color=GREY, linewidth=1, label=labels["legend_random"])
    width = 0.8 / max(len(models), 1)
    groups = 0
    for index, (name, model) in enumerate(models.items()):
        rows = _rows(model, "lift")
        lifts = [0.0 if math.isnan(v) else v for v in _column(rows, "lift")]
        groups = max(groups, len(lifts))
        positions = [g + 1 + (index - (len(models) - 1) / 2) * width for g in range(len(lifts))]
        axes.bar(
            positions,
            lifts,
            width=width,
            color=_colour(index),
            label=_legend_label(labels, name),
        )
    axes.set_xticks(range(1, groups + 1))
    axes.grid(False, axis="x")
    axes.set(xlabel=labels["ax_decile"], ylabel=labels["ax_lift"])
    _legend(axes)
    return figure


def _calibration_chart(
    models: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str]
) -> tuple[Figure, bool]:
    """Mean predicted against observed per group; log-log when the rates span a decade or more
    (low churn rates crowd into a corner of a linear plot), with zero rates on the bottom edge."""
    figure, axes = _figure()
    series = {
        name: (
            _column(_rows(m, "calibration"), "mean_predicted"),
            _column(_rows(m, "calibration"), "observed_rate"),
        )
        for name, m in models.items()
    }
    values = [v for xs, ys in series.values() for v in (*xs, *ys) if v > 0 and math.isfinite(v)]
    predicted = [x for xs, _ in series.values() for x in xs if math.isfinite(x)]
    log_scale = bool(values) and min(predicted, default=0) > 0 and max(values) / min(values) >= 10
    if log_scale:
        low, high = min(values) / 1.6, min(max(values) * 1.6, 1.0)
        axes.set_xscale("log")
        axes.set_yscale("log")
    else:
        low, high = 0.0, max([*values, 0.01]) * 1.05
    axes.plot(
        [low, high],
        [low, high],
        linestyle="--",
        color=GREY,
        linewidth=1,
        label=labels["legend_calibrated"],
    )
    zero_shown = False
    for index, (name, (xs, ys)) in enumerate(series.items()):
        shown = [(x, y) for x, y in zip(xs, ys, strict=True) if math.isfinite(x + y)]
        positive = [(x, y) for x, y in shown if y > 0 or not log_scale]
        if positive:
            axes.plot(
                [x for x, _ in positive],
                [y for _, y in positive],
                color=_colour(index),
                marker="o",
                markersize=4,
                linewidth=2 if name == "default" else 1.4,
                label=_legend_label(labels, name),
            )
        zeros = [x for x, y in shown if log_scale and y <= 0]
        if zeros:
            axes.plot(
                zeros,
                [low] * len(zeros),
                linestyle="none",
                marker="v",
                markersize=6,
                markerfacecolor="none",
                markeredgecolor=_colour(index),
                clip_on=False,
            )
            zero_shown = True
    if zero_shown:
        axes.plot(
            [],
            [],
            linestyle="none",
            marker="v",
            markerfacecolor="none",
            markeredgecolor=GREY,
            label=labels["legend_zero_observed"],
        )
    axes.set(xlim=(low, high), ylim=(low, high))
    axes.set(xlabel=labels["ax_mean_predicted"], ylabel=labels["ax_observed"])
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_formatter(FuncFormatter(_percent_tick))
        axis.set_minor_formatter(NullFormatter())
    _legend(axes)
    return figure, log_scale


def _percent_tick(value: float, _position: float | None) -> str:
    return f"{value * 100:.3g}%"


def _profit_chart(default: Mapping[str, Any], labels: Mapping[str, str]) -> Figure:
    figure, axes = _figure()
    axes.axhline(0.0, color=GREY, linewidth=1)
    rows = _rows(default, "profit")
    axes.plot(
        _column(rows, "share_contacted"),
        _column(rows, "profit_per_customer"),
        color=_colour(0),
        linewidth=2,
        label=labels["legend_profit"],
    )
    share = _number(default.get("emp_share_contacted"))
    if share is not None:
        axes.axvline(
            share,
            color=COLOURS[-1],
            linestyle="--",
            linewidth=1.2,
            label=labels["legend_emp_share"].format(share=_fmt_pct(share)),
        )
    axes.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    axes.set(xlim=(0, 1), xlabel=labels["ax_share_contacted"], ylabel=labels["ax_profit"])
    _legend(axes)
    return figure
