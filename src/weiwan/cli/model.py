"""``weiwan model``: churn models, trained on the warehouse or a CSV, scored, promoted."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from weiwan.cli.base import console, fail, open_warehouse, out, with_progress
from weiwan.core.errors import WeiwanError
from weiwan.core.settings import get_settings

model_app = typer.Typer(
    help="Churn models: train on the warehouse or a CSV, score, list, promote, roll back.",
    no_args_is_help=True,
)


def _metric_table(summary: dict[str, Any], title: str | None = None) -> Any:
    from rich.table import Table

    keys = ("roc_auc", "pr_auc", "top_decile_lift", "brier", "emp", "emp_share_contacted")
    repeats = int(summary.get("repeats") or 1)
    folds = int(summary.get("folds") or 0) // repeats
    times = f" × {repeats}" if repeats > 1 else ""
    default_title = f"{folds}-fold cross-validation{times}"
    table = Table(title=f"{title or default_title}, {summary['rows']:,} rows")
    table.add_column("model")
    for key in keys:
        table.add_column(key, justify="right")
    if "candidates" in summary:  # a table: the selected model, what it chose among, naive Bayes
        chosen = summary["model_kind"]
        rows = {
            f"selected ({chosen})": summary,
            **summary["candidates"],
            "naive_bayes": summary["baselines"]["naive_bayes"],
        }
    else:
        rows = {"default (LightGBM)": summary, **summary["baselines"]}
    for name, metrics in rows.items():
        cells = [metrics.get(k) for k in keys]
        table.add_row(name, *("-" if v is None else f"{v:.3f}" for v in cells))
    return table


@model_app.command("train")
def model_train(
    csv_file: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            help="Bring your own data: one row per customer (UTF-8 or GBK). "
            "Without it, train on the warehouse.",
        ),
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="With --csv: the churn column (yes/no, 1/0, true/false).")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="With --csv: customer id column (never a feature).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    model_out: Annotated[Path, typer.Option(help="With --csv: where to save the model.")] = Path(
        "var/models/byo-latest.joblib"
    ),
    seed: Annotated[int, typer.Option(help="Random seed of folds and model.")] = 0,
    repeats: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=10,
            help="With --csv: times the cross-validation is repeated (default 3 up to 20,000 "
            "rows, 1 above).",
        ),
    ] = None,
    folds: Annotated[
        int,
        typer.Option(
            min=2,
            max=10,
            help="With --csv: folds of the cross-validation (fewer: a first look at a large "
            "table sooner).",
        ),
    ] = 5,
    horizon: Annotated[
        int, typer.Option(help="Warehouse: churn within this many months after a snapshot.")
    ] = 1,
    involuntary: Annotated[
        bool,
        typer.Option(
            "--involuntary/--voluntary-only", help="Warehouse: count non-payment churn or not."
        ),
    ] = True,
    promote: Annotated[
        bool, typer.Option("--promote", help="Warehouse: score with the new model from now on.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="With --promote: promote even when the hold-out AUC is below "
            "WEIWAN_MIN_PROMOTE_AUC (default 0.55).",
        ),
    ] = False,
) -> None:
    """Train and evaluate the churn model against naive Bayes and logistic regression.

    Without --csv: on the warehouse (time-based hold-out), registered with its evaluation
    report. With --csv: on any flat table (5-fold CV x 3 by default: --folds, --repeats) of
    the model chosen among LightGBM, CatBoost and logistic regression, each reported; then
    fitted and saved.
    """
    if csv_file is None:
        _train_on_warehouse(horizon, involuntary, promote, seed, as_json, force=force)
        return
    if label is None:
        raise fail(WeiwanError("--label is required with --csv"), as_json)
    from weiwan.analytics.churn.tabular import train_table

    summary = with_progress(
        as_json,
        lambda update: train_table(
            csv_file,
            label=label,
            id_column=id_column,
            model_out=model_out,
            folds=folds,
            repeats=repeats,
            seed=seed,
            progress=update,
        ),
    )
    if as_json:
        out.print_json(json.dumps(summary, ensure_ascii=False))
        return
    out.print(_metric_table(summary))
    out.print(f"features: {', '.join(summary['features'])}")
    for name, why in summary["dropped"].items():
        out.print(f"dropped {name}: {why}")
    if summary.get("rows_without_label"):
        out.print(f"left out {summary['rows_without_label']} rows with a blank label")
    out.print(f"model saved to {model_out}")


def _train_on_warehouse(
    horizon: int, involuntary: bool, promote: bool, seed: int, as_json: bool, *, force: bool
) -> None:
    from weiwan.analytics.churn.evaluation import train_and_register
    from weiwan.analytics.churn.registry import ModelRegistry
    from weiwan.analytics.churn.training import TrainingConfig

    config = TrainingConfig(horizon_months=horizon, include_involuntary=involuntary, seed=seed)
    registry = ModelRegistry(get_settings().models_dir)
    try:
        with open_warehouse() as warehouse:
            version, result, files = train_and_register(
                warehouse, registry, config, promote=promote, force=force
            )
    except WeiwanError as exc:
        raise fail(exc, as_json) from exc
    summary = {
        "version": version,
        "promoted": registry.promoted() == version,
        "holdout_snapshot": result.meta.holdout_snapshot,
        "training_snapshots": result.meta.training_snapshots,
        "rows": result.meta.training_rows,
        **result.meta.metrics["default"],
        "baselines": {k: v for k, v in result.meta.metrics.items() if k != "default"},
        "survival": result.meta.extra.get("survival"),
        "leaving_reasons": result.meta.extra.get("leaving_reasons"),
        "report": {k: str(v) for k, v in files.items()},
    }
    if as_json:
        out.print_json(json.dumps(_finite(summary), ensure_ascii=False))
        return
    out.print(_metric_table(summary, f"hold-out {summary['holdout_snapshot']}"))
    survival = summary["survival"] or {}
    if survival.get("concordance_index") is not None:
        out.print(f"tenure model concordance index: {survival['concordance_index']:.3f}")
    leaving = leaving_reasons_line(summary["leaving_reasons"])
    if leaving:
        out.print(leaving)
    out.print(f"registered {version}" + (" (promoted)" if summary["promoted"] else ""))
    out.print(f"report: {files['html_path']}")
    if not summary["promoted"]:
        out.print(f"score with it: weiwan model promote {version}")


def leaving_reasons_line(leaving: dict[str, Any] | None) -> str | None:
    """One line on the leaving-reason model trained beside the churn model, as the model
    report's header says it (None: nothing was tried)."""
    if not leaving:
        return None
    from weiwan.analytics.churn.report import leaving_reasons_text
    from weiwan.analytics.churn.report_labels import LABELS

    labels = LABELS["en"]
    return f"{labels['leaving_reasons']}: {leaving_reasons_text(labels, leaving)}"


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None, so the JSON printed is valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


@model_app.command("score")
def model_score(
    csv_file: Annotated[Path, typer.Option("--csv", help="Customers to score.")],
    out_file: Annotated[Path, typer.Option("--out", help="CSV file, or Excel when it ends .xlsx")],
    model: Annotated[Path, typer.Option(help="A model saved by `weiwan model train`.")] = Path(
        "var/models/byo-latest.joblib"
    ),
) -> None:
    """Write id and churn_probability for every row of a table."""
    from weiwan.analytics.churn.tabular import score_table

    try:
        result = score_table(model, csv_file, out_file)
    except WeiwanError as exc:
        raise fail(exc) from exc
    if result["missing_columns"]:
        missing = result["missing_columns"]
        console.print(f"[yellow]columns missing, scored as blank:[/yellow] {missing}")
    out.print(f"wrote {result['rows']:,} scores to {out_file}")


@model_app.command("list")
def model_list() -> None:
    """The warehouse churn models in the registry, with their hold-out figures."""
    from weiwan.analytics.churn.registry import ModelRegistry

    registry = ModelRegistry(get_settings().models_dir)
    promoted = registry.promoted()
    for version in registry.versions():
        meta = registry.meta(version)
        auc = meta.metrics.get("default", {}).get("roc_auc", float("nan"))
        mark = "*" if version == promoted else " "
        out.print(
            f"{mark} {version}  {meta.created_at}  hold-out {meta.holdout_snapshot}  "
            f"AUC {auc:.3f}  rows {meta.training_rows:,}"
        )


@model_app.command("promote")
def model_promote(
    version: Annotated[str, typer.Argument(help="e.g. v0002")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Promote even when its hold-out AUC is below WEIWAN_MIN_PROMOTE_AUC."
        ),
    ] = False,
) -> None:
    """Make a registered model the one the pipeline scores with (a model whose hold-out AUC is
    below WEIWAN_MIN_PROMOTE_AUC only with --force)."""
    from weiwan.analytics.churn.registry import ModelRegistry

    try:
        ModelRegistry(get_settings().models_dir).promote(version, force=force)
    except WeiwanError as exc:
        raise fail(exc) from exc
    out.print(f"promoted {version}")


@model_app.command("rollback")
def model_rollback() -> None:
    """Go back to the model promoted before the current one."""
    from weiwan.analytics.churn.registry import ModelRegistry

    try:
        version = ModelRegistry(get_settings().models_dir).rollback()
    except WeiwanError as exc:
        raise fail(exc) from exc
    out.print(f"rolled back to {version}")
