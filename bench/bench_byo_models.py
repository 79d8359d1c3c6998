"""Benchmark: the model chosen for a brought table against each candidate, side by side.

For each ``PATH:LABEL[:ID]`` table, ``train_table`` (what ``weiwan model train --csv`` runs)
cross-validates the selected model, LightGBM, CatBoost, logistic regression, their blend and
naive Bayes on the same repeated stratified 5-fold splits, and this prints each one's mean ROC
AUC and the selected model's gap to the best candidate (target: within 0.002).

Public tables are not shipped (their licences differ); measured on the BigML/Orange telecom
churn table (``churn-bigml-80.csv`` + ``churn-bigml-20.csv``, label ``Churn``) and the IBM
Telco Customer Churn table (``WA_Fn-UseC_-Telco-Customer-Churn.csv``, label ``Churn``, id
``customerID``), both widely mirrored.

    python bench/bench_byo_models.py bigml.csv:Churn telco.csv:Churn:customerID
    python bench/bench_byo_models.py --synthetic 1000000   # an operator-sized export

``--synthetic ROWS`` adds an operator's export of that many rows written by
``bench/byo_table.py`` (title lines, ¥/元/% numbers, 是/否 flags, Chinese dates, blanks): the
time and memory of ``weiwan model train --csv`` at sizes no public table has.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from byo_table import ID, LABEL, write_export
from weiwan.analytics.churn.tabular import train_table

TARGET_GAP = 0.002


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tables", nargs="*", help="PATH:LABEL[:ID]")
    parser.add_argument("--repeats", type=int, default=None, help="default: by the table's size")
    parser.add_argument("--synthetic", type=int, default=0, metavar="ROWS")
    args = parser.parse_args()
    worst = 0.0
    scratch = tempfile.TemporaryDirectory(prefix="weiwan-byo-")
    specs = list(args.tables)
    if args.synthetic:
        export = write_export(Path(scratch.name) / "export.csv", args.synthetic)
        specs.append(f"{export}:{LABEL}:{ID}")
    if not specs:
        parser.error("give a table or --synthetic ROWS")
    for spec in specs:
        path, label, *rest = spec.split(":")
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            summary = train_table(
                Path(path),
                label=label,
                id_column=rest[0] if rest else None,
                model_out=Path(tmp) / "model.joblib",
                repeats=args.repeats,
            )
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        rows = {
            f"selected (final: {summary['model_kind']})": summary,
            **summary["candidates"],
            "naive_bayes": summary["baselines"]["naive_bayes"],
        }
        size = f"{summary['rows']:,} rows, {summary['folds']} folds"
        print(f"{Path(path).name}: {size}, {seconds:.0f} s, peak {peak:.2f} GiB so far")
        for name, metrics in rows.items():
            print(f"  {name:<34}{metrics['roc_auc']:.4f} ± {metrics['roc_auc_std']:.4f}")
        best = max(m["roc_auc"] for m in summary["candidates"].values())
        gap = best - summary["roc_auc"]
        worst = max(worst, gap)
        print(f"  chosen in folds: {summary['chosen_in_folds']}; gap to the best {gap:+.4f}")
    scratch.cleanup()
    verdict = "PASS" if worst <= TARGET_GAP else "FAIL"
    print(f"largest gap to the best candidate {worst:.4f} (target <= {TARGET_GAP}): {verdict}")
    return 0 if worst <= TARGET_GAP else 1


if __name__ == "__main__":
    raise SystemExit(main())
