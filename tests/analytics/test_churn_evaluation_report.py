"""The churn evaluation report: ROC and profit curves, the JSON and the two HTML pages."""

from __future__ import annotations

import base64
import json
import math
import re
import string
import warnings
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from weiwan.analytics.churn import report, report_charts
from weiwan.analytics.churn.metrics import (
    calibration_table,
    evaluate,
    expected_maximum_profit,
    lift_table,
    profit_curve,
    roc_points,
)
from weiwan.analytics.churn.report import ReportFiles, render_html, write_report
from weiwan.analytics.churn.report_labels import LABELS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
TEMPLATE = Path(report.__file__).parent / "templates" / "churn_report.html.j2"
MODELS = ("default", "naive_bayes", "logistic_regression")


def _labels_and_scores(n: int = 4000, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    risk = rng.beta(0.8, 20, n)  # about 4% churn, heavily skewed like an operator's base
    churned = (rng.random(n) < risk).astype(int)
    return churned, risk


def _assess(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    emp, share = expected_maximum_profit(y, p)
    return {
        **evaluate(y, p),
        "emp": emp,
        "emp_share_contacted": share,
        "lift": lift_table(y, p),
        "calibration": calibration_table(y, p),
        "roc": roc_points(y, p),
        "profit": profit_curve(y, p),
    }


def _document() -> dict[str, Any]:
    y, risk = _labels_and_scores()
    rng = np.random.default_rng(3)
    models = {
        name: _assess(y, np.clip(risk * np.exp(rng.normal(0, noise, len(y))), 1e-6, 1.0))
        for name, noise in zip(MODELS, (0.2, 1.5, 0.7), strict=True)
    }
    models["naive_bayes"]["top_decile_lift"] = float("nan")
    return {
        "generated_at": "2026-11-24T15:00:00+00:00",
        "model": {
            "version": "v0003",
            "kind": "lightgbm-calibrated",
            "horizon_months": 1,
            "include_involuntary": True,
            "training_snapshots": ["2026-06-30", "2026-07-31", "2026-08-31"],
            "holdout_snapshot": "2026-09-30",
            "training_rows": 123456,
            "leaving_reasons": {
                "trained": True,
                "classes": ["price", "service", "other"],
                "holdout": {"rows": 1234, "accuracy": 0.5158, "most_common_share": 0.2526},
            },
            "features": ["arpu_1m", "offnet_share_3m", "<script>alert(1)</script>"],
            "data_fingerprint": "abc123",
        },
        "holdout": {"rows": len(y), "churners": int(y.sum()), "churn_rate": float(y.mean())},
        "emp_parameters": {
            "alpha": 6,
            "beta": 14,
            "offer_cost": 10,
            "contact_cost": 1,
            "clv": "clv",  # one value per customer, from the CLV step
        },
        "models": models,
        "survival": {
            "concordance_index": 0.71,
            "rows": 8000,
            "covariates": ["is_prepaid", "plan_monthly_fee"],
            "horizon_months": 60,
            "mean_p_leave_3m": 0.05,
            "mean_p_leave_6m": 0.1,
            "observed_leave_3m": 0.048,
            "observed_leave_6m": float("nan"),
            "snapshot": "2026-03-31",
            "follow_up_months": 6,
            "churners": 412,
            "mean_expected_remaining_months": 23.44,
        },
    }


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return _document()


@pytest.fixture(scope="module")
def written(document: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Glyph missing", no legend or log-scale complaints
        return write_report(document, tmp_path_factory.mktemp("report") / "v0003")


@pytest.fixture(scope="module")
def pages(written: ReportFiles) -> Iterator[dict[str, str]]:
    yield {
        "zh": written.html_path.read_text(encoding="utf-8"),
        "en": written.html_en_path.read_text(encoding="utf-8"),
    }


def _row(html: str, model: str) -> str:
    match = re.search(rf'<tr data-model="{model}">(.*?)</tr>', html, re.S)
    assert match, model
    return match.group(1)


def _cell(html: str, model: str, metric: str) -> tuple[str, bool]:
    match = re.search(
        rf'<td class="num( best)?" data-metric="{metric}">([^<]*)</td>', _row(html, model)
    )
    assert match, (model, metric)
    return match.group(2), match.group(1) is not None


# ----------------------------------------------------------------------------- roc_points


def test_roc_points_run_from_corner_to_corner_monotone_and_thinned() -> None:
    y, p = _labels_and_scores(20_000)
    for points in (5, 12, 60):
        rows = roc_points(y, p, points=points)
        assert 2 <= len(rows) <= points
        assert rows[0] == {"fpr": 0.0, "tpr": 0.0}
        assert rows[-1] == {"fpr": 1.0, "tpr": 1.0}
        fpr = [r["fpr"] for r in rows]
        tpr = [r["tpr"] for r in rows]
        assert fpr == sorted(fpr)
        assert tpr == sorted(tpr)
    assert len(roc_points(y, p, points=60)) > 30  # thinned, not collapsed


def test_roc_points_of_a_perfect_score_reach_every_churner_before_any_false_alarm() -> None:
    y = np.array([0, 1, 0, 1, 1, 0, 0, 0])
    p = np.where(y == 1, 0.9, 0.1) + np.arange(8) * 0.001
    rows = roc_points(y, p)
    assert {"fpr": 0.0, "tpr": 1.0} in rows
    assert rows == [{"fpr": 0.0, "tpr": 0.0}, {"fpr": 0.0, "tpr": 1.0}, {"fpr": 1.0, "tpr": 1.0}]


def test_roc_points_need_both_classes() -> None:
    assert roc_points([0, 0, 0], [0.1, 0.2, 0.3]) == []
    with pytest.raises(ValueError):
        roc_points([0, 1], [0.1, 0.2], points=1)


# ----------------------------------------------------------------------------- profit_curve


def test_profit_curve_starts_at_zero_and_its_best_share_beats_contacting_everyone() -> None:
    y, p = _labels_and_scores()
    rows = profit_curve(y, p, points=21)
    assert len(rows) == 21
    assert rows[0] == {"share_contacted": 0.0, "profit_per_customer": 0.0}
    shares = [r["share_contacted"] for r in rows]
    assert shares == pytest.approx(np.linspace(0, 1, 21).tolist())
    profits = [r["profit_per_customer"] for r in rows]
    assert max(profits) >= profits[-1]
    # E[max over cutoffs] >= max over cutoffs of E[profit] (Jensen): EMP bounds the curve
    emp, _ = expected_maximum_profit(y, p)
    assert max(profits) <= emp + 1e-12


def test_profit_curve_full_contact_by_hand() -> None:
    y = np.array([1, 0, 0, 1, 0])
    p = np.array([0.9, 0.8, 0.1, 0.4, 0.3])
    clv = np.array([300.0, 50.0, 80.0, 120.0, 60.0])
    gamma, d, f = 0.25, 12.0, 2.0
    rows = profit_curve(y, p, gamma=gamma, offer_cost=d, contact_cost=f, clv=clv, points=6)
    # everyone contacted: churners kept with probability gamma, every non-churner costs d + f
    by_hand = ((gamma * (300 - d) - f) + (gamma * (120 - d) - f) - 3 * (d + f)) / 5
    assert rows[-1]["share_contacted"] == 1.0
    assert rows[-1]["profit_per_customer"] == pytest.approx(by_hand)
    # share 0.2 = the riskiest customer only, a churner worth 300
    assert rows[1]["profit_per_customer"] == pytest.approx((gamma * (300 - d) - f) / 5)


def test_profit_curve_defaults_gamma_to_the_beta_mean() -> None:
    y, p = _labels_and_scores(500)
    assert profit_curve(y, p, alpha=3, beta=7) == profit_curve(y, p, gamma=0.3)


# ----------------------------------------------------------------------------- labels


def test_every_label_exists_in_both_languages_with_the_same_placeholders() -> None:
    assert set(LABELS["zh"]) == set(LABELS["en"])
    for key in LABELS["zh"]:
        fields = [
            {name for _, name, _, _ in string.Formatter().parse(LABELS[lang][key]) if name}
            for lang in ("zh", "en")
        ]
        assert fields[0] == fields[1], key
        assert LABELS["zh"][key] and LABELS["en"][key], key
    used = set(re.findall(r"\bt\.(\w+)", TEMPLATE.read_text(encoding="utf-8")))
    assert used <= set(LABELS["en"])


# ----------------------------------------------------------------------------- the files


def test_writes_the_json_and_both_pages_atomically(written: ReportFiles) -> None:
    folder = written.json_path.parent
    assert sorted(p.name for p in folder.iterdir()) == [
        "evaluation.json",
        "report.en.html",
        "report.html",
    ]  # no temporary file left behind
    assert written.paths == (written.json_path, written.html_path, written.html_en_path)


def test_json_round_trips_with_nan_as_null(written: ReportFiles, document: dict[str, Any]) -> None:
    text = written.json_path.read_text(encoding="utf-8")
    assert "NaN" not in text
    assert "<script>alert(1)</script>" in text  # UTF-8 as is, nothing escaped in the JSON
    loaded = json.loads(text)
    assert loaded["survival"]["observed_leave_6m"] is None
    assert loaded["models"]["naive_bayes"]["top_decile_lift"] is None
    assert list(loaded["models"]) == list(MODELS)
    assert loaded["models"]["default"]["roc_auc"] == document["models"]["default"]["roc_auc"]
    assert loaded["models"]["default"]["lift"] == document["models"]["default"]["lift"]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_each_page_embeds_five_png_charts_and_nothing_external(
    pages: dict[str, str], language: str
) -> None:
    html = pages[language]
    images = IMAGE.findall(html)
    assert len(images) == 5
    for image in images:
        assert base64.b64decode(image, validate=True).startswith(PNG_SIGNATURE)
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert html.count("<img") == 5


def test_languages_and_headings(pages: dict[str, str]) -> None:
    zh, en = pages["zh"], pages["en"]
    assert '<html lang="zh-CN">' in zh
    assert '<html lang="en">' in en
    for heading in ("流失预警模型评估报告", "三个模型对比", "生存模型", "默认模型的分组提升度"):
        assert heading in zh
    for heading in ("Churn model evaluation report", "The three models compared", "Survival"):
        assert heading in en
    assert not re.search(r"[\u4e00-\u9fff]", en.replace(LABELS["en"]["other_language"], ""))
    assert 'href="report.en.html"' in zh and 'href="report.html"' in en


def test_header_numbers_follow_the_locale(pages: dict[str, str], document: dict[str, Any]) -> None:
    rows = document["holdout"]["rows"]
    rate = document["holdout"]["churn_rate"]
    assert f"{rows:,} 位客户" in pages["zh"]
    assert f"{rows:,} customers" in pages["en"]
    assert f"{rate * 100:.2f}%" in pages["en"]
    for html in pages.values():
        assert "123,456" in html
        assert "2026-06-30" in html and "2026-08-31" in html and "2026-09-30" in html
        assert "abc123" in html
    assert "客户价值 逐客户生命周期价值" in pages["zh"]
    assert "customer value per-customer lifetime value" in pages["en"]
    # the leaving-reason model: how it did on the hold-out's churners, beside naming one reason
    assert "区分 3 种离网原因；留出快照 1,234 位流失用户中判对 51.6%" in pages["zh"]
    assert "（一律判为最常见原因：25.3%）" in pages["zh"]
    assert "right for 51.6% of the hold-out" in pages["en"]  # the apostrophe is escaped
    assert "1,234 churners (the commonest reason for all: 25.3%)" in pages["en"]


def test_the_leaving_reason_row_says_why_there_is_no_model() -> None:
    from weiwan.analytics.churn.report import leaving_reasons_text
    from weiwan.analytics.churn.report_labels import LABELS

    untrained = {"trained": False, "coded_churners": 120, "needed": 300}
    assert leaving_reasons_text(LABELS["en"], untrained) == (
        "not trained: only 120 churners have a recorded reason (300 are needed)"
    )
    assert "仅 120 位流失用户" in leaving_reasons_text(LABELS["zh"], untrained)
    assert (
        leaving_reasons_text(LABELS["en"], None) == "–"
    )  # a report stored before the model existed


def test_metrics_table_formats_each_model_and_highlights_the_best(
    pages: dict[str, str], document: dict[str, Any]
) -> None:
    models = document["models"]
    best_auc = max(MODELS, key=lambda m: models[m]["roc_auc"])
    best_brier = min(MODELS, key=lambda m: models[m]["brier"])
    assert best_auc == "default"  # the least noisy scores
    for html in pages.values():
        for name in MODELS:
            text, best = _cell(html, name, "roc_auc")
            assert text == f"{models[name]['roc_auc']:.3f}"
            assert best == (name == best_auc)
            assert _cell(html, name, "brier")[1] == (name == best_brier)
            assert not _cell(html, name, "emp_share_contacted")[1]  # no better or worse
        assert _cell(html, "naive_bayes", "top_decile_lift") == ("–", False)
        assert len(re.findall(r'class="num best" data-metric="roc_auc"', html)) == 1


def test_reading_states_what_the_default_gains_over_the_best_baseline(
    pages: dict[str, str], document: dict[str, Any]
) -> None:
    models = document["models"]
    gain = models["default"]["roc_auc"] - max(
        models["naive_bayes"]["roc_auc"], models["logistic_regression"]["roc_auc"]
    )
    assert gain > 0
    assert f"默认模型的 ROC AUC 比最好的基线（逻辑回归）高 {gain:.3f}" in pages["zh"]
    assert (
        f"The default model's ROC AUC is {gain:.3f} higher than the best baseline's "
        "(logistic regression)" in unescape(pages["en"])
    )


def test_survival_and_lift_sections(pages: dict[str, str], document: dict[str, Any]) -> None:
    zh = pages["zh"]
    assert 'id="survival"' in zh
    assert "0.710" in zh and "5.0%" in zh and "4.8%" in zh
    assert "is_prepaid, plan_monthly_fee" in zh
    assert "2026-03-31" in zh and "23.4 个月" in zh and "412" in zh
    assert "23.4 months" in pages["en"] and "6 months" in pages["en"]
    first = document["models"]["default"]["lift"][0]
    lift_section = zh[zh.index('id="lift"') :]
    assert f"{first['lift']:.2f}" in lift_section
    assert f"{first['gain'] * 100:.1f}%" in lift_section
    assert lift_section.count("<tr>") == 1 + len(document["models"]["default"]["lift"])


def test_feature_names_are_escaped(pages: dict[str, str]) -> None:
    for html in pages.values():
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<script>alert" not in html
        assert "<details>" in html and "offnet_share_3m" in html


# ----------------------------------------------------------------------------- degenerate input


def test_without_survival_the_section_is_left_out(document: dict[str, Any]) -> None:
    parameters = {**document["emp_parameters"], "clv": "200"}
    html = render_html({**document, "survival": None, "emp_parameters": parameters}, "en")
    assert 'id="survival"' not in html
    assert "customer value 200" in html
    assert LABELS["en"]["section_survival"] not in html
    assert len(IMAGE.findall(html)) == 5


def test_missing_metrics_render_as_dashes(document: dict[str, Any]) -> None:
    broken: dict[str, Any] = json.loads(json.dumps(document["models"]["default"]))
    for key in ("roc_auc", "pr_auc", "top_decile_lift", "emp"):
        broken[key] = float("nan")
    broken["brier"] = None
    broken["emp_share_contacted"] = None
    broken["roc"] = []
    for row in broken["lift"]:
        row["gain"] = row["lift"] = row["cumulative_lift"] = float("nan")
    models = {name: broken for name in MODELS}
    sparse = {
        "model": {"version": "", "features": []},
        "holdout": {"rows": 10, "churners": 0, "churn_rate": 0.0},
        "models": models,
        "survival": None,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for language in ("zh", "en"):
            html = render_html(sparse, language)
            assert len(IMAGE.findall(html)) == 5
            for metric, _ in report.METRICS:
                assert _cell(html, "default", metric) == ("–", False)
            assert LABELS[language]["unregistered"] in html
            assert LABELS[language]["reading_none"][1:] in html
    assert math.isnan(models["default"]["roc_auc"])


def test_charts_use_english_labels_without_a_cjk_font(
    monkeypatch: pytest.MonkeyPatch, document: dict[str, Any]
) -> None:
    monkeypatch.setattr(report_charts, "cjk_font", lambda: None)
    assert report_charts._chart_language("zh") == "en"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        html = render_html(document, "zh")
    assert "ROC 曲线" in html  # captions stay localised
    monkeypatch.setattr(report_charts, "cjk_font", lambda: "Noto Sans CJK SC")
    assert report_charts._chart_language("zh") == "zh"
