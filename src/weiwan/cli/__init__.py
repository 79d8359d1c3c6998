"""The ``weiwan`` command line (Typer + Rich): ``app`` with one module per command group.

Like ``demo``, this package may import every other one; the commands import what they use
inside their function so that ``weiwan --help`` stays fast. This module is the table of
contents: it registers the groups and commands in the order ``weiwan --help`` lists them.
"""

from weiwan.cli import (
    appraisal,
    backup,
    consents,
    daily,
    data,
    demo,
    events,
    model,
    ops,
    privacy,
    reports,
    warehouse,
)
from weiwan.cli.base import app

app.add_typer(data.contract_app, name="contract")
app.add_typer(data.pipeline_app, name="pipeline")
app.add_typer(warehouse.targets_app, name="targets")
app.add_typer(warehouse.scores_app, name="scores")
app.add_typer(reports.report_app, name="report")
app.add_typer(appraisal.appraisal_app, name="appraisal")
app.add_typer(data.simulate_app, name="simulate")
app.command()(data.ingest)
app.command()(demo.demo)
app.command("publish")(data.publish_command)
app.command("daily")(daily.daily)
app.command("daily-watch")(daily.daily_watch)
app.add_typer(ops.db_app, name="db")
app.add_typer(ops.users_app, name="users")
app.command("serve")(ops.serve)
app.command("backup")(backup.backup)
app.command("restore")(backup.restore)
app.add_typer(ops.sms_app, name="sms")
app.add_typer(consents.consents_app, name="consents")
app.add_typer(privacy.privacy_app, name="privacy")
app.command("purge")(privacy.purge)
app.add_typer(events.events_app, name="events")
app.add_typer(warehouse.decisions_app, name="decisions")
app.add_typer(model.model_app, name="model")

__all__ = ["app"]
