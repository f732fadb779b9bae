"""System checks: each problem a host project can make is reported with its id and a hint."""

import socket
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
import requests
from allauth.socialaccount.models import SocialApp
from cryptography.fernet import Fernet
from django.core.checks import WARNING
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_podio import checks

from .factories import make_connection
from .test_commands import host_project, manage

ROOT = Path(__file__).resolve().parents[1]


def ids(messages) -> list[str]:
    return [m.id for m in messages]


def test_clean_configuration_has_no_messages(db):
    assert checks.check_settings() == []
    assert checks.check_allauth() == []
    assert checks.check_encryption_key() == []
    assert checks.check_sqlite() == []
    assert checks.check_app_configured(databases=["default"]) == []
    assert checks.check_encrypted_data(databases=["default"]) == []


def test_unknown_podio_key(settings):
    settings.PODIO = {**settings.PODIO, "API_URLL": "typo"}
    messages = checks.check_settings()
    assert ids(messages) == ["django_podio.E001"]
    assert "API_URLL" in messages[0].msg and "API_URL" in messages[0].hint


@pytest.mark.parametrize(
    "key,value",
    [("PAGE_SIZE", 501), ("MAX_RETRIES", -1), ("TIMEOUT", "soon"), ("REFRESH_MARGIN", "300")],
)
def test_invalid_values(settings, key, value):
    settings.PODIO = {**settings.PODIO, key: value}
    assert "django_podio.E002" in ids(checks.check_settings())


def test_plain_http_in_production_warns(settings):
    settings.PODIO = {"API_URL": "http://podio.example.com"}
    assert ids(checks.check_settings()) == ["django_podio.W002"]


def test_missing_middleware(settings, db):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "allauth" not in m]
    assert ids(checks.check_allauth()) == ["django_podio.E004"]


def test_missing_allauth_apps(settings):
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "allauth.account"]
    assert "django_podio.E003" in ids(checks.check_allauth())


def test_store_tokens_warns(settings, db):
    settings.SOCIALACCOUNT_STORE_TOKENS = True
    assert ids(checks.check_allauth()) == ["django_podio.W001"]


def test_no_app_configured_is_a_warning_of_the_database_check(settings, db):
    settings.SOCIALACCOUNT_PROVIDERS = {}
    assert checks.check_allauth() == []
    assert checks.check_app_configured() == []  # plain check: no query, no verdict
    messages = checks.check_app_configured(databases=["default"])
    assert ids(messages) == ["django_podio.W005"]
    assert messages[0].level == WARNING and "SocialApp" in messages[0].hint


def test_no_app_configured_does_not_stop_check_or_migrate(settings, db):
    settings.SOCIALACCOUNT_PROVIDERS = {}
    out, err = StringIO(), StringIO()
    call_command("check", stdout=out, stderr=err)
    assert "W005" not in out.getvalue() + err.getvalue()
    call_command("check", databases=["default"], stdout=out, stderr=err)
    call_command("migrate", verbosity=0, stdout=out, stderr=err)
    assert "django_podio.W005" in out.getvalue() + err.getvalue()


def test_app_in_settings_and_database(db):
    SocialApp.objects.create(provider="podio", name="Podio", client_id="x", secret="y")
    assert checks.check_allauth() == []
    assert ids(checks.check_app_configured(databases=["default"])) == ["django_podio.E006"]


def test_app_only_in_database_is_fine(settings, db):
    settings.SOCIALACCOUNT_PROVIDERS = {}
    SocialApp.objects.create(provider="podio", name="Podio", client_id="x", secret="y")
    assert checks.check_allauth() == []
    assert checks.check_app_configured(databases=["default"]) == []


def test_a_plain_check_never_queries_the_database(settings, db):
    settings.SOCIALACCOUNT_PROVIDERS = {}
    make_connection()
    with CaptureQueriesContext(connection) as queries:
        call_command("check", stdout=StringIO(), stderr=StringIO())
    assert queries.captured_queries == []
    # ... and the database checks do, when asked to.
    with CaptureQueriesContext(connection) as queries:
        call_command("check", databases=["default"], stdout=StringIO(), stderr=StringIO())
    assert len(queries.captured_queries) >= 2


def test_database_check_wrong_key_and_rotation_pending(settings, db):
    make_connection()
    assert checks.check_encrypted_data(databases=["default"]) == []
    other = Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEY=other):
        messages = checks.check_encrypted_data(databases=["default"])
        assert ids(messages) == ["django_podio.E007"]
        assert messages[0].msg.startswith("2 stored Podio secrets in database 'default' cannot")
        assert "podio_reencrypt" in messages[0].hint
    with override_settings(FIELD_ENCRYPTION_KEY=[other, settings.FIELD_ENCRYPTION_KEY]):
        assert ids(checks.check_encrypted_data(databases=["default"])) == ["django_podio.W003"]


def test_manage_py_check_database_reports_a_wrong_key(settings, db):
    make_connection()
    with override_settings(FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode()):
        with pytest.raises(SystemCheckError) as info:
            call_command("check", databases=["default"])
    assert "django_podio.E007" in str(info.value)


# FIELD_ENCRYPTION_KEY (E008) ------------------------------------------------------------------

GOOD_KEY = Fernet.generate_key().decode()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "is empty"),
        ("not-a-key", "not a Fernet key"),
        ([], "empty list"),
        ([GOOD_KEY, "c2hvcnQ="], "FIELD_ENCRYPTION_KEY[1] (key 2 of 2)"),
        (12345, "not a Fernet key"),
    ],
)
def test_malformed_key_is_a_check_error_that_never_quotes_the_key(settings, value, says):
    settings.FIELD_ENCRYPTION_KEY = value
    messages = checks.check_encryption_key()
    assert ids(messages) == ["django_podio.E008"]
    assert says in messages[0].msg
    assert "Fernet.generate_key()" in messages[0].hint
    assert "c2hvcnQ=" not in messages[0].msg and "not-a-key" not in messages[0].msg
    # The database check has no key to try: E008 alone reports the problem.
    assert checks.check_encrypted_data(databases=["default"]) == []


def test_missing_key_is_a_check_error(settings):
    del settings.FIELD_ENCRYPTION_KEY
    messages = checks.check_encryption_key()
    assert ids(messages) == ["django_podio.E008"] and "is not set" in messages[0].msg
    with pytest.raises(SystemCheckError, match=r"django_podio\.E008"):
        call_command("check", stdout=StringIO(), stderr=StringIO())


def test_rotation_list_of_good_keys_is_fine(settings):
    settings.FIELD_ENCRYPTION_KEY = [GOOD_KEY, settings.FIELD_ENCRYPTION_KEY]
    assert checks.check_encryption_key() == []


# SQLite settings (W004) --------------------------------------------------------------------

WAL = {"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20}


# Django warns that connections do not follow an overridden DATABASES: these checks read only
# the settings, which is what they test.
sqlite_settings = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")


def with_database(settings, alias: str, **database) -> None:
    settings.DATABASES = {**settings.DATABASES, alias: database}


@pytest.mark.parametrize(
    ("options", "lacks"),
    [
        ({}, "lacks WAL journal mode (init_command) and a busy timeout of at least 5 s"),
        ({"timeout": 20}, "lacks WAL journal mode (init_command):"),
        ({"init_command": "PRAGMA journal_mode=WAL;"}, "lacks a busy timeout"),
        ({"init_command": "PRAGMA journal_mode = wal", "timeout": 3}, "lacks a busy timeout"),
        ({"init_command": "PRAGMA journal_mode=DELETE;", "timeout": 20}, "lacks WAL"),
    ],
)
@sqlite_settings
def test_file_sqlite_without_wal_or_timeout_warns(settings, tmp_path, options, lacks):
    name = tmp_path / "site.sqlite3"
    with_database(
        settings, "other", ENGINE="django.db.backends.sqlite3", NAME=name, OPTIONS=options
    )
    messages = checks.check_sqlite()
    assert ids(messages) == ["django_podio.W004"]
    assert "'other'" in messages[0].msg and lacks in messages[0].msg
    assert (
        'DATABASES["other"]["OPTIONS"] = {"init_command": "PRAGMA journal_mode=WAL;", '
        '"timeout": 20}' in messages[0].hint
    )


@sqlite_settings
def test_sqlite_settings_that_need_no_warning(settings, tmp_path):
    with_database(
        settings, "wal", ENGINE="django.db.backends.sqlite3", NAME=tmp_path / "a.db", OPTIONS=WAL
    )
    with_database(settings, "memory", ENGINE="django.db.backends.sqlite3", NAME=":memory:")
    with_database(
        settings,
        "shared",
        ENGINE="django.db.backends.sqlite3",
        NAME="file:memorydb?mode=memory&cache=shared",
    )
    with_database(settings, "pg", ENGINE="django.db.backends.postgresql", NAME="site")
    assert checks.check_sqlite() == []


@sqlite_settings
def test_sqlite_warning_does_not_stop_commands(settings, tmp_path):
    with_database(settings, "other", ENGINE="django.db.backends.sqlite3", NAME=tmp_path / "b.db")
    err = StringIO()
    call_command("check", stdout=StringIO(), stderr=err)
    assert "django_podio.W004" in err.getvalue()


# Database vendors (W006) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("engine", "vendor"),
    [
        ("django.db.backends.oracle", "oracle"),  # driver not installed: known by its name
        ("tests.backends.unsupported", "example"),  # a third-party backend
    ],
)
@sqlite_settings
def test_a_database_vendor_we_do_not_support_warns(settings, engine, vendor):
    with_database(settings, "other", ENGINE=engine, NAME="site")
    messages = checks.check_database_vendor()
    assert ids(messages) == ["django_podio.W006"]
    assert f"'other' uses '{engine}' (vendor '{vendor}')" in messages[0].msg
    assert "PostgreSQL" in messages[0].msg and "Databases" in messages[0].hint


@sqlite_settings
def test_supported_vendors_need_no_warning(settings, tmp_path):
    with_database(settings, "pg", ENGINE="django.db.backends.postgresql", NAME="site")
    with_database(settings, "gis", ENGINE="django.contrib.gis.db.backends.postgis", NAME="s")
    with_database(settings, "maria", ENGINE="django.db.backends.mysql", NAME="site")
    with_database(settings, "lite", ENGINE="django.db.backends.sqlite3", NAME=":memory:")
    with_database(settings, "unloadable", ENGINE="no.such.backend", NAME="site")
    assert checks.check_database_vendor() == []


class OnlyDefault:
    """A router that keeps every table on ``default``."""

    def allow_migrate(self, db, app_label, **hints):
        return db == "default"


@sqlite_settings
def test_a_database_without_our_tables_needs_no_warning(settings):
    with_database(settings, "reports", ENGINE="django.db.backends.oracle", NAME="reports")
    settings.DATABASE_ROUTERS = [f"{__name__}.OnlyDefault"]
    assert checks.check_database_vendor() == []


@sqlite_settings
def test_vendor_warning_does_not_stop_commands(settings):
    with_database(settings, "other", ENGINE="tests.backends.unsupported", NAME="site")
    err = StringIO()
    call_command("check", stdout=StringIO(), stderr=err)
    assert "django_podio.W006" in err.getvalue()


# From the shell, in a fresh host project -----------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_admin_route_migrate_createsuperuser_runserver_without_an_app(tmp_path, fake):
    """The README's "SocialApp row in the admin" route: nothing blocks before the row exists."""
    env = host_project(tmp_path, fake, "SOCIALACCOUNT_PROVIDERS = {}")
    migrate = manage(env, "migrate")
    assert migrate.returncode == 0, migrate.stderr
    assert "Traceback" not in migrate.stderr
    admin = manage(
        {**env, "DJANGO_SUPERUSER_PASSWORD": "pw-for-tests"},
        "createsuperuser",
        "--noinput",
        "--username",
        "admin",
        "--email",
        "admin@example.com",
    )
    assert admin.returncode == 0, admin.stderr
    check = manage(env, "check", "--database", "default")
    assert check.returncode == 0, check.stderr
    assert "django_podio.W005" in check.stderr + check.stdout
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "django", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status = requests.get(f"http://127.0.0.1:{port}/admin/login/", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert status is not None and status.status_code == 200, server.poll()
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "System check identified no issues" in output


def test_no_key_help_collectstatic_and_check_from_the_shell(tmp_path, fake):
    """A Docker build stage has no FIELD_ENCRYPTION_KEY: importing the app must not need it."""
    env = host_project(
        tmp_path,
        fake,
        "del FIELD_ENCRYPTION_KEY",
        # Only django-podio must import without a key: the suite's host app uses
        # django-encrypted-model-fields' own fields, which need one at import (its rule).
        "INSTALLED_APPS = [*(a for a in INSTALLED_APPS if a != 'tests.hostapp'),"
        " 'django.contrib.staticfiles']",
        f"STATIC_ROOT = {str(tmp_path / 'static')!r}",
    )
    help_ = manage(env, "help", "podio_refresh")
    assert help_.returncode == 0, help_.stderr
    assert "--json" in help_.stdout
    static = manage(env, "collectstatic", "--noinput", "-v0")
    assert static.returncode == 0, static.stderr
    assert (tmp_path / "static" / "admin").is_dir()
    migrations = manage(env, "makemigrations", "--check", "--dry-run", "--skip-checks")
    assert migrations.returncode == 0, migrations.stderr + migrations.stdout
    check = manage(env, "check")
    assert check.returncode == 1
    assert "django_podio.E008" in check.stderr and "FIELD_ENCRYPTION_KEY is not set" in check.stderr
    assert "Traceback" not in check.stderr
    refresh = manage(env, "podio_refresh")
    assert refresh.returncode == 1 and "django_podio.E008" in refresh.stderr
