"""The testing page's pytest example, run by pytest in a newcomer's host project.

The project is the quickstart's (a fresh ``startproject`` with the documented settings and
URLs); ``pytest.ini`` and the test module are read out of docs/testing.rst. It runs in its own
pytest process, so only what the docs show (pytest-django and the installed plugin) helps.
"""

from __future__ import annotations

import re
import subprocess
import sys

from .hostproject import host_project
from .snippets import snippet


def run_pytest(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_documented_pytest_example_passes_in_a_host_project(tmp_path):
    with host_project(tmp_path, start_fake=False) as project:
        (project.root / "pytest.ini").write_text(snippet("testing-pytest-ini"))
        (project.root / "test_podio.py").write_text(snippet("testing-example"))
        (project.root / "test_knobs.py").write_text(snippet("testing-knobs"))
        result = run_pytest(project)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed[1]) == 3, output
    assert "skipped" not in output and "error" not in output.lower(), output
