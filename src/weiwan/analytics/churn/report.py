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

This module lays out the page; the charts are drawn in :mod:`.report_charts`, the texts of
both languages are in :mod:`.report_labels`, the value formats in :mod:`.report_format`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from weiwan.analytics.churn.report_charts import (
    _captioned,
    _Chart,
    _chart_language,
    _charts,
    _Drawn,
)
from weiwan.analytics.churn.report_format import (
    _METRIC_FORMAT,
    DASH,
    _atomic_write,
    _fmt,
    _fmt_compact,
    _fmt_int,
    _fmt_pct,
    _jsonable,
    _model_label,
    _models,
    _months,
    _number,
    _rows,
    _text,
    _when,
)
from weiwan.analytics.churn.report_labels import LABELS, Language

LANGUAGES: tuple[Language, ...] = ("zh", "en")
JSON_NAME = "evaluation.json"
HTML_NAMES: dict[Language, str] = {"zh": "report.html", "en": "report.en.html"}
HTML_LANG: dict[Language, str] = {"zh": "zh-CN", "en": "en"}
BASELINES = ("naive_bayes", "logistic_regression")

# (document key, direction: +1 higher is better, -1 lower is better, 0 no better or worse)
METRICS: tuple[tuple[str, int], ...] = (
    ("roc_auc", 1),
    ("pr_auc", 1),
    ("top_decile_lift", 1),
    ("brier", -1),
    ("emp", 1),
    ("emp_share_contacted", 0),
)


@dataclass(frozen=True)
class ReportFiles:
    """The files one :func:`write_report` call wrote."""

    json_path: Path
    html_path: Path  # Chinese (zh-CN), the default
    html_en_path: Path

    @property
    def paths(self) -> tuple[Path, Path, Path]:
        return (self.json_path, self.html_path, self.html_en_path)


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


def _sample(labels: Mapping[str, str], sample: Mapping[str, Any] | None) -> str:
    """Whom the model learned from: every labelled subscriber-month or a stratified sample of
    them (a report stored before the sample was stratified: everyone or a uniform share)."""
    if not sample:
        return DASH
    if "labelled" in sample:
        figures = {
            "rows": _fmt_int(sample.get("rows")),
            "labelled": _fmt_int(sample.get("labelled")),
            "churners": _fmt_int(sample.get("churners")),
        }
        everyone = sample.get("rows") == sample.get("labelled")
        return labels["sample_all_labelled" if everyone else "sample_stratified"].format(**figures)
    subscribers = _fmt_int(sample.get("subscribers"))
    share = float(sample.get("share") or 1.0)
    if share >= 1.0:
        return labels["sample_everyone"].format(subscribers=subscribers)
    return labels["sample_share"].format(subscribers=subscribers, share=_fmt_pct(share, 1))


def leaving_reasons_text(labels: Mapping[str, str], leaving: Mapping[str, Any] | None) -> str:
    """The classifier of the recorded leaving reasons (the model metadata's
    ``leaving_reasons``): how it did on the hold-out's churners, or why there is none (a model
    from before it existed: a dash); in the language of ``labels``."""
    if not leaving:
        return DASH
    if not leaving.get("trained"):
        return labels["leaving_untrained"].format(
            coded=_fmt_int(leaving.get("coded_churners")), needed=_fmt_int(leaving.get("needed"))
        )
    judged = leaving.get("holdout") or {}
    if not judged.get("rows"):
        return labels["leaving_unjudged"].format(n=len(leaving.get("classes") or []))
    return labels["leaving_judged"].format(
        n=len(leaving.get("classes") or []),
        rows=_fmt_int(judged.get("rows")),
        accuracy=_fmt_pct(judged.get("accuracy"), 1),
        common=_fmt_pct(judged.get("most_common_share"), 1),
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
        (labels["training_sample"], _sample(labels, model.get("sample"))),
        (labels["leaving_reasons"], leaving_reasons_text(labels, model.get("leaving_reasons"))),
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
