"""Benchmark: the closed loop run for months (issue: decision quality, part 3).

Runs ``weiwan simulate loop`` (:func:`weiwan.demo.loop.run_loop`) on a simulated operator the
product was not tuned on — by default 100,000 subscribers, 12 months of history, 6 month ends
decided, ending with the last complete month — and prints per month what each arm spent and
truly saved, the oracle's saving at nba's spend in nba's arm (among the actions the
operator's rules allow nba that day; ``unruled``: the oracle that may break them) and the
evidence oracle's (the true effects as far as the features show them) and the latent oracle's
(each line's state, latent or not, but not its personal draws), the ratios the
targets speak of (last month: nba ≥ 0.75 × oracle and ≥ 1.5 × top_risk; saved per yuan
rising from the first month to the last), the uplift's Qini, the operational side's work, and
the wall time per month; beside nba's saving, the same contacts' saving averaged over the
personal draws no record shows (``expected``: whether a contact annoys, the personal part of
the receptiveness), so that a month's luck — two annoyed customers can take 600 yuan off a
month at 50 000 subscribers — does not read as learning or its loss. Writes the figures as JSON
and the curves as a PNG (``--plot``; README's chart).

    python bench/bench_loop.py [--subscribers 100000] [--months 6] [--seed 21]
        [--no-campaign-history] [--json var/bench/loop.json] [--plot docs/img/loop.png]

``--no-campaign-history``: the operator has no former campaigns with hold-outs, so the first
months decide on the priors and the product learns only from its own outcomes (each closes 3
months after its decision) — the test of whether the loop learns.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from pathlib import Path

from weiwan.cli.base import last_complete_month
from weiwan.demo.loop import LoopResult, first_month, run_loop

ORACLE_SHARE, TOP_RISK_MULTIPLE = 0.75, 1.5


def _print(result: LoopResult, seconds: list[float]) -> None:
    print(
        f"{'month':<8} {'nba spent':>10} {'nba saved':>10} {'top saved':>10} {'oracle':>10} "
        f"{'÷oracle':>8} {'unruled':>8} {'latent':>8} {'÷latent':>8} {'evidence':>9} "
        f"{'÷evid.':>7} {'÷top':>6} {'per yuan':>8} {'expected':>8} {'per yuan':>8} "
        f"{'Qini':>6} "
        f"{'tasks':>6} {'s':>6}"
    )
    for row, ops, secs, spent in zip(
        result.rows(), result.operations, seconds, result.nba.spent, strict=True
    ):
        print(
            f"{row['month']:<8} {spent:>10,.0f} {row['nba']:>10,.0f} {row['top_risk']:>10,.0f} "
            f"{row['oracle']:>10,.0f} {_num(row['nba_vs_oracle']):>8} "
            f"{row['oracle_unruled']:>8,.0f} "
            f"{row['latent_oracle']:>8,.0f} {_num(row['nba_vs_latent_oracle']):>8} "
            f"{row['evidence_oracle']:>9,.0f} {_num(row['nba_vs_evidence_oracle']):>7} "
            f"{_num(row['nba_vs_top_risk']):>6} {_num(row['nba_per_yuan']):>8} "
            f"{_money(row['nba_expected']):>8} {_num(row['nba_per_yuan_expected']):>8} "
            f"{_num(row['uplift_qini']):>6} {ops['tasks']:>6} {secs:>6.0f}"
        )
    rows = result.rows()
    last, first = rows[-1], rows[0]
    checks = {
        f"last month nba ≥ {ORACLE_SHARE} × oracle": (last["nba_vs_oracle"] or 0) >= ORACLE_SHARE,
        # on the savings themselves: a top-risk month that saved nothing or lost has no ratio
        f"last month nba ≥ {TOP_RISK_MULTIPLE} × top_risk": last["nba"] > 0
        and last["nba"] >= TOP_RISK_MULTIPLE * last["top_risk"],
        "saved per yuan rises": (last["nba_per_yuan"] or 0) > (first["nba_per_yuan"] or 0),
    }
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    print(
        "saved per yuan without the month's draws (expected over what no record shows): "
        f"{_num(first['nba_per_yuan_expected'])} → {_num(last['nba_per_yuan_expected'])}"
    )


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _money(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _plot(result: LoopResult, path: Path) -> None:
    """Saved per month by arm and the oracle, and nba's saving per yuan."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    x = list(range(len(result.months)))
    left.plot(x, result.oracle_unruled, "k:", label="oracle, rules broken")
    left.plot(x, result.oracle, "k--", label="oracle (nba's spend and rules)")
    left.plot(x, result.latent_oracle, "k-.", label="latent oracle (no personal draws)")
    left.plot(x, result.nba.saved, "o-", label="nba (weiwan)")
    left.plot(x, result.top_risk.saved, "s-", label="top risk, cheapest offer")
    left.set_title("true revenue saved per month (yuan)")
    per_yuan = [r["nba_per_yuan"] or 0.0 for r in result.rows()]
    top_per_yuan = [
        s / p if p else 0.0
        for s, p in zip(result.top_risk.saved, result.top_risk.spent, strict=True)
    ]
    right.plot(x, per_yuan, "o-", label="nba")
    expected = [r["nba_per_yuan_expected"] for r in result.rows()]
    if all(v is not None for v in expected):
        right.plot(x, expected, "o:", label="nba, without the month's draws")
    right.plot(x, top_per_yuan, "s-", label="top risk")
    right.set_title("saved per yuan spent")
    for ax in (left, right):
        ax.set_xticks(x, result.months, rotation=30)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--history", type=int, default=12)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument(
        "--no-campaign-history",
        dest="campaign_history",
        action="store_false",
        help="a cold start: no former campaigns with hold-outs, the product learns only from "
        "its own outcomes",
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()
    stamps: list[float] = []

    def progress(label: str, done: int, total: int) -> None:
        stamps.append(time.perf_counter())

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="weiwan-bench-loop-") as tmp:
        result = run_loop(
            Path(tmp),
            subscribers=args.subscribers,
            months=args.months,
            seed=args.seed,
            end_month=first_month(last_complete_month(), args.months),
            history_months=args.history,
            campaign_history=args.campaign_history,
            progress=progress,
        )
    seconds = [b - a for a, b in itertools.pairwise(stamps)][: args.months]
    print(
        f"loop: {args.subscribers:,} subscribers, seed {args.seed}, {args.history} months of "
        f"history{'' if args.campaign_history else ' without former campaigns (cold start)'}, "
        f"{args.months} month ends, {time.perf_counter() - start:,.0f} s"
    )
    _print(result, seconds)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.as_dict(), indent=1))
    if args.plot:
        _plot(result, args.plot)


if __name__ == "__main__":
    main()
