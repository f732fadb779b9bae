"""The Ctrl-C test passes in any shell, also one that starts the suite with SIGINT ignored.

A shell without job control (a script's ``make test &``, a CI runner, a background job)
starts commands with SIGINT ignored, and every process below inherits that. The Ctrl-C test
then sent its SIGINT to a child that ignored it (issue 18, point 8). Here the Ctrl-C test
runs in a pytest started under ``trap '' INT``, as such a shell starts it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CTRL_C_TEST = "tests/concurrency/test_races.py::test_ctrl_c_leaves_no_connection_half_written"


def test_the_ctrl_c_test_passes_when_sigint_is_inherited_ignored():
    # On SQLite, in a database of its own: a second pytest must not create (and so drop) the
    # PostgreSQL test database this run is using.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_TEST_NAME")}
    pytest = [sys.executable, "-m", "pytest", CTRL_C_TEST, "-p", "no:cacheprovider", "-q"]
    result = subprocess.run(
        ["bash", "-c", "trap '' INT; exec \"$@\"", "bash", *pytest],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "1 passed" in result.stdout
