"""docs/deployment.rst, "Databases": each ``DATABASES`` example, as pasted, migrates a new
database on the real server and passes ``check --database default`` without a warning.

Each runs against the server the suite runs on (``make test-postgres``, ``make
test-pgbouncer``, ``make test-mariadb``); the SQLite one everywhere. The examples read the
connection from the environment, which the test sets to the suite's own server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection as db

from tests.databases import PGBOUNCER_ENGINE

from .snippets import snippet

ROOT = Path(__file__).resolve().parents[2]


def run_site(tmp_path: Path, settings: str, env: dict[str, str]) -> None:
    """``migrate`` then ``check --database default --fail-level WARNING`` in a host project
    whose settings are the suite's (Podio app, allauth) plus ``settings``."""
    (tmp_path / "site_settings.py").write_text(
        "from pathlib import Path\n"
        "import os\n"
        "from tests.settings import *  # noqa: F403 - the app, allauth, the encryption key\n"
        f"BASE_DIR = Path({str(tmp_path)!r})\n" + settings
    )
    shell = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE"))}
    shell.update(
        env,
        DJANGO_SETTINGS_MODULE="site_settings",
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]),
    )
    for command in (
        ["migrate", "-v", "0"],
        ["check", "--database", "default", "--fail-level", "WARNING"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "django", *command],
            cwd=tmp_path,
            env=shell,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
        assert "WARNINGS" not in done.stderr, done.stderr


@contextmanager
def new_database() -> Iterator[dict[str, str]]:
    """A new, empty database on the suite's server, and the environment naming it."""
    settings = db.settings_dict
    name = f"{settings['NAME']}_docs_{uuid.uuid4().hex[:6]}"  # test_…: the CI user may
    quoted = db.ops.quote_name(name)
    with db.cursor() as cursor:
        if db.vendor == "mysql":
            cursor.execute(f"CREATE DATABASE {quoted} CHARACTER SET utf8mb4")
        else:
            cursor.execute(f"CREATE DATABASE {quoted}")
    try:
        yield {
            "DATABASE_NAME": name,
            "DATABASE_USER": settings["USER"],
            "DATABASE_PASSWORD": settings["PASSWORD"],
            "DATABASE_HOST": settings["HOST"],
            "DATABASE_PORT": str(settings["PORT"]),
        }
    finally:
        with db.cursor() as cursor:
            # FORCE (PostgreSQL 13+): PgBouncer may still hold idle sessions on it.
            force = " WITH (FORCE)" if db.vendor == "postgresql" else ""
            cursor.execute(f"DROP DATABASE {quoted}{force}")


def test_the_sqlite_example(tmp_path):
    # What startproject writes, then the documented OPTIONS.
    startproject = (
        'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", '
        '"NAME": BASE_DIR / "db.sqlite3"}}\n'
    )
    run_site(tmp_path, startproject + snippet("deployment-sqlite"), {})
    assert (tmp_path / "db.sqlite3").exists()


# CREATE DATABASE runs outside a transaction: no test transaction around these.
@pytest.mark.django_db(transaction=True)
def test_the_postgresql_example(tmp_path):
    if db.vendor != "postgresql" or db.settings_dict["ENGINE"] == PGBOUNCER_ENGINE:
        pytest.skip("runs on PostgreSQL (make test-postgres)")
    with new_database() as env:
        run_site(tmp_path, snippet("deployment-postgres"), env)


@pytest.mark.django_db(transaction=True)
def test_the_pgbouncer_example(tmp_path):
    if db.settings_dict["ENGINE"] != PGBOUNCER_ENGINE:
        pytest.skip("runs through PgBouncer (make test-pgbouncer)")
    with new_database() as env:
        settings = snippet("deployment-postgres") + snippet("deployment-pgbouncer")
        run_site(tmp_path, settings, env)


@pytest.mark.django_db(transaction=True)
def test_the_mysql_example(tmp_path):
    if db.vendor != "mysql":
        pytest.skip("runs on MariaDB/MySQL (make test-mariadb)")
    with new_database() as env:
        run_site(tmp_path, snippet("deployment-mysql"), env)
