"""Settings for the test suite: a SQLite file by default; PostgreSQL with
DATABASE_URL=postgres://…, MariaDB/MySQL with DATABASE_URL=mysql://… (tests/databases.py)."""

import os
from importlib.util import find_spec

from tests.databases import database_settings

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
# A fixed test key (base64 of 32 bytes); django-podio reads it when a secret is first used.
FIELD_ENCRYPTION_KEY = "dGVzdHMtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleSE="


DATABASES = {"default": database_settings(os.environ.get("DATABASE_URL", ""))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    # allauth's EmailAddress has a conditional unique constraint that MariaDB/MySQL cannot
    # create; allauth also checks it in Python. What docs/deployment.rst tells hosts to do.
    SILENCED_SYSTEM_CHECKS = ["models.W036"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    # The headless API: the client-side flow's token login (tests/headless/).
    "allauth.headless",
    "django_podio",
    # A host's own models with encrypted columns (ours and django-encrypted-model-fields').
    "tests.hostapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
SOCIALACCOUNT_PROVIDERS = {
    "podio": {"APP": {"client_id": "test-client-id", "secret": "test-client-secret"}}
}
ACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_LOGIN_ON_GET = False
# Nothing listens on port 9: a test that forgets the fake_podio fixture fails fast. Subprocesses
# started by the concurrency tests and benchmarks get the fake's URL through PODIO_FAKE_URL.
_FAKE = os.environ.get("PODIO_FAKE_URL", "http://127.0.0.1:9")
PODIO = {
    "API_URL": _FAKE,
    "AUTHORIZE_URL": _FAKE + "/oauth/authorize",
    "TOKEN_URL": _FAKE + "/oauth/token",
}
# Worker processes of tests that kill a sync mid-run: its lease expires in seconds, not minutes.
if os.environ.get("PODIO_TEST_SYNC_LEASE"):
    PODIO["SYNC_LEASE"] = float(os.environ["PODIO_TEST_SYNC_LEASE"])
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_REDIRECT_URL = "/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "static/"

# Background work (tests/tasks): Django's Tasks API (Django >= 6.0) or the django-tasks backport,
# with the engines the tests run for real: django-tasks-db workers and Celery on Redis.
if find_spec("django.tasks") is None and find_spec("django_tasks") is not None:
    INSTALLED_APPS.append("django_tasks")
_TASKS_API = "django.tasks" if find_spec("django.tasks") else "django_tasks"
TASKS = {"default": {"BACKEND": f"{_TASKS_API}.backends.immediate.ImmediateBackend"}}
if find_spec("django_tasks_db") is not None:
    INSTALLED_APPS.append("django_tasks_db")
    TASKS["db"] = {"BACKEND": "django_tasks_db.DatabaseBackend"}
if find_spec("celery") is not None:
    TASKS["celery"] = {
        "BACKEND": "django_podio.contrib.celery.CeleryBackend",
        "OPTIONS": {"APP": "tests.tasks.celery_app.app"},
    }
# Worker processes of tests/tasks that stand in for a host whose default backend is an engine.
if os.environ.get("PODIO_TEST_TASKS_DEFAULT") in TASKS:
    TASKS["default"] = TASKS[os.environ["PODIO_TEST_TASKS_DEFAULT"]]
