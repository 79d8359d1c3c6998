"""The churn model's evaluation report (模型评估报告): JSON plus self-contained HTML.

Training produces an evaluation document (a JSON-able dict: model metadata, the hold-out's size,
the profit parameters, per model its metrics with lift, calibration, ROC and profit rows, and
optionally the survival model's figures). :func:`write_report` stores it as
``evaluation.json`` and renders it for a retention analyst as ``report.html`` (Chinese, the
default) and ``report.en.html`` (English). Each HTML file is fully self-contained: inline CSS,
charts drawn with matplotlib (Agg, no pyplot state) embedded as base64 PNG, no script, no link
to the network, so it can be mailed, opened offline and printed.

Chart text is localised only when matplotlib has a font with CJK glyphs; otherwise the charts
of both reports carry English labels while the captions around them stay localised.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, NullFormatter, PercentFormatter

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
JSON_NAME = "evaluation.json"
HTML_NAMES: dict[Language, str] = {"zh": "report.html", "en": "report.en.html"}
HTML_LANG: dict[Language, str] = {"zh": "zh-CN", "en": "en"}
DASH = "–"
BASELINES = ("naive_bayes", "logistic_regression")
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

# (document key, direction: +1 higher is better, -1 lower is better, 0 no better or worse)
METRICS: tuple[tuple[str, int], ...] = (
    ("roc_auc", 1),
    ("pr_auc", 1),
    ("top_decile_lift", 1),
    ("brier", -1),
    ("emp", 1),
    ("emp_share_contacted", 0),
)

LABELS: dict[Language, dict[str, str]] = {
    "zh": {
        "title": "流失预警模型评估报告",
        "generated_at": "生成时间",
        "other_language": "English version",
        "section_model": "模型与数据",
        "model_version": "模型版本",
        "unregistered": "未登记",
        "model_kind": "模型类型",
        "horizon": "预测窗口",
        "months_1": "{n} 个月",
        "months_n": "{n} 个月",
        "include_involuntary": "含非自愿流失（欠费停机）",
        "yes": "是",
        "no": "否",
        "training_window": "训练快照",
        "snapshots_span": "{first} 至 {last}（{n} 个快照）",
        "training_rows": "训练样本数",
        "holdout": "留出快照（时间外验证）",
        "holdout_size": "留出样本",
        "holdout_size_value": "{rows} 位客户，其中 {churners} 位流失（流失率 {rate}）",
        "fingerprint": "数据指纹",
        "emp_parameters": "利润模型参数",
        "emp_parameters_value": (
            "挽留接受率 γ ~ Beta({alpha}, {beta})，优惠成本 {offer}，接触成本 {contact}，"
            "客户价值 {clv}"
        ),
        "clv_per_customer": "逐客户生命周期价值",
        "section_metrics": "三个模型对比（留出快照）",
        "col_model": "模型",
        "metric_roc_auc": "ROC AUC",
        "metric_pr_auc": "PR AUC",
        "metric_top_decile_lift": "前 10% 提升度",
        "metric_brier": "Brier 分数",
        "metric_emp": "每客户预期最大利润",
        "metric_emp_share_contacted": "利润最优接触比例",
        "metrics_note": (
            "加粗并着色的是该指标最好的模型。Brier 分数越低越好，其余指标越高越好；"
            "利润最优接触比例由利润模型决定，无好坏之分。"
        ),
        "model_default": "默认模型",
        "model_naive_bayes": "朴素贝叶斯（基线）",
        "model_logistic_regression": "逻辑回归（基线）",
        "short_default": "默认模型",
        "short_naive_bayes": "朴素贝叶斯",
        "short_logistic_regression": "逻辑回归",
        "reading_auc_higher": "默认模型的 ROC AUC 比最好的基线（{baseline}）高 {diff}",
        "reading_auc_lower": "默认模型的 ROC AUC 比最好的基线（{baseline}）低 {diff}",
        "reading_auc_equal": "默认模型的 ROC AUC 与最好的基线（{baseline}）持平",
        "reading_emp_higher": "每客户预期最大利润比最好的基线（{baseline}）高 {diff}",
        "reading_emp_lower": "每客户预期最大利润比最好的基线（{baseline}）低 {diff}",
        "reading_emp_equal": "每客户预期最大利润与最好的基线（{baseline}）持平",
        "reading_none": "缺少可比较的指标，无法判断默认模型是否优于基线",
        "clause_separator": "；",
        "sentence_end": "。",
        "section_charts": "图表",
        "chart_roc_title": "ROC 曲线",
        "chart_roc_note": "曲线越靠近左上角，模型越能把流失客户排在前面；对角线为随机排序。",
        "chart_gain_title": "累计捕获曲线",
        "chart_gain_note": (
            "按风险从高到低接触一定比例的客户时，能覆盖全部流失客户的比例；"
            "对角线为随机接触，虚线为理想排序。"
        ),
        "chart_lift_title": "分组提升度",
        "chart_lift_note": "各风险十分位组的流失率相对整体流失率的倍数；1 表示与随机相同。",
        "chart_calibration_title": "概率校准",
        "chart_calibration_note": (
            "每组客户的平均预测概率与实际流失率；点越靠近对角线，预测概率越可以直接当真。"
        ),
        "chart_calibration_note_log": "流失率低，坐标轴用对数刻度；实际无人流失的组画在底边。",
        "chart_profit_title": "预期利润曲线（默认模型）",
        "chart_profit_note": (
            "按风险从高到低接触不同比例的客户时，每位客户的预期活动利润（接受率取 Beta 均值）；"
            "竖线为预期最大利润（EMP）对应的最优接触比例。"
        ),
        "ax_fpr": "误报率（假阳性率）",
        "ax_tpr": "命中率（真阳性率）",
        "ax_share_contacted": "接触客户比例",
        "ax_gain": "捕获的流失客户比例",
        "ax_decile": "风险十分位组（1 = 风险最高）",
        "ax_lift": "提升度",
        "ax_mean_predicted": "平均预测概率",
        "ax_observed": "实际流失率",
        "ax_profit": "每客户预期利润",
        "legend_random": "随机",
        "legend_perfect": "理想",
        "legend_calibrated": "完全校准",
        "legend_zero_observed": "实际流失率为 0",
        "legend_profit": "预期利润",
        "legend_emp_share": "EMP 最优接触比例 {share}",
        "section_survival": "生存模型（剩余在网时长）",
        "survival_concordance": "一致性指数（C-index）",
        "survival_rows": "样本数",
        "survival_churners": "随访期内流失客户数",
        "survival_snapshot": "评估快照",
        "survival_follow_up": "随访时长",
        "survival_mean_remaining": "平均预期剩余在网时长",
        "survival_covariates": "协变量",
        "survival_horizon": "剩余在网时长上限",
        "survival_col_window": "时间窗",
        "survival_col_predicted": "平均预测离网概率",
        "survival_col_observed": "实际离网比例",
        "survival_within": "{n} 个月内",
        "survival_note": "一致性指数 0.5 相当于随机排序，越接近 1 越好。",
        "section_lift": "默认模型的分组提升度",
        "lift_group": "组",
        "lift_customers": "客户数",
        "lift_churn_rate": "流失率",
        "lift_share": "累计接触比例",
        "lift_gain": "累计捕获",
        "lift_lift": "提升度",
        "lift_cumulative": "累计提升度",
        "no_data": "无数据",
        "features": "模型特征（{n} 个）",
        "footer": "由 weiwan 生成。本文件自包含，可离线打开和打印。",
    },
    "en": {
        "title": "Churn model evaluation report",
        "generated_at": "Generated",
        "other_language": "中文版",
        "section_model": "Model and data",
        "model_version": "Model version",
        "unregistered": "not registered",
        "model_kind": "Model kind",
        "horizon": "Prediction horizon",
        "months_1": "{n} month",
        "months_n": "{n} months",
        "include_involuntary": "Includes involuntary churn (non-payment)",
        "yes": "yes",
        "no": "no",
        "training_window": "Training snapshots",
        "snapshots_span": "{first} to {last} ({n} snapshots)",
        "training_rows": "Training rows",
        "holdout": "Hold-out snapshot (out-of-time)",
        "holdout_size": "Hold-out customers",
        "holdout_size_value": "{rows} customers, {churners} churners (churn rate {rate})",
        "fingerprint": "Data fingerprint",
        "emp_parameters": "Profit model parameters",
        "emp_parameters_value": (
            "offer acceptance γ ~ Beta({alpha}, {beta}), offer cost {offer}, "
            "contact cost {contact}, customer value {clv}"
        ),
        "clv_per_customer": "per-customer lifetime value",
        "section_metrics": "The three models compared (hold-out snapshot)",
        "col_model": "Model",
        "metric_roc_auc": "ROC AUC",
        "metric_pr_auc": "PR AUC",
        "metric_top_decile_lift": "Top-decile lift",
        "metric_brier": "Brier score",
        "metric_emp": "Expected max. profit per customer",
        "metric_emp_share_contacted": "Profit-optimal share to contact",
        "metrics_note": (
            "Bold and shaded: the best model on that metric. Lower is better for the Brier score, "
            "higher for the others; the profit-optimal share follows from the profit model and "
            "is neither better nor worse."
        ),
        "model_default": "Default model",
        "model_naive_bayes": "Naive Bayes (baseline)",
        "model_logistic_regression": "Logistic regression (baseline)",
        "short_default": "default model",
        "short_naive_bayes": "naive Bayes",
        "short_logistic_regression": "logistic regression",
        "reading_auc_higher": (
            "the default model's ROC AUC is {diff} higher than the best baseline's ({baseline})"
        ),
        "reading_auc_lower": (
            "the default model's ROC AUC is {diff} lower than the best baseline's ({baseline})"
        ),
        "reading_auc_equal": "the default model's ROC AUC equals the best baseline's ({baseline})",
        "reading_emp_higher": (
            "its expected maximum profit per customer is {diff} higher than the best "
            "baseline's ({baseline})"
        ),
        "reading_emp_lower": (
            "its expected maximum profit per customer is {diff} lower than the best "
            "baseline's ({baseline})"
        ),
        "reading_emp_equal": (
            "its expected maximum profit per customer equals the best baseline's ({baseline})"
        ),
        "reading_none": (
            "the metrics needed to compare the default model with the baselines are missing"
        ),
        "clause_separator": "; ",
        "sentence_end": ".",
        "section_charts": "Charts",
        "chart_roc_title": "ROC curves",
        "chart_roc_note": (
            "The closer a curve runs to the top-left corner, the better the model ranks churners "
            "first; the diagonal is a random ranking."
        ),
        "chart_gain_title": "Cumulative gain",
        "chart_gain_note": (
            "Share of all churners reached when contacting a share of customers, riskiest first; "
            "the diagonal is random contact, the dashed line a perfect ranking."
        ),
        "chart_lift_title": "Lift by decile",
        "chart_lift_note": (
            "Each risk decile's churn rate over the overall churn rate; 1 is no better than random."
        ),
        "chart_calibration_title": "Calibration",
        "chart_calibration_note": (
            "Mean predicted probability against the observed churn rate per group; the closer to "
            "the diagonal, the more the probabilities can be taken at face value."
        ),
        "chart_calibration_note_log": (
            "Churn rates are low, so both axes are logarithmic; groups with no churner are drawn "
            "on the bottom edge."
        ),
        "chart_profit_title": "Expected profit (default model)",
        "chart_profit_note": (
            "Expected campaign profit per customer when contacting each share of customers, "
            "riskiest first (acceptance rate at its Beta mean); the vertical line marks the share "
            "that maximises expected profit (EMP)."
        ),
        "ax_fpr": "False positive rate",
        "ax_tpr": "True positive rate",
        "ax_share_contacted": "Share of customers contacted",
        "ax_gain": "Share of churners captured",
        "ax_decile": "Risk decile (1 = riskiest)",
        "ax_lift": "Lift",
        "ax_mean_predicted": "Mean predicted probability",
        "ax_observed": "Observed churn rate",
        "ax_profit": "Expected profit per customer",
        "legend_random": "Random",
        "legend_perfect": "Perfect",
        "legend_calibrated": "Perfectly calibrated",
        "legend_zero_observed": "No churner observed",
        "legend_profit": "Expected profit",
        "legend_emp_share": "EMP-optimal share {share}",
        "section_survival": "Survival model (remaining tenure)",
        "survival_concordance": "Concordance index (C-index)",
        "survival_rows": "Rows",
        "survival_churners": "Churners during the follow-up",
        "survival_snapshot": "Evaluation snapshot",
        "survival_follow_up": "Follow-up",
        "survival_mean_remaining": "Mean expected remaining tenure",
        "survival_covariates": "Covariates",
        "survival_horizon": "Remaining tenure horizon",
        "survival_col_window": "Window",
        "survival_col_predicted": "Mean predicted P(leave)",
        "survival_col_observed": "Observed share left",
        "survival_within": "within {n} months",
        "survival_note": "A concordance of 0.5 is a random ordering; the closer to 1, the better.",
        "section_lift": "Default model: lift by decile",
        "lift_group": "Group",
        "lift_customers": "Customers",
        "lift_churn_rate": "Churn rate",
        "lift_share": "Cumulative share contacted",
        "lift_gain": "Gain (cumulative)",
        "lift_lift": "Lift",
        "lift_cumulative": "Cumulative lift",
        "no_data": "no data",
        "features": "Model features ({n})",
        "footer": (
            "Generated by weiwan. This file is self-contained: it opens offline and prints as is."
        ),
    },
}


@dataclass(frozen=True)
class ReportFiles:
    """The files one :func:`write_report` call wrote."""

    json_path: Path
    html_path: Path  # Chinese (zh-CN), the default
    html_en_path: Path

    @property
    def paths(self) -> tuple[Path, Path, Path]:
        return (self.json_path, self.html_path, self.html_en_path)


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


def write_report(document: Mapping[str, Any], folder: Path) -> ReportFiles:
    """Write ``evaluation.json``, ``report.html`` (zh-CN) and ``report.en.html`` into ``folder``.

    The JSON is the document with NaN and infinities as ``null`` (UTF-8, indented). Every file is
    written to a temporary file in ``folder`` and then moved over the old one, so a reader never
    sees half a report. The two HTML files link to each other by relative name.
    """
    folder.mkdir(parents=True, exist_ok=True)
    clean = _jsonable(document)
    json_path = folder / JSON_NAME
    _atomic_write(
        json_path, json.dumps(clean, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    )
    charts: dict[Language, list[_Drawn]] = {}
    paths: dict[Language, Path] = {}
    for language in LANGUAGES:
        drawn_in = _chart_language(language)
        if drawn_in not in charts:
            charts[drawn_in] = _charts(clean, drawn_in)
        other: Language = "en" if language == "zh" else "zh"
        html = _render(clean, language, _captioned(charts[drawn_in], language), HTML_NAMES[other])
        paths[language] = folder / HTML_NAMES[language]
        _atomic_write(paths[language], html)
    return ReportFiles(json_path=json_path, html_path=paths["zh"], html_en_path=paths["en"])


def render_html(
    document: Mapping[str, Any], language: Language, *, alternate_href: str | None = None
) -> str:
    """The report as one self-contained HTML page; ``alternate_href`` links the other language."""
    clean = _jsonable(document)
    charts = _captioned(_charts(clean, _chart_language(language)), language)
    return _render(clean, language, charts, alternate_href)


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


# ----------------------------------------------------------------------------- values and text


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


# ----------------------------------------------------------------------------- the page


def _render(
    document: Mapping[str, Any],
    language: Language,
    charts: Sequence[_Chart],
    alternate_href: str | None,
) -> str:
    labels = LABELS[language]
    models = _models(document)
    default = models.get("default", {})
    survival = document.get("survival")
    features = (document.get("model") or {}).get("features") or []
    template = _environment().get_template("churn_report.html.j2")
    return template.render(
        t=labels,
        html_lang=HTML_LANG[language],
        version=str((document.get("model") or {}).get("version") or ""),
        alternate_href=alternate_href,
        generated_at=_when(document.get("generated_at")),
        header=_header(document, labels),
        metric_columns=[labels[f"metric_{key}"] for key, _ in METRICS],
        metric_rows=_metric_rows(models, labels),
        reading=_reading(models, labels, language),
        charts=charts,
        survival=_survival(survival, labels) if isinstance(survival, Mapping) else None,
        lift_rows=_lift_rows(_rows(default, "lift")),
        features=[str(f) for f in features],
    )


@cache
def _environment() -> Environment:
    # select_autoescape() alone matches names ending in .html, not .html.j2
    return Environment(
        loader=PackageLoader("weiwan.analytics.churn", "templates"),
        autoescape=select_autoescape(("html", "htm", "xml", "j2")),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _header(document: Mapping[str, Any], labels: Mapping[str, str]) -> list[tuple[str, str]]:
    model = document.get("model") or {}
    holdout = document.get("holdout") or {}
    emp = document.get("emp_parameters") or {}
    snapshots = sorted(str(s) for s in model.get("training_snapshots") or [])
    window = (
        labels["snapshots_span"].format(first=snapshots[0], last=snapshots[-1], n=len(snapshots))
        if snapshots
        else DASH
    )
    involuntary = model.get("include_involuntary")
    clv = emp.get("clv")
    return [
        (labels["model_version"], model.get("version") or labels["unregistered"]),
        (labels["model_kind"], _text(model.get("kind"))),
        (labels["horizon"], _months(labels, model.get("horizon_months"))),
        (
            labels["include_involuntary"],
            DASH if involuntary is None else labels["yes" if involuntary else "no"],
        ),
        (labels["training_window"], window),
        (labels["training_rows"], _fmt_int(model.get("training_rows"))),
        (labels["holdout"], _text(model.get("holdout_snapshot"))),
        (
            labels["holdout_size"],
            labels["holdout_size_value"].format(
                rows=_fmt_int(holdout.get("rows")),
                churners=_fmt_int(holdout.get("churners")),
                rate=_fmt_pct(holdout.get("churn_rate"), 2),
            ),
        ),
        (
            labels["emp_parameters"],
            labels["emp_parameters_value"].format(
                alpha=_fmt_compact(emp.get("alpha")),
                beta=_fmt_compact(emp.get("beta")),
                offer=_fmt_compact(emp.get("offer_cost")),
                contact=_fmt_compact(emp.get("contact_cost")),
                clv=_clv(clv, labels),
            ),
        ),
        (labels["fingerprint"], _text(model.get("data_fingerprint"))),
    ]


def _clv(value: Any, labels: Mapping[str, str]) -> str:
    """One customer value for everyone ("200", 200) or the per-customer CLV (any other text)."""
    if isinstance(value, str):
        try:
            value = float(value.replace(",", ""))
        except ValueError:
            return labels["clv_per_customer"]
    return _fmt_compact(value)


def _metric_rows(
    models: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str]
) -> list[dict[str, Any]]:
    best: dict[str, float | None] = {}
    for key, direction in METRICS:
        values = [v for m in models.values() if (v := _number(m.get(key))) is not None]
        best[key] = (
            (max(values) if direction > 0 else min(values)) if direction and values else None
        )
    rows = []
    for name, model in models.items():
        cells = []
        for key, _ in METRICS:
            value = _number(model.get(key))
            cells.append(
                {
                    "metric": key,
                    "text": _METRIC_FORMAT[key](value),
                    "best": value is not None and value == best[key],
                }
            )
        rows.append({"key": name, "label": _model_label(labels, name), "cells": cells})
    return rows


def _reading(
    models: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str], language: Language
) -> str:
    """One sentence: what the default gains over the best baseline on ROC AUC and on EMP."""
    default = models.get("default")
    clauses = []
    for metric, prefix, digits in (("roc_auc", "reading_auc", 3), ("emp", "reading_emp", 3)):
        mine = _number(default.get(metric)) if default else None
        scored = [
            (value, name)
            for name in BASELINES
            if name in models and (value := _number(models[name].get(metric))) is not None
        ]
        if mine is None or not scored:
            continue
        theirs, baseline = max(scored)
        diff = mine - theirs
        shown = f"{abs(diff):,.{digits}f}"
        outcome = (
            "equal" if float(shown.replace(",", "")) == 0 else "higher" if diff > 0 else "lower"
        )
        clauses.append(
            labels[f"{prefix}_{outcome}"].format(
                diff=shown, baseline=_model_label(labels, baseline, short=True)
            )
        )
    sentence = labels["clause_separator"].join(clauses) if clauses else labels["reading_none"]
    if language == "en":
        sentence = sentence[:1].upper() + sentence[1:]
    return sentence + labels["sentence_end"]


def _survival(survival: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """Facts and the predicted-versus-observed leave rates; optional fields only when present."""
    months = sorted(
        int(match.group(1))
        for key in survival
        if (match := re.fullmatch(r"mean_p_leave_(\d+)m", str(key)))
    )
    windows = []
    for month in months:
        predicted = survival.get(f"mean_p_leave_{month}m")
        observed = survival.get(f"observed_leave_{month}m")
        if _number(predicted) is None and _number(observed) is None:
            continue
        windows.append(
            {
                "label": labels["survival_within"].format(n=month),
                "predicted": _fmt_pct(predicted),
                "observed": _fmt_pct(observed),
            }
        )
    covariates = survival.get("covariates") or []
    facts = [
        (labels["survival_concordance"], _fmt(survival.get("concordance_index"), 3)),
        (labels["survival_rows"], _fmt_int(survival.get("rows"))),
    ]
    optional = (
        ("churners", "survival_churners", _fmt_int),
        ("snapshot", "survival_snapshot", _text),
        ("follow_up_months", "survival_follow_up", lambda v: _months(labels, v)),
        (
            "mean_expected_remaining_months",
            "survival_mean_remaining",
            lambda v: _months(labels, round(v, 1)) if _number(v) is not None else DASH,
        ),
    )
    facts += [
        (labels[label], show(survival[key])) for key, label, show in optional if key in survival
    ]
    facts += [
        (labels["survival_horizon"], _months(labels, survival.get("horizon_months"))),
        (labels["survival_covariates"], ", ".join(str(c) for c in covariates) or DASH),
    ]
    return {"facts": facts, "windows": windows}


def _lift_rows(rows: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    return [
        [
            _fmt_int(row.get("group")),
            _fmt_int(row.get("customers")),
            _fmt_pct(row.get("churn_rate"), 2),
            _fmt_pct(row.get("share_contacted")),
            _fmt_pct(row.get("gain")),
            _fmt(row.get("lift"), 2),
            _fmt(row.get("cumulative_lift"), 2),
        ]
        for row in rows
    ]


# ----------------------------------------------------------------------------- charts


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
