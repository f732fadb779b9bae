"""docs/commands.rst, ``podio_status``: the monitoring check runs as pasted, in sh.

It runs in a project directory (a ``manage.py`` like ``startproject``'s) on this test run's
database, with ``python`` the suite's interpreter: OK (exit 0) on a healthy site, CRITICAL
(exit 2) with the problem once a connection needs its user to log in again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from django_podio.models import PodioConnection
from tests.conftest import login_with_podio
from tests.databases import child_env

from .snippets import snippet

ROOT = Path(__file__).resolve().parents[2]
MANAGE = """\
import sys

from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
"""


def run_check(tmp_path: Path, fake) -> subprocess.CompletedProcess[str]:
    (tmp_path / "manage.py").write_text(MANAGE)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')  # the venv's, by its path
    python.chmod(0o755)
    env = {
        **os.environ,
        **child_env(fake),
        "PYTHONPATH": str(ROOT),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }
    return subprocess.run(
        ["sh", "-c", snippet("status-monitoring-check")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_the_monitoring_check_runs_as_pasted(tmp_path, client, fake):
    login_with_podio(client)
    healthy = run_check(tmp_path, fake)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert healthy.stdout == "PODIO OK\n"

    PodioConnection.objects.update(status=PodioConnection.Status.REAUTH_REQUIRED)
    critical = run_check(tmp_path, fake)
    assert critical.returncode == 2, critical.stdout + critical.stderr
    assert critical.stdout.startswith("PODIO CRITICAL: Needs a person: 1 connection needs")
    assert "Traceback" not in critical.stderr
