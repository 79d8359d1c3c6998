"""`weiwan model train` / `model score` on a Telco-like table brought by the user."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from weiwan.analytics.churn.selection import CANDIDATES
from weiwan.analytics.churn.tabular import (
    TableError,
    apply_schema,
    clean_columns,
    cross_validate,
    default_repeats,
    parse_dates,
    parse_label,
    parse_numbers,
    read_table,
    train_table,
)
from weiwan.cli import app

runner = CliRunner()
YES_NO = np.array(["No", "Yes"])


def telco_like(n: int, seed: int = 0) -> pd.DataFrame:
    """Columns shaped like the IBM Telco Customer Churn set, churn from a known truth."""
    rng = np.random.default_rng(seed)
    tenure = np.where(rng.random(n) < 0.05, 0, rng.integers(1, 73, n))
    internet = rng.choice(["DSL", "Fiber optic", "No"], n, p=[0.34, 0.44, 0.22])
    draw = rng.random(n) - tenure / 150
    contract = np.where(draw < 0.2, "Two year", np.where(draw < 0.42, "One year", "Month-to-month"))
    services = {
        name: np.where(
            internet != "No", YES_NO[(rng.random(n) < 0.4).astype(int)], "No internet service"
        )
        for name in (
            "OnlineSecurity",
            "OnlineBackup",
            "DeviceProtection",
            "TechSupport",
            "StreamingTV",
            "StreamingMovies",
        )
    }
    phone = rng.random(n) < 0.9
    paperless = rng.random(n) < 0.59
    payment = rng.choice(
        [
            "Electronic check",
            "Mailed check",
            "Bank transfer (automatic)",
            "Credit card (automatic)",
        ],
        n,
    )
    extras = sum((v == "Yes").astype(int) for v in services.values())
    monthly = (
        (
            20 * phone
            + np.select([internet == "DSL", internet == "Fiber optic"], [25, 50], 0)
            + 5 * extras
            + rng.normal(0, 3, n)
        )
        .clip(18.25, 118.75)
        .round(2)
    )
    total = (monthly * tenure * rng.normal(1, 0.03, n)).round(2)
    logit = (
        -1.2
        + 1.3 * (contract == "Month-to-month")
        - 1.1 * (contract == "Two year")
        + 0.8 * (internet == "Fiber optic")
        - 1.8 * np.log1p(tenure) / np.log(73)
        + 0.45 * (payment == "Electronic check")
        + 0.35 * paperless
        - 0.45 * (services["OnlineSecurity"] == "Yes")
        + 0.9 * (tenure <= 2)
    )
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    total_text = np.where(tenure == 0, " ", [f"{v:,.2f}" if v > 5000 else str(v) for v in total])
    return pd.DataFrame(
        {
            "customerID": [f"{i:04d}-{s}" for i, s in enumerate(rng.integers(10**4, 10**5, n))],
            "gender": rng.choice(["Female", "Male"], n),
            "SeniorCitizen": (rng.random(n) < 0.16).astype(int),
            "Partner": YES_NO[(rng.random(n) < 0.48).astype(int)],
            "Dependents": YES_NO[(rng.random(n) < 0.3).astype(int)],
            "tenure": tenure,
            "PhoneService": YES_NO[phone.astype(int)],
            "MultipleLines": np.where(
                phone, YES_NO[(rng.random(n) < 0.45).astype(int)], "No phone service"
            ),
            "InternetService": internet,
            **services,
            "Contract": contract,
            "PaperlessBilling": YES_NO[paperless.astype(int)],
            "PaymentMethod": payment,
            "MonthlyCharges": monthly,
            "TotalCharges": total_text,
            "Churn": YES_NO[churn.astype(int)],
        }
    )


@pytest.fixture(scope="module")
def telco_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("byo") / "telco.csv"
    telco_like(1500, 4).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(telco_csv: Path) -> tuple[dict[str, Any], Path]:
    model = telco_csv.parent / "model.joblib"
    args = ["model", "train", "--csv", str(telco_csv), "--label", "Churn", "--json"]
    # 3 folds once: the same checks as 5 folds three times, a fifth of the time
    args += ["--folds", "3", "--repeats", "1"]
    result = runner.invoke(app, [*args, "--model-out", str(model)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), model


def test_train_json_has_the_metrics_and_baselines(trained: tuple[dict[str, Any], Path]) -> None:
    summary, model = trained
    assert model.is_file()
    assert summary["repeats"] == 1 and summary["folds"] == 3  # as asked
    keys = ("roc_auc", "pr_auc", "top_decile_lift", "brier")
    baselines = summary["baselines"]
    assert isinstance(baselines, dict)
    assert set(baselines) == {"naive_bayes", "logistic_regression"}
    for metrics in (summary, baselines["naive_bayes"], baselines["logistic_regression"]):
        assert isinstance(metrics, dict)
        for key in keys:
            assert isinstance(metrics[key], float), key
        assert 0.5 < metrics["roc_auc"] <= 1 and 0 < metrics["pr_auc"] <= 1
        assert 1 < metrics["top_decile_lift"] < 10 and 0 < metrics["brier"] < 0.25
    assert summary["roc_auc"] > 0.78
    assert summary["rows"] == 1500
    # the saved model is the one chosen among the candidates, each reported on the same folds
    assert set(summary["candidates"]) == set(CANDIDATES)
    assert summary["model_kind"] in CANDIDATES
    assert sum(summary["chosen_in_folds"].values()) == 3
    assert summary["inner_roc_auc"][summary["model_kind"]] == max(summary["inner_roc_auc"].values())
    best = max(m["roc_auc"] for m in summary["candidates"].values())
    assert summary["roc_auc"] >= best - 0.01
    features = summary["features"]
    assert isinstance(features, list)
    assert "customerID" not in features and "Churn" not in features
    assert "TotalCharges" in features and "Contract" in features
    assert summary["id_column"] == "customerID"


def test_score_writes_one_row_per_customer(
    trained: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    _, model = trained
    new = telco_like(300, 9).drop(columns=["Churn"])
    new.loc[:5, "Contract"] = "Three year"  # never seen in training
    source = tmp_path / "new.csv"
    new.to_csv(source, index=False)
    for out in (tmp_path / "scores.csv", tmp_path / "scores.xlsx"):
        result = runner.invoke(
            app, ["model", "score", "--csv", str(source), "--out", str(out), "--model", str(model)]
        )
        assert result.exit_code == 0, result.output
        scores = pd.read_excel(out) if out.suffix == ".xlsx" else pd.read_csv(out)
        assert list(scores.columns) == ["customerID", "churn_probability"]
        assert len(scores) == 300
        assert scores["customerID"].tolist() == new["customerID"].tolist()
        assert scores["churn_probability"].between(0, 1).all()


def test_gbk_file_with_chinese_labels_and_no_id(tmp_path: Path) -> None:
    frame = telco_like(400, 5).drop(columns=["customerID"])
    frame["Churn"] = frame["Churn"].map({"Yes": "是", "No": "否"})
    frame = frame.rename(columns={"Churn": "是否流失"})
    path = tmp_path / "gbk.csv"
    frame.to_csv(path, index=False, encoding="gbk")
    model = tmp_path / "m.joblib"
    result = runner.invoke(
        app,
        [
            "model",
            "train",
            "--csv",
            str(path),
            "--label",
            "是否流失",
            "--json",
            "--folds",
            "2",
            "--repeats",
            "1",
            "--model-out",
            str(model),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows"] == 400 and summary["id_column"] is None
    out = tmp_path / "s.csv"
    scored = runner.invoke(
        app, ["model", "score", "--csv", str(path), "--out", str(out), "--model", str(model)]
    )
    assert scored.exit_code == 0, scored.output
    assert list(pd.read_csv(out).columns) == ["churn_probability"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["Yes", "No", "Yes"], [1, 0, 1]),
        (["yes", "no", " NO "], [1, 0, 0]),
        (["1", "0", "1.0"], [1, 0, 1]),
        (["true", "false", "TRUE"], [1, 0, 1]),
        (["是", "否", "否"], [1, 0, 0]),
    ],
)
def test_label_variants(values: list[str], expected: list[int]) -> None:
    assert parse_label(pd.Series(values), file="f", column="c").tolist() == expected


def test_label_errors_name_the_column_and_rows() -> None:
    with pytest.raises(TableError, match=r"column Churn.*maybe.*\(row 3\)"):
        parse_label(pd.Series(["Yes", "maybe"]), file="f.csv", column="Churn")
    odd = ["No"] * 3 + ["x"] * 7
    with pytest.raises(TableError, match=r"\(row 5, 6, 7, 8, 9 and 2 more\)"):
        parse_label(pd.Series(odd), file="f.csv", column="Churn")
    with pytest.raises(TableError, match=r"file f\.csv, column Churn: .*churners and non"):
        parse_label(pd.Series(["No", "No", ""]), file="f.csv", column="Churn")


def test_numbers_stored_as_text() -> None:
    parsed = parse_numbers(pd.Series([" 12.5 ", "1,234", "1,234.5", "", "N/A", "x", "-3"]))
    assert parsed.tolist()[:3] == [12.5, 1234.0, 1234.5]
    assert parsed.isna().tolist()[3:6] == [True, True, True] and parsed.iloc[6] == -3
    # as finance exports and Chinese spreadsheets write them
    decorated = parse_numbers(pd.Series(["¥1,234.50", "88元", "35.5%", "-5%", "１２３", "$7"]))
    assert decorated.tolist() == [1234.5, 88.0, 0.355, -0.05, 123.0, 7.0]
    assert parse_numbers(pd.Series(["1,2,3", "12.5.1", "¥", "5%%"])).isna().all()


def test_dates_stored_as_text_are_day_numbers() -> None:
    days = parse_dates(
        pd.Series(["2026-03-01", "2026/3/1", "2026.03.01 08:30:00", "2026年3月1日", "2026-02-30"])
    )
    march_first = (pd.Timestamp("2026-03-01") - pd.Timestamp("1970-01-01")).days
    assert days.tolist()[:4] == [march_first] * 4 and np.isnan(days.iloc[4])
    assert parse_dates(pd.Series(["", "A套餐", "20260301"])).isna().all()


def test_a_date_column_is_a_date_not_categories_or_an_identifier() -> None:
    """A join date on ~every row distinct is what the customer's tenure says, not an id; read
    as text each day would be a category of its own. A new table is read the same way."""
    rng = np.random.default_rng(3)
    joined = pd.Timestamp("2018-01-01") + pd.to_timedelta(rng.permutation(500), unit="D")
    table = pd.DataFrame(
        {
            "入网日期": joined.strftime("%Y-%m-%d"),
            "plan": rng.choice(["A", "B"], 500),
            "bill": rng.gamma(2, 40, 500).round(2).astype(str),
        }
    )
    table.loc[3, "入网日期"] = ""
    features, schema, dropped = clean_columns(table, file="t.csv")
    assert schema == {"入网日期": "date", "plan": "categorical", "bill": "numeric"}
    assert not dropped and features["入网日期"].isna().tolist()[3]
    expected = (joined - pd.Timestamp("1970-01-01")).days.to_numpy(float)
    np.testing.assert_array_equal(features["入网日期"].drop(index=3), np.delete(expected, 3))
    later = pd.DataFrame({"入网日期": ["2026/11/30"], "plan": ["B"], "bill": ["88"]})
    scored, absent = apply_schema(later, schema)
    assert not absent and scored.loc[0, "入网日期"] == parse_dates(pd.Series(["2026-11-30"]))[0]


def test_title_lines_above_the_header_are_skipped(tmp_path: Path) -> None:
    """Exports often open with a title and who exported them: the header is the first line
    that names the columns asked for; without them the first line stays the header."""
    table = pd.DataFrame({"客户编号": ["C1", "C2"], "套餐": ["A", "B"], "是否流失": ["是", "否"]})
    body = table.to_csv(index=False)
    for title in ("客户流失数据导出 2026年11月\n导出人: 张三\n", "客户流失数据导出,,\n,,\n"):
        path = tmp_path / "titled.csv"
        path.write_text(title + body, encoding="utf-8")
        frame = read_table(path, header_with=["是否流失", "客户编号"])
        assert list(frame.columns) == list(table.columns)
        assert frame["是否流失"].tolist() == ["是", "否"]
    assert list(read_table(path).columns) == ["客户流失数据导出", "Unnamed: 1", "Unnamed: 2"]
    sheet = tmp_path / "titled.xlsx"
    with pd.ExcelWriter(sheet) as writer:
        pd.DataFrame([["客户流失数据导出"]]).to_excel(writer, index=False, header=False)
        table.to_excel(writer, index=False, startrow=2)
    frame = read_table(sheet, header_with=["客户编号"])
    assert list(frame.columns) == list(table.columns) and frame["套餐"].tolist() == ["A", "B"]


def test_large_tables_are_cross_validated_once() -> None:
    assert [default_repeats(n) for n in (300, 20_000, 20_001, 1_000_000)] == [3, 3, 1, 1]


def test_a_customer_on_several_rows_is_never_judged_on_rows_it_was_fitted_on(
    tmp_path: Path,
) -> None:
    """A table of several months' snapshots names a customer on several rows: split apart,
    the boosted models recognise the customer, not churn. Features here are noise, so any
    AUC far above 0.5 is memory: ungrouped 0.98 (measured), grouped by the id about 0.5."""
    rng = np.random.default_rng(1)
    customers = 200
    noise = pd.DataFrame(rng.normal(size=(customers, 4)).round(3), columns=list("abcd"))
    churned = (rng.random(customers) < 0.25).astype(float)
    rows = noise.loc[np.repeat(np.arange(customers), 3)].reset_index(drop=True)
    labels, ids = np.repeat(churned, 3), np.repeat(np.arange(customers).astype(str), 3)
    plain, _ = cross_validate(rows, labels, folds=3, repeats=1)
    grouped, _ = cross_validate(rows, labels, folds=3, repeats=1, groups=ids)
    assert plain["selected"]["roc_auc"] > 0.8  # what the split apart reports
    assert grouped["selected"]["roc_auc"] < 0.65
    path = tmp_path / "months.csv"
    rows.assign(customer=ids, churn=labels.astype(int)).to_csv(path, index=False)
    summary = train_table(
        path,
        label="churn",
        id_column="customer",
        model_out=tmp_path / "m.joblib",
        folds=3,
        repeats=1,
    )
    assert summary["grouped_by"] == "customer" and summary["roc_auc"] < 0.65


def _flat(text: str) -> str:
    return "".join(text.split())


def _write_single_class(path: Path) -> None:
    telco_like(100, 1).assign(Churn="No").to_csv(path, index=False)


@pytest.mark.parametrize(
    ("case", "label", "column"),
    [
        ("missing_label", "Churned", "Churned"),
        ("single_class", "Churn", "Churn"),
        ("not_binary", "Contract", "Contract"),
        ("absent", "Churn", None),
        ("empty", "Churn", None),
        ("binary", "Churn", None),
    ],
)
def test_bad_input_exits_1_naming_file_and_column(
    case: str, label: str, column: str | None, tmp_path: Path
) -> None:
    path = tmp_path / f"{case}.csv"
    if case == "missing_label":
        telco_like(50, 1).to_csv(path, index=False)
    elif case == "single_class":
        _write_single_class(path)
    elif case == "not_binary":
        telco_like(50, 1).to_csv(path, index=False)
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "binary":
        path.write_bytes(bytes(range(256)) * 10)
    result = runner.invoke(
        app,
        [
            "model",
            "train",
            "--csv",
            str(path),
            "--label",
            label,
            "--model-out",
            str(tmp_path / "m.joblib"),
        ],
    )
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    message = _flat(result.output)
    assert _flat(f"file {path}") in message
    if column:
        assert _flat(f"column {column}") in message
    assert "Traceback" not in result.output


def test_score_without_a_model_is_a_clear_error(tmp_path: Path, telco_csv: Path) -> None:
    missing = tmp_path / "none.joblib"
    result = runner.invoke(
        app,
        [
            "model",
            "score",
            "--csv",
            str(telco_csv),
            "--out",
            str(tmp_path / "o.csv"),
            "--model",
            str(missing),
        ],
    )
    assert result.exit_code == 1
    assert _flat(str(missing)) in _flat(result.output) and "model train" in result.output
