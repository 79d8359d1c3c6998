"""``weiwan targets``, ``scores`` and ``decisions``: what the warehouse holds for a snapshot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from weiwan.cli.base import fail, open_warehouse, out, parse_date
from weiwan.core.errors import WeiwanError

targets_app = typer.Typer(help="Target selection over the customer profile.", no_args_is_help=True)
scores_app = typer.Typer(help="Churn scores of a snapshot.", no_args_is_help=True)


@targets_app.command("preview")
def targets_preview(
    snapshot: Annotated[str, typer.Option(help="Snapshot date YYYY-MM-DD.")],
    filter_text: Annotated[
        str, typer.Option("--filter", help="Filter JSON, or @FILE holding it (JSON or YAML).")
    ],
    sample: Annotated[int, typer.Option(min=0, max=1000)] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Count the subscribers a filter selects and show a sample (phone numbers masked)."""
    import yaml

    from weiwan.analytics.profile import load_profile
    from weiwan.analytics.targets import preview
    from weiwan.core.yaml_safe import load_yaml

    day = parse_date(snapshot)
    text = Path(filter_text[1:]).read_text("utf-8") if filter_text.startswith("@") else filter_text
    try:
        raw = load_yaml(text)  # JSON is YAML
    except yaml.YAMLError as exc:
        raise fail(WeiwanError(f"filter is not valid JSON/YAML: {exc}"), as_json) from exc
    warehouse = open_warehouse()
    try:
        count, rows = preview(load_profile(warehouse, day), raw, sample)
    except (WeiwanError, LookupError) as exc:
        raise fail(exc, as_json) from exc
    finally:
        warehouse.close()
    columns = ["subscriber_id", "value_tier", "lifecycle_stage", "arpu_1m", "tenure_months"]
    shown = [{c: r.get(c) for c in columns if c in r} for r in rows]
    if as_json:
        out.print_json(
            json.dumps({"count": count, "sample": shown}, ensure_ascii=False, default=str)
        )
        return
    out.print(f"{count:,} subscribers match on {day}")
    for row in shown:
        out.print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))


@targets_app.command("groups")
def targets_groups(
    snapshot: Annotated[str, typer.Option(help="Snapshot date YYYY-MM-DD.")],
) -> None:
    """Members per saved target group (固定场景) as the pipeline stored them."""
    from weiwan.analytics.targets import load_target_groups

    day = parse_date(snapshot)
    warehouse = open_warehouse()
    try:
        counts: dict[str, int] = {}
        if warehouse.has_table("target_groups"):  # an Ibis count: DuckDB or Spark
            members = warehouse.table("target_groups")
            members = members.filter(members.snapshot_date == day)
            frame = members.group_by("group_id").aggregate(n=members.count()).to_pandas()
            counts = {str(g): int(n) for g, n in zip(frame["group_id"], frame["n"], strict=True)}
    finally:
        warehouse.close()
    for group in load_target_groups():
        out.print(
            f"{group.id:<30} {counts.get(group.id, 0):>10,}  {group.name_zh} / {group.name_en}"
        )


@scores_app.command("export")
def scores_export(
    snapshot: Annotated[str, typer.Option(help="Snapshot date YYYY-MM-DD.")],
    out_file: Annotated[Path, typer.Option("--out", help="CSV file, or Excel when it ends .xlsx")],
    lang: Annotated[Literal["zh", "en"], typer.Option(help="Language of the reasons.")] = "zh",
) -> None:
    """Write subscriber_id, churn_probability, risk_band, reason_1..3 for a snapshot."""
    from weiwan.analytics.churn.export import export_scores

    warehouse = open_warehouse()
    try:
        rows = export_scores(warehouse, parse_date(snapshot), out_file, lang=lang)
    except WeiwanError as exc:
        raise fail(exc) from exc
    finally:
        warehouse.close()
    out.print(f"wrote {rows:,} scores to {out_file}")


decisions_app = typer.Typer(help="Next best actions of a snapshot.", no_args_is_help=True)


@decisions_app.command("export")
def decisions_export(
    snapshot: Annotated[str, typer.Option(help="Snapshot date YYYY-MM-DD.")],
    out_file: Annotated[Path, typer.Option("--out", help="CSV file, or Excel when it ends .xlsx")],
    lang: Annotated[Literal["zh", "en"], typer.Option(help="Language of policy names.")] = "zh",
    actions_only: Annotated[
        bool, typer.Option("--actions-only", help="Only today's actions (no hold-outs etc.).")
    ] = False,
) -> None:
    """Write a snapshot's decisions: trigger, hold-out, offer, channel, value, alternatives."""
    from weiwan.analytics.exports import export_decisions

    warehouse = open_warehouse()
    try:
        rows = export_decisions(
            warehouse, parse_date(snapshot), out_file, lang=lang, actions_only=actions_only
        )
    except WeiwanError as exc:
        raise fail(exc) from exc
    finally:
        warehouse.close()
    out.print(f"wrote {rows:,} decisions to {out_file}")
