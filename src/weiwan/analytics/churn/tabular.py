"""Bring your own data (自带数据): train, evaluate and score the churn model on any flat table.

Operators and analysts export one row per customer with whatever columns they have: numbers
stored as text ("1,234", " 12.5 "), blanks, yes/no flags, codes, an id column or none. This
module reads such a CSV (UTF-8 or GBK), decides per column whether it is a number or a category,
drops columns that identify a row rather than describe it, evaluates by repeated stratified
5-fold cross-validation the selected model (LightGBM, CatBoost, logistic regression or the mean
of the two boosted ones, chosen on each training fold by inner cross-validation:
:mod:`weiwan.analytics.churn.selection`), every candidate and naive Bayes side by side on the
same folds, and stores the model with the column schema so :func:`score_table` prepares a new
table the same way.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedGroupKFold

from weiwan.analytics.churn.metrics import evaluate, expected_maximum_profit
from weiwan.analytics.churn.models import NaiveBayesChurnModel, prepare_features
from weiwan.analytics.churn.selection import CANDIDATES, SelectedChurnModel
from weiwan.analytics.exports import write_table
from weiwan.core.errors import ContractError

Progress = Callable[[str, int, int], None]
BUNDLE_FORMAT = "weiwan-byo-1"
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "?", "#n/a", "nil"})
POSITIVE = frozenset({"1", "yes", "y", "true", "t", "churn", "churned", "是", "流失", "已流失"})
NEGATIVE = frozenset(
    {"0", "no", "n", "false", "f", "stay", "stayed", "retained", "否", "未流失", "在网"}
)
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
#: a calendar day as exports write it: 2026-03-01, 2026/3/1, 2026.03.01, 2026年3月1日, with or
#: without a time of day after it (Excel cells read as text carry " 00:00:00")
_DATE = re.compile(
    r"^(?P<year>\d{4})[-/.年](?P<month>\d{1,2})[-/.月](?P<day>\d{1,2})日?"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
EPOCH = pd.Timestamp("1970-01-01")
NUMERIC_SHARE = 0.98  # of the non-blank values that must parse for a column to be numeric
ID_UNIQUE_SHARE = 0.9  # text columns with this share of distinct values identify rows


class TableError(ContractError):
    """A table brought by the user cannot be used; names the file and the column."""


def _blank(text: pd.Series) -> pd.Series:
    """Cells as stripped text in NFKC form (full-width digits and letters, as Chinese
    spreadsheets often hold, as their plain forms), NaN for the missing tokens."""
    codes, distinct = pd.factorize(text.fillna("").astype(str), use_na_sentinel=True)
    # each distinct value normalised once (an export has few per column, and many rows)
    plain = np.array([unicodedata.normalize("NFKC", v).strip() for v in distinct] + [""], object)
    stripped = pd.Series(plain[codes], index=text.index, dtype=object)
    return stripped.where(~stripped.str.lower().isin(MISSING_TOKENS))


#: a number as finance exports write it: a currency sign before, 元 or a percent sign after
_DECORATED = re.compile(r"^(?P<sign>[+-]?)[¥$]?\s*(?P<number>[\d.,]+)\s*(?P<unit>元|%)?$")


def parse_numbers(text: pd.Series) -> pd.Series:
    """Numbers stored as text: surrounding spaces, thousands separators, a currency sign
    (``¥1,234.50``), 元 and percentages (``35.2%`` is 0.352) allowed; else NaN."""
    values = _blank(text)
    parts = values.str.extract(_DECORATED)
    plain = (parts["sign"].fillna("") + parts["number"]).where(parts["number"].notna(), values)
    grouped = plain.str.match(_THOUSANDS, na=False).astype(bool)
    plain = plain.where(~grouped, plain.str.replace(",", "", regex=False))
    numbers = pd.to_numeric(plain, errors="coerce").astype(np.float64)
    percent = (parts["unit"] == "%").to_numpy()
    return numbers.where(~percent, numbers / 100.0)


def parse_dates(text: pd.Series) -> pd.Series:
    """Calendar days stored as text (:data:`_DATE`) as day numbers since 1970-01-01, as the
    models take dates (:func:`~weiwan.analytics.churn.models.prepare_features`); else NaN.
    A day that does not exist (2026-02-30) is NaN."""
    parts = _blank(text).str.extract(_DATE).apply(pd.to_numeric, errors="coerce")
    days = pd.Series(pd.to_datetime(parts, errors="coerce"), index=text.index)
    return pd.Series((days - EPOCH) / pd.Timedelta(days=1), index=text.index, dtype=np.float64)


#: lines searched for the header when a file opens with a title ("客户流失数据导出 2026年11月")
HEADER_SEARCH_LINES = 20
DELIMITERS = ",;\t|"


def _names_all(cells: Sequence[str], wanted: Sequence[str]) -> bool:
    """Whether a row's ``cells`` hold every name in ``wanted`` (spaces around them ignored)."""
    return {w.strip() for w in wanted} <= {c.strip() for c in cells}


def _header_line(lines: list[str], wanted: Sequence[str]) -> tuple[int, str] | None:
    """The first of ``lines`` that holds every name in ``wanted`` as a cell, and its
    delimiter; None when none does."""
    for number, line in enumerate(lines[:HEADER_SEARCH_LINES]):
        for delimiter in DELIMITERS:
            if _names_all(next(csv.reader([line], delimiter=delimiter), []), wanted):
                return number, delimiter
    return None


def read_table(path: Path, header_with: Sequence[str] = ()) -> pd.DataFrame:
    """Every cell as text, from a CSV in UTF-8 or GBK (or an .xlsx sheet). The header is the
    first line, or, when the file opens with title lines (as exports often do), the first of
    its first :data:`HEADER_SEARCH_LINES` lines that names every column in ``header_with``."""
    name = str(path)
    if not path.is_file():
        raise TableError("file not found", file=name)
    wanted = [w for w in header_with if w]
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            return _read_sheet(path, wanted)
        raw = path.read_bytes()
    except TableError:
        raise
    except Exception as exc:  # an unreadable file: permissions, a corrupt workbook
        raise TableError(f"cannot read the file ({exc})", file=name) from exc
    if not raw.strip():
        raise TableError("the file is empty", file=name)
    if b"\x00" in raw[:65536]:
        raise TableError("not a text CSV file (binary content); save it as CSV", file=name)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes almost anything without NULs
        raise TableError("not UTF-8 or GBK text", file=name)
    lines = text.splitlines()[:HEADER_SEARCH_LINES]
    found = _header_line(lines, wanted) if wanted else None
    skip, delimiter = found if found else (0, max(DELIMITERS, key=lines[0].count))
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            quoting=csv.QUOTE_MINIMAL,
            skiprows=skip,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise TableError(f"not a readable CSV ({exc})", file=name) from exc
    return _with_header(frame, name)


def _read_sheet(path: Path, wanted: list[str]) -> pd.DataFrame:
    """The first sheet of a workbook, its header found as :func:`read_table` finds it."""
    top = pd.read_excel(path, dtype=str, header=None, nrows=HEADER_SEARCH_LINES)
    rows = top.fillna("").astype(str).to_numpy().tolist()
    header = next((i for i, cells in enumerate(rows) if _names_all(cells, wanted)), 0)
    frame = pd.read_excel(path, dtype=str, keep_default_na=False, header=header).fillna("")
    return _with_header(frame, str(path))


def _with_header(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    if frame.empty:
        raise TableError("the file has a header but no data rows", file=name)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def parse_label(text: pd.Series, *, file: str, column: str) -> npt.NDArray[np.float64]:
    """1.0 churned, 0.0 stayed, NaN blank; yes/no, 1/0, true/false, 是/否 in any case."""
    values = _blank(text).str.lower()
    numeric = pd.to_numeric(values, errors="coerce")
    values = values.where(~numeric.isin([0, 1]), numeric.astype("Float64").astype(str).str[:1])
    known = values.isna() | values.isin(POSITIVE) | values.isin(NEGATIVE)
    if not known.all():
        odd = sorted(set(text[~known].astype(str).str.strip()))[:5]
        # rows as a spreadsheet numbers them: the header is row 1
        rows = [int(i) + 2 for i in np.flatnonzero(~known.to_numpy())]
        where = ", ".join(str(r) for r in rows[:5]) + (
            f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        )
        raise TableError(
            f"the label must be a yes/no, 1/0 or true/false churn flag; found {odd} (row {where})",
            file=file,
            column=column,
        )
    label = np.where(values.isin(POSITIVE), 1.0, 0.0)
    label[values.isna().to_numpy()] = np.nan
    present = label[~np.isnan(label)]
    if len(np.unique(present)) < 2:
        only = "no labelled rows" if not len(present) else f"every row is {int(present[0])}"
        raise TableError(
            f"the label needs churners and non-churners ({only})", file=file, column=column
        )
    return label


def clean_columns(
    frame: pd.DataFrame, *, file: str, keep: set[str] | None = None
) -> tuple[pd.DataFrame, dict[str, str], dict[str, str]]:
    """The features (numbers as float, categories as text), their schema and what was dropped.

    Dropped: blank and constant columns, and columns that identify rather than describe a
    customer (text with ~all values distinct, or whole numbers distinct on every row). A column
    of calendar days (:func:`parse_dates`) is a date: its day numbers, never an identifier —
    read as text, each day would be a category of its own and what it says (how long ago the
    customer joined, how soon a contract ends) would be lost.
    """
    columns: dict[str, pd.Series] = {}
    schema: dict[str, str] = {}
    dropped: dict[str, str] = {}
    for name in frame.columns:
        text = _blank(frame[name])
        filled = int(text.notna().sum())
        if filled == 0:
            dropped[name] = "blank"
            continue
        numbers = parse_numbers(frame[name])
        numeric = numbers.notna().sum() >= NUMERIC_SHARE * filled
        days = None if numeric else parse_dates(frame[name])
        dated = days is not None and days.notna().sum() >= NUMERIC_SHARE * filled
        values: pd.Series = numbers if numeric else days if dated and days is not None else text
        distinct = int(values.nunique(dropna=True))
        if distinct <= 1 and values.notna().all():
            dropped[name] = "constant"
            continue
        if not dated and (not keep or name not in keep):
            if not numeric and filled >= 10 and distinct >= ID_UNIQUE_SHARE * filled:
                dropped[name] = "distinct on ~every row (an identifier)"
                continue
            whole = bool((numbers.dropna() == numbers.dropna().round()).all())
            if numeric and whole and len(frame) >= 100 and distinct == len(frame):
                dropped[name] = "a whole number distinct on every row (an identifier)"
                continue
        columns[name] = values
        schema[name] = "numeric" if numeric else "date" if dated else "categorical"
    if not columns:
        raise TableError("no usable feature columns besides the label and id", file=file)
    return pd.DataFrame(columns, index=frame.index), schema, dropped


def apply_schema(frame: pd.DataFrame, schema: dict[str, str]) -> tuple[pd.DataFrame, list[str]]:
    """A new table cleaned like the training one; absent columns become blank (and are listed)."""
    columns: dict[str, pd.Series] = {}
    absent = [c for c in schema if c not in frame.columns]
    for name, kind in schema.items():
        text = frame[name] if name in frame.columns else pd.Series("", index=frame.index)
        parse = {"numeric": parse_numbers, "date": parse_dates}.get(kind, _blank)
        columns[name] = parse(text)
    return pd.DataFrame(columns, index=frame.index), absent


def _json_number(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 6)


def _score(y: npt.NDArray[np.float64], p: npt.NDArray[np.float64]) -> dict[str, float]:
    emp, share = expected_maximum_profit(y, p)
    return {**evaluate(y, p), "emp": emp, "emp_share_contacted": share}


def _outer_splits(
    label: npt.NDArray[np.float64],
    groups: npt.NDArray[Any] | None,
    folds: int,
    repeats: int,
    seed: int,
) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Repeated stratified folds; by group when ``groups`` is given (each repeat reshuffled)."""
    rows = np.zeros((len(label), 1))
    if groups is None:
        splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
        yield from splitter.split(rows, label)
        return
    for repeat in range(repeats):
        grouped = StratifiedGroupKFold(folds, shuffle=True, random_state=seed + repeat)
        yield from grouped.split(rows, label, groups)


def repeated_customers(ids: pd.Series) -> npt.NDArray[Any] | None:
    """The customer of each row when some customer has several rows (a table of several
    months' snapshots): their rows must stay on one side of every split, or a model is judged
    on customers it has seen. None when every row is its own customer."""
    text = ids.astype(str).str.strip()
    return text.to_numpy() if text.duplicated().any() else None


def cross_validate(
    features: pd.DataFrame,
    label: npt.NDArray[np.float64],
    *,
    folds: int = 5,
    repeats: int = 3,
    seed: int = 0,
    progress: Progress | None = None,
    groups: npt.NDArray[Any] | None = None,
) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """Mean metrics over repeated stratified folds for the selected model, every candidate it
    chose among and the naive Bayes baseline, all on the same folds; and how often each
    candidate was chosen (by inner cross-validation on the training folds only). With
    ``groups`` (the customer of each row) a customer's rows stay in one fold, outer and inner."""
    scores: dict[str, list[dict[str, float]]] = {}
    chosen: dict[str, int] = {}
    total = folds * repeats
    for done, (train, test) in enumerate(_outer_splits(label, groups, folds, repeats, seed)):
        if progress:
            progress("cross-validation", done, total)
        x_train, categories = prepare_features(features.iloc[train])
        x_test, _ = prepare_features(features.iloc[test], categories=categories)
        inner_groups = None if groups is None else groups[train]
        selected = SelectedChurnModel(random_state=seed).fit(
            x_train, label[train], groups=inner_groups
        )
        chosen[selected.chosen_] = chosen.get(selected.chosen_, 0) + 1
        naive = NaiveBayesChurnModel().fit(x_train, label[train])
        probabilities = {
            "selected": selected.predict_proba(x_test)[:, 1],
            **{name: selected.proba_of(name, x_test) for name in CANDIDATES},
            "naive_bayes": naive.predict_proba(x_test)[:, 1],
        }
        for name, p in probabilities.items():
            scores.setdefault(name, []).append(_score(label[test], p))
    if progress:
        progress("cross-validation", total, total)
    means = {
        name: {key: float(np.nanmean([r[key] for r in runs])) for key in runs[0]}
        | {"roc_auc_std": float(np.nanstd([r["roc_auc"] for r in runs]))}
        for name, runs in scores.items()
    }
    return means, chosen


#: labelled rows up to which the cross-validation is repeated (above them, once)
REPEAT_ROWS = 20_000


def default_repeats(rows: int) -> int:
    """Times the cross-validation runs by default: 3 on tables of up to :data:`REPEAT_ROWS`
    rows, whose few churners make one pass's AUC noisy; once above, where one pass already
    pins it down and each repeat costs every learner's fits again (100 k rows: ~9 min a pass
    on 2 cores)."""
    return 3 if rows <= REPEAT_ROWS else 1


def train_table(
    path: Path,
    *,
    label: str,
    id_column: str | None = None,
    model_out: Path,
    folds: int = 5,
    repeats: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Cross-validate on the table, then select and fit the model on every row and save it
    (``repeats`` None: :func:`default_repeats` of the labelled rows)."""
    file = str(path)
    frame = read_table(path, header_with=[c for c in (label, id_column) if c])
    for column in (label, id_column):
        if column is not None and column not in frame.columns:
            raise TableError(
                f"no such column; the columns are {list(frame.columns)}", file=file, column=column
            )
    y = parse_label(frame[label], file=file, column=label)
    labelled = ~np.isnan(y)
    if min((y[labelled] == 1).sum(), (y[labelled] == 0).sum()) < folds:
        raise TableError(
            f"{folds}-fold cross-validation needs at least {folds} churners and {folds} "
            "non-churners",
            file=file,
            column=label,
        )
    rows = frame.loc[labelled].reset_index(drop=True)
    y = y[labelled]
    candidates = rows.drop(columns=[c for c in (label, id_column) if c is not None])
    features, schema, dropped = clean_columns(candidates, file=file)
    repeats = repeats or default_repeats(len(rows))
    groups = repeated_customers(rows[id_column]) if id_column else None
    results, chosen = cross_validate(
        features, y, folds=folds, repeats=repeats, seed=seed, progress=progress, groups=groups
    )
    if progress:
        progress("fitting the model on every row", 0, 1)
    x_all, categories = prepare_features(features)
    model = SelectedChurnModel(random_state=seed, keep_candidates=False)
    model.fit(x_all, y, groups=groups)
    found_id = id_column or next((c for c, why in dropped.items() if "identifier" in why), None)
    summary: dict[str, Any] = {
        **{k: _json_number(v) for k, v in results["selected"].items()},
        "model_kind": model.chosen_,
        "inner_roc_auc": {k: _json_number(v) for k, v in model.inner_auc_.items()},
        "chosen_in_folds": chosen,
        "candidates": {
            name: {k: _json_number(v) for k, v in results[name].items()} for name in CANDIDATES
        },
        "baselines": {
            name: {k: _json_number(v) for k, v in results[name].items()}
            for name in ("naive_bayes", "logistic_regression")
        },
        "rows": len(rows),
        "rows_without_label": int((~labelled).sum()),
        "churn_rate": round(float(y.mean()), 6),
        "folds": folds * repeats,
        "repeats": repeats,
        "grouped_by": id_column if groups is not None else None,
        "features": list(features.columns),
        "dropped": dropped,
        "id_column": found_id,
        "model": str(model_out),
    }
    bundle = {
        "format": BUNDLE_FORMAT,
        "model": model,
        "schema": schema,
        "categories": categories,
        "label": label,
        "id_column": found_id,
        "source": file,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "evaluation": summary,
    }
    model_out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(bundle, model_out)
    if progress:
        progress("fitting the model on every row", 1, 1)
    return summary


def load_bundle(path: Path) -> dict[str, Any]:
    """A model saved by :func:`train_table`."""
    if not path.is_file():
        raise TableError("no trained model here: run `weiwan model train` first", file=str(path))
    try:
        bundle = joblib.load(path)
    except Exception as exc:  # a file that is not a joblib dump
        raise TableError(f"not a weiwan model file ({exc})", file=str(path)) from exc
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise TableError("not a model saved by `weiwan model train`", file=str(path))
    return bundle


def score_table(model_path: Path, path: Path, out: Path) -> dict[str, Any]:
    """Write id (when the table has it) and churn_probability; CSV, or Excel for ``.xlsx``."""
    bundle = load_bundle(model_path)
    schema: dict[str, str] = bundle["schema"]
    id_column = bundle.get("id_column")
    frame = read_table(path, header_with=[id_column] if id_column else list(schema)[:3])
    features, absent = apply_schema(frame, schema)
    if len(absent) == len(schema):
        raise TableError(
            f"none of the model's columns are in the table (expected {list(schema)})",
            file=str(path),
        )
    prepared, _ = prepare_features(features, categories=bundle["categories"])
    p = bundle["model"].predict_proba(prepared)[:, 1]
    scored = pd.DataFrame({"churn_probability": np.round(p, 6)})
    if id_column and id_column in frame.columns:
        scored.insert(0, id_column, frame[id_column].to_numpy())
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_table(scored, out, "scores")
    except OSError as exc:
        raise TableError(f"cannot write the scores ({exc})", file=str(out)) from exc
    return {"rows": len(scored), "out": str(out), "missing_columns": absent}
