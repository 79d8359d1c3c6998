"""The leaving-reason classifier on its own: what it needs, what it learns, what it leaves out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weiwan.analytics.churn import leaving_reasons
from weiwan.analytics.churn.leaving_reasons import (
    MIN_CODED,
    assess_leaving_reasons,
    fit_leaving_reasons,
)


def _churners(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Churners whose recorded reason follows their complaints and bill change, a tenth
    uncoded and 0.5 % relocations (too rare to learn)."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"complaints": rng.poisson(1.0, n), "bill_change": rng.normal(0, 1, n)})
    reason = np.where(
        x["complaints"] >= 2, "service", np.where(x["bill_change"] > 0, "price", "other")
    )
    reason = np.where(rng.random(n) < 0.005, "relocation", reason)
    return x, pd.Series(reason, dtype=object).where(rng.random(n) > 0.1)


def test_it_learns_the_recorded_reasons_and_leaves_out_the_rare_ones() -> None:
    x, codes = _churners(3000)
    model = fit_leaving_reasons(x, codes)
    assert model is not None and model.classes == ("other", "price", "service")
    held_x, held_codes = _churners(1000, seed=1)
    judged = assess_leaving_reasons(model, held_x, held_codes)
    assert judged["accuracy"] > 0.9 > judged["most_common_share"]
    assert judged["log_loss"] < judged["log_loss_shares"]
    assert judged["recall"]["relocation"] == 0.0  # never named: too rare to have a class
    mix = model.mix(held_x)
    assert np.allclose(mix.sum(axis=1), 1.0) and list(mix.columns) == list(model.classes)


def test_too_few_coded_churners_or_one_reason_give_no_model() -> None:
    x, codes = _churners(MIN_CODED + 200)
    assert fit_leaving_reasons(x, codes.where(codes.index < MIN_CODED - 1)) is None
    assert fit_leaving_reasons(x, pd.Series("price", index=x.index)) is None


def test_a_province_learns_from_a_fixed_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    import lightgbm as lgb

    monkeypatch.setattr(leaving_reasons, "MAX_ROWS", 800)
    rows: list[int] = []
    fit = lgb.LGBMClassifier.fit

    def counted(self: lgb.LGBMClassifier, x: pd.DataFrame, *args: object, **kw: object) -> object:
        rows.append(len(x))
        return fit(self, x, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(lgb.LGBMClassifier, "fit", counted)
    x, codes = _churners(5000)
    first, again = fit_leaving_reasons(x, codes), fit_leaving_reasons(x, codes)
    assert first is not None and again is not None
    assert rows == [800, 800]  # of some 4 500 coded churners
    assert np.array_equal(first.mix(x).to_numpy(), again.mix(x).to_numpy())  # the same draw


def test_model_train_says_how_the_leaving_reason_model_did() -> None:
    from weiwan.cli.model import leaving_reasons_line

    judged = {"rows": 1562, "accuracy": 0.6319, "most_common_share": 0.249}
    line = leaving_reasons_line({"trained": True, "classes": ["a", "b"], "holdout": judged})
    assert line == (
        "Leaving-reason model: tells 2 recorded reasons apart; right for 63.2% of the "
        "hold-out's 1,562 churners (the commonest reason for all: 24.9%)"
    )
    untrained = leaving_reasons_line({"trained": False, "coded_churners": 120, "needed": 300})
    assert untrained == (
        "Leaving-reason model: not trained: only 120 churners have a recorded reason "
        "(300 are needed)"
    )
    assert leaving_reasons_line(None) is None  # a model from before it existed
