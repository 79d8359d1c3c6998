"""decide.yaml: priors, driver matching, channel costs and effects, hold-out shares, strategy
arms (champion and challengers); and the stable draw those shares are applied with."""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir
from pydantic import ValidationError

from weiwan.analytics.config_files import problems, read_yaml
from weiwan.analytics.contract import OFFER_TYPES
from weiwan.core.decide_rules import DecideConfig
from weiwan.core.errors import ConfigError
from weiwan.core.settings import get_settings
from weiwan.core.stable_draw import SPAN, draw, holdout_bound


def load_decide_config(path: Path | None = None) -> DecideConfig:
    """Read decide.yaml (``None``: ``WEIWAN_DECIDE_CONFIG``, else the shipped one); errors
    name the file and field."""
    source, raw = read_yaml(path or get_settings().decide_config, "decide.yaml")
    try:
        config = DecideConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {problems(exc)}") from exc
    _check_offer_types(source, "", config.uplift_priors, config.driver_match)
    for name, arm in config.strategies.arms.items():
        where = f"strategies.arms.{name}."
        _check_offer_types(source, where, arm.uplift_priors, arm.driver_match)
    return config


def _check_offer_types(
    source: str, where: str, priors: dict[str, float], match: dict[str, dict[str, float]]
) -> None:
    unknown = sorted(set(priors) - set(OFFER_TYPES))
    if unknown:
        raise ConfigError(f"{source}: {where}uplift_priors: unknown offer types {unknown}")
    for driver, row in match.items():
        odd = sorted(set(row) - set(OFFER_TYPES))
        if odd:
            raise ConfigError(f"{source}: {where}driver_match.{driver}: unknown offer types {odd}")


def in_holdout(subscriber_id: ir.StringValue, group: str, share: float) -> ir.BooleanValue:
    """Stable random hold-out: the first 8 hex digits of md5("group:subscriber") below
    ``share`` × 16⁸. A subscriber stays in or out across runs and new subscribers never
    reshuffle the others; fixed-width hex compares like the number it encodes, and md5 is
    the same on DuckDB and Spark."""
    if share <= 0:
        return ibis.literal(False)
    threshold = f"{holdout_bound(share):08x}"
    digest = (ibis.literal(f"{group}:") + subscriber_id).hexdigest("md5").substr(0, 8)
    return digest < threshold


def holdout_bucket(subscriber_id: str, group: str) -> float:
    """The same draw in Python, in [0, 1) (for checks and the operational side)."""
    return draw(group, subscriber_id) / SPAN
