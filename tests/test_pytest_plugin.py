"""The pytest plugin costs nothing until its fixture is used (issue 18).

pytest imports every installed ``pytest11`` entry point at every start, so each run of every
host project paid for the fake Podio (its HTTP server and state, about 25 ms measured) whether
or not a test asked for ``fake_podio``. The plugin now imports nothing but pytest up front.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIGHT = {"django_podio", "django_podio.testing", "django_podio.testing.pytest_plugin"}


def python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_importing_the_plugin_imports_nothing_else(tmp_path):
    code = (
        "import sys, pytest\n"
        "before = set(sys.modules)\n"
        "import django_podio.testing.pytest_plugin\n"
        "print(*sorted(set(sys.modules) - before), sep='\\n')\n"
    )
    result = python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) <= LIGHT


def test_a_host_projects_pytest_loads_the_plugin_but_not_the_fake(tmp_path):
    """A project without Django, two tests, one of them using the fixture: at the end of
    collection the plugin is registered and the fake not imported; the fixture still works."""
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            """
            import sys

            def pytest_collection_finish(session):
                print("plugin:", session.config.pluginmanager.hasplugin("django_podio"))
                print("fake imported:", "django_podio.testing.server" in sys.modules)
            """
        )
    )
    (tmp_path / "test_host.py").write_text(
        textwrap.dedent(
            """
            def test_without_the_fake():
                pass

            def test_with_the_fake(fake_podio):
                assert fake_podio.url.startswith("http://127.0.0.1:")
            """
        )
    )
    pytest = "import sys, pytest; sys.exit(pytest.main(['-q', '-s', '-p', 'no:cacheprovider']))"
    result = python(pytest, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "plugin: True" in result.stdout
    assert "fake imported: False" in result.stdout
    assert "2 passed" in result.stdout
