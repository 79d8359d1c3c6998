"""The shipped schedule examples (deploy/schedule/) say what they should: systemd's unit and
timer pass `systemd-analyze verify`; the crontab lines are well-formed and treat exit 2 as
success; the Airflow and DolphinScheduler files are valid Python that call `weiwan daily` and
turn "nothing to do" (2) into a skip or success."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCHEDULE = Path(__file__).resolve().parents[3] / "deploy" / "schedule"


def test_the_systemd_unit_and_timer_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze not found (Debian's systemd)")
    weiwan = Path(sys.executable).with_name("weiwan")
    service = (SCHEDULE / "weiwan-daily.service").read_text()
    assert "ExecStart=/opt/weiwan/.venv/bin/weiwan daily" in service
    assert "SuccessExitStatus=2" in service
    # where it runs here: this checkout's command, the test's user and directory
    service = service.replace("/opt/weiwan/.venv/bin/weiwan", str(weiwan))
    service = service.replace("User=weiwan", "User=root").replace(
        "WorkingDirectory=/opt/weiwan", f"WorkingDirectory={tmp_path}"
    )
    (tmp_path / "weiwan-daily.service").write_text(service)
    shutil.copy(SCHEDULE / "weiwan-daily.timer", tmp_path / "weiwan-daily.timer")
    done = subprocess.run(
        [
            analyze,
            "verify",
            str(tmp_path / "weiwan-daily.service"),
            str(tmp_path / "weiwan-daily.timer"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if "weiwan-daily" in line and "network-online" not in line
    ]
    assert done.returncode == 0 and not problems, done.stdout + done.stderr
    calendar = re.search(r"^OnCalendar=(.+)$", (SCHEDULE / "weiwan-daily.timer").read_text(), re.M)
    assert calendar is not None
    spec = subprocess.run([analyze, "calendar", calendar.group(1)], capture_output=True, text=True)
    assert spec.returncode == 0, spec.stderr


def test_the_crontab_lines_are_well_formed() -> None:
    lines = [
        line
        for line in (SCHEDULE / "crontab").read_text().splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    field = r"(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*"
    for line in lines:
        assert re.match(rf"^{field} {field} {field} {field} {field} \S", line), line
    daily = next(line for line in lines if "weiwan daily" in line)
    assert "-eq 2" in daily


@pytest.mark.parametrize(
    ("name", "skip"),
    [
        ("airflow_weiwan_daily.py", "skip_on_exit_code=2"),
        ("dolphinscheduler_weiwan_daily.py", "-eq 2"),
    ],
)
def test_the_scheduler_files_are_python_that_runs_the_day(name: str, skip: str) -> None:
    source = (SCHEDULE / name).read_text()
    ast.parse(source)
    assert "/opt/weiwan/.venv/bin/weiwan daily" in source and skip in source
