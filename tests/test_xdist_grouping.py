"""`make test` relies on `pytest -n 2 --dist loadgroup` running each group (a module, all the
browser tests) on one worker: its module fixtures are built once. pytest 9.2 with pytest-xdist
3.8 silently stopped grouping (pytest-dev/pytest-xdist#1386; the lock pins pytest below 9.2);
the first test notices a lock upgrade that brings it back, by running two grouped modules on two
workers and reading which worker ran each test; the second that tests/conftest.py's groups reach
xdist at all (its hook must run before xdist's: until 2026-12-06 it ran after, and no module of
the suite was ever grouped)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GROUPED = """
import os
import pytest

pytestmark = pytest.mark.xdist_group("{name}")


@pytest.mark.parametrize("i", range(6))
def test_record(i: int) -> None:
    with open(os.environ["WORKERS_FILE"], "a") as out:
        out.write(f"{name} {{os.environ['PYTEST_XDIST_WORKER']}}\\n")
"""


def test_each_group_runs_on_one_worker(tmp_path: Path) -> None:
    for name in ("first", "second"):
        (tmp_path / f"test_{name}.py").write_text(GROUPED.format(name=name))
    record = tmp_path / "workers.txt"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"]
    done = subprocess.run(
        [*command, "--dist", "loadgroup", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "WORKERS_FILE": str(record)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    seen: dict[str, set[str]] = {}
    for line in record.read_text().splitlines():
        group, worker = line.split()
        seen.setdefault(group, set()).add(worker)
    assert set(seen) == {"first", "second"}
    assert all(len(workers) == 1 for workers in seen.values()), seen


def test_the_suite_groups_this_module(request: pytest.FixtureRequest) -> None:
    """Under `make test` (xdist, loadgroup) tests/conftest.py's groups reach xdist: its hook
    must run before xdist's, which reads the groups into the node ids (`…@<module>`)."""
    # in a worker xdist sets option.loadgroup (its `dist` there is "no")
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only under pytest -n N --dist loadgroup, as `make test` runs")
    assert request.node.nodeid.endswith("@test_xdist_grouping.py"), request.node.nodeid


def test_the_slow_groups_first_name_groups_of_the_suite() -> None:
    """Every group tests/conftest.py starts first is a directory or module of the suite (a
    renamed module must not silently drop out of the order)."""
    from conftest import SLOW_GROUPS, TESTS

    missing = [name for name in SLOW_GROUPS if not (TESTS / name).exists()]
    assert missing == []
