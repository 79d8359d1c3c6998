"""How good a churn score is (模型评估): ranking, lift, calibration and expected maximum profit.

Every function takes the true 0/1 labels and the predicted churn probabilities. Lift and
calibration tables sort customers by descending probability (ties kept in input order) and cut
them into equal-count groups, the way a retention team contacts the riskiest customers first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import betainc
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve

FloatArray = npt.NDArray[np.float64]


def _inputs(y_true: Any, p: Any) -> tuple[FloatArray, FloatArray]:
    y = np.asarray(y_true).astype(np.float64).ravel()
    scores = np.asarray(p, dtype=np.float64).ravel()
    if len(y) != len(scores):
        raise ValueError(f"{len(y)} labels but {len(scores)} scores")
    if len(y) == 0:
        raise ValueError("no customers to evaluate")
    return y, scores


def _ranked(y: FloatArray, p: FloatArray) -> FloatArray:
    return y[np.argsort(-p, kind="stable")]


def top_decile_lift(y_true: Any, p: Any, share: float = 0.1) -> float:
    """Churn rate among the ``share`` riskiest customers over the overall churn rate."""
    y, scores = _inputs(y_true, p)
    base = y.mean()
    if base == 0:
        return float("nan")
    top = max(1, int(np.ceil(share * len(y))))
    return float(_ranked(y, scores)[:top].mean() / base)


def evaluate(y_true: Any, p: Any) -> dict[str, float]:
    """ROC AUC, PR AUC (average precision), top-decile lift and Brier score."""
    y, scores = _inputs(y_true, p)
    both = 0 < y.sum() < len(y)
    return {
        "roc_auc": float(roc_auc_score(y, scores)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, scores)) if both else float("nan"),
        "top_decile_lift": top_decile_lift(y, scores),
        "brier": float(brier_score_loss(y, scores)),
    }


def lift_table(y_true: Any, p: Any, bins: int = 10) -> list[dict[str, float]]:
    """Per group of the ranking (deciles by default), from the riskiest down.

    ``share_contacted`` is the cumulative share of customers, ``gain`` the cumulative share of
    all churners captured, ``lift`` the group's churn rate over the overall rate and
    ``cumulative_lift`` that of everyone contacted so far (gain / share_contacted).
    """
    y, scores = _inputs(y_true, p)
    ranked = _ranked(y, scores)
    base = ranked.mean()
    churners = ranked.sum()
    rows: list[dict[str, float]] = []
    seen = 0
    captured = 0.0
    for index, group in enumerate(np.array_split(ranked, bins)):
        if len(group) == 0:
            continue
        seen += len(group)
        captured += float(group.sum())
        share = seen / len(ranked)
        gain = float(captured / churners) if churners else float("nan")
        rows.append(
            {
                "group": float(index + 1),
                "customers": float(len(group)),
                "churn_rate": float(group.mean()),
                "share_contacted": share,
                "gain": gain,
                "lift": float(group.mean() / base) if base else float("nan"),
                "cumulative_lift": gain / share if churners else float("nan"),
            }
        )
    return rows


def calibration_table(y_true: Any, p: Any, bins: int = 10) -> list[dict[str, float]]:
    """Mean predicted probability against the observed churn rate in equal-count groups
    (ascending probability); a calibrated model has the two close in every group."""
    y, scores = _inputs(y_true, p)
    order = np.argsort(scores, kind="stable")
    rows: list[dict[str, float]] = []
    for idx in np.array_split(order, bins):
        if len(idx) == 0:
            continue
        rows.append(
            {
                "customers": float(len(idx)),
                "mean_predicted": float(scores[idx].mean()),
                "observed_rate": float(y[idx].mean()),
                "min_predicted": float(scores[idx].min()),
                "max_predicted": float(scores[idx].max()),
            }
        )
    return rows


def _upper_chain(
    a: FloatArray, b: FloatArray, k: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Vertices of max_i(a_i * g + b_i) for g >= 0, in order of increasing g."""
    order = np.lexsort((k, -b, a))  # a ascending; for equal a the best b (then fewest contacted)
    a, b, k = a[order], b[order], k[order]
    first = np.r_[True, a[1:] != a[:-1]]
    a, b, k = a[first], b[first], k[first]
    hull: list[int] = []
    for i in range(len(a)):  # upper hull, monotone chain
        while len(hull) >= 2:
            o, m = hull[-2], hull[-1]
            cross = (a[m] - a[o]) * (b[i] - b[o]) - (b[m] - b[o]) * (a[i] - a[o])
            if cross >= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    idx = np.array(hull)
    start = int(np.argmax(b[idx]))  # the best line at g = 0; the chain goes right from there
    idx = idx[start:]
    return a[idx], b[idx], k[idx]


def expected_maximum_profit(
    y_true: Any,
    p: Any,
    *,
    alpha: float = 6,
    beta: float = 14,
    offer_cost: float = 10,
    contact_cost: float = 1,
    clv: float | FloatArray = 200,
) -> tuple[float, float]:
    """Expected maximum profit per customer (EMP) and the profit-optimal share to contact.

    Verbraken, Verbeke & Baesens (2013), IEEE TKDE 25(5). A retention campaign contacts the
    riskiest customers first. A contacted churner accepts the offer with probability gamma and
    is kept (worth CLV minus the offer cost d), otherwise costs the contact f; a contacted
    non-churner takes the offer anyway and costs d + f. Contacting the top k customers yields

        profit_k(gamma) = [sum over contacted churners (gamma * (CLV_i - d) - f)
                           - (contacted non-churners) * (d + f)] / n,

    which is ``A_k * gamma + B_k`` (``k = 0``: no campaign, profit 0). With gamma unknown,
    gamma ~ Beta(alpha, beta) and

        EMP = integral over [0, 1] of max_k profit_k(gamma) * h(gamma; alpha, beta) dgamma,
        share = integral of k*(gamma) / n * h(gamma) dgamma   (k* the best cutoff for gamma).

    The maximum over cutoffs is the upper envelope of straight lines in gamma, so the integral
    is exact: over each piece, with ``I`` the regularised incomplete beta function,
    ``A (alpha/(alpha+beta)) [I(alpha+1, beta)] + B [I(alpha, beta)]`` between the breakpoints.
    Cutoffs fall only between distinct scores (tied customers are contacted together).
    ``clv`` is one value or one per customer. EMP >= 0 because not contacting is always allowed.
    """
    y, scores = _inputs(y_true, p)
    n = len(y)
    value = np.broadcast_to(np.asarray(clv, dtype=np.float64), y.shape)
    order = np.argsort(-scores, kind="stable")
    y_sorted, value_sorted, s_sorted = y[order], value[order], scores[order]
    slope = y_sorted * (value_sorted - offer_cost)
    intercept = -contact_cost - (1.0 - y_sorted) * offer_cost
    ends = np.r_[np.flatnonzero(s_sorted[1:] != s_sorted[:-1]), n - 1]  # last of each tie run
    a = np.r_[0.0, np.cumsum(slope)[ends]] / n
    b = np.r_[0.0, np.cumsum(intercept)[ends]] / n
    k = np.r_[0.0, ends + 1.0]
    a, b, k = _upper_chain(a, b, k)
    breaks = np.clip((b[:-1] - b[1:]) / (a[1:] - a[:-1]), 0.0, 1.0)
    lower = np.r_[0.0, breaks]
    upper = np.r_[breaks, 1.0]
    mass = betainc(alpha, beta, upper) - betainc(alpha, beta, lower)
    first_moment = (alpha / (alpha + beta)) * (
        betainc(alpha + 1, beta, upper) - betainc(alpha + 1, beta, lower)
    )
    emp = float(np.sum(a * first_moment + b * mass))
    share = float(np.sum(k / n * mass))
    return max(emp, 0.0), min(max(share, 0.0), 1.0)


def roc_points(y_true: Any, p: Any, points: int = 60) -> list[dict[str, float]]:
    """The ROC curve as ``{"fpr", "tpr"}`` rows from (0, 0) to (1, 1), at most ``points`` rows.

    Rows come from :func:`sklearn.metrics.roc_curve` (collinear points dropped) and are thinned
    evenly along the curve's length (fpr + tpr), keeping both ends. With one class only the
    curve is undefined and the result is empty.
    """
    if points < 2:
        raise ValueError("a ROC curve needs at least 2 points")
    y, scores = _inputs(y_true, p)
    if not 0 < y.sum() < len(y):
        return []
    fpr, tpr, _ = roc_curve(y, scores, drop_intermediate=True)
    fpr = np.r_[0.0, fpr, 1.0]  # both ends for certain (roc_curve already has them)
    tpr = np.r_[0.0, tpr, 1.0]
    keep = np.r_[True, (np.diff(fpr) != 0) | (np.diff(tpr) != 0)]
    fpr, tpr = fpr[keep], tpr[keep]
    df, dt = np.diff(fpr), np.diff(tpr)
    bends = df[:-1] * dt[1:] != dt[:-1] * df[1:]  # interior points where the direction changes
    keep = np.r_[True, bends, True]
    fpr, tpr = fpr[keep], tpr[keep]
    if len(fpr) > points:
        length = fpr + tpr  # non-decreasing from 0 to 2 along the curve
        picked = np.searchsorted(length, np.linspace(0.0, 2.0, points), side="left")
        idx = np.unique(np.clip(picked, 0, len(fpr) - 1))
        idx = np.unique(np.r_[0, idx, len(fpr) - 1])
        fpr, tpr = fpr[idx], tpr[idx]
    return [{"fpr": float(f), "tpr": float(t)} for f, t in zip(fpr, tpr, strict=True)]


def profit_curve(
    y_true: Any,
    p: Any,
    *,
    gamma: float | None = None,
    alpha: float = 6,
    beta: float = 14,
    offer_cost: float = 10,
    contact_cost: float = 1,
    clv: float | FloatArray = 200,
    points: int = 50,
) -> list[dict[str, float]]:
    """Campaign profit per customer when contacting the riskiest share of customers.

    The profit model of :func:`expected_maximum_profit`: contacting the top ``k`` of ``n``
    customers (descending ``p``, ties in input order) yields
    ``[sum over contacted churners (gamma * (CLV_i - d) - f) - contacted non-churners * (d + f)]
    / n``. That is linear in gamma, so at the default gamma, the Beta(alpha, beta) mean
    ``alpha / (alpha + beta)``, it is the expected profit of that fixed cutoff. Rows
    ``{"share_contacted", "profit_per_customer"}`` at ``points`` evenly spaced shares from 0
    (no campaign, profit 0) to 1 (everyone contacted); ``k = round(share * n)``.
    """
    if points < 2:
        raise ValueError("a profit curve needs at least 2 points")
    y, scores = _inputs(y_true, p)
    n = len(y)
    g = alpha / (alpha + beta) if gamma is None else gamma
    value = np.broadcast_to(np.asarray(clv, dtype=np.float64), y.shape)
    order = np.argsort(-scores, kind="stable")
    y_sorted, value_sorted = y[order], value[order]
    gained = y_sorted * (g * (value_sorted - offer_cost) - contact_cost) - (1.0 - y_sorted) * (
        offer_cost + contact_cost
    )
    cumulative = np.r_[0.0, np.cumsum(gained)] / n
    shares = np.linspace(0.0, 1.0, points)
    k = np.rint(shares * n).astype(np.int64)
    return [
        {"share_contacted": float(s), "profit_per_customer": float(cumulative[i])}
        for s, i in zip(shares, k, strict=True)
    ]
