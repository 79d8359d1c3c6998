"""DolphinScheduler workflow (PyDolphinScheduler, the scheduler's Python SDK): weiwan's day,
every 15 minutes in the night. Submit with `python dolphinscheduler_weiwan_daily.py` where the
SDK can reach the DolphinScheduler API. Exit 2 (nothing to do) is turned into success in the
shell task, so only real failures alert."""

from __future__ import annotations

from pydolphinscheduler.core.workflow import Workflow
from pydolphinscheduler.tasks.shell import Shell

with Workflow(
    name="weiwan_daily",
    schedule="0 0/15 1-7 * * ? *",  # Quartz: every 15 minutes, 01:00-07:45
    start_time="2026-01-01",
    timezone="Asia/Shanghai",
) as workflow:
    Shell(
        name="weiwan_daily",
        command=(
            "/opt/weiwan/.venv/bin/weiwan daily; code=$?; "
            "if [ $code -eq 2 ]; then exit 0; fi; exit $code"
        ),
    )
    workflow.submit()
