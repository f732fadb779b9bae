"""System checks (``django_podio.E00N`` / ``W00N``), each with a hint saying what to change.

What blocks and what does not, as Django itself decides: an Error stops every command that
runs checks, so only configuration that makes the package unusable *and* can be fixed
without running those commands is an Error. The Podio app may be configured as a
``SocialApp`` row through the admin, which needs ``migrate``, ``createsuperuser`` and
``runserver`` first: "no Podio app configured" is therefore a Warning (W005; it was E005).

Checks that query the database are tagged ``database`` (``Tags.database``): Django runs them
for ``manage.py check --database default`` and ``migrate`` only, so a plain ``check`` (and
``runserver``, ``createsuperuser``) never touches the database.

``FIELD_ENCRYPTION_KEY`` is read when a secret is first read or written, not at import, so a
missing or malformed key is check E008 instead of an import-time crash of every command.
"""

from __future__ import annotations

import re
from importlib import import_module
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError, router

from . import conf, fields

ALLAUTH_APPS = ("allauth", "allauth.account", "allauth.socialaccount")
MIDDLEWARE = "allauth.account.middleware.AccountMiddleware"
SAMPLE_SIZE = 20
SQLITE_MIN_TIMEOUT = 5
SQLITE_OPTIONS = '{"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20}'
#: The databases django-podio is tested on, by ``DatabaseWrapper.vendor``.
SUPPORTED_VENDORS = {
    "postgresql": "PostgreSQL",
    "mysql": "MariaDB 10.6+/MySQL 8.0+",
    "sqlite": "SQLite",
}
#: Django's own engines by module name, for when an engine's driver is not installed.
DJANGO_ENGINE_VENDORS = {
    "postgresql": "postgresql",
    "postgis": "postgresql",
    "mysql": "mysql",
    "sqlite3": "sqlite",
    "spatialite": "sqlite",
    "oracle": "oracle",
}
_WAL = re.compile(r"journal_mode\s*=\s*['\"]?wal\b", re.IGNORECASE)


def _s(count: int) -> str:
    return "" if count == 1 else "s"


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list:
    messages: list = []
    raw = getattr(settings, "PODIO", {})
    if not isinstance(raw, dict):
        messages.append(
            Error(
                "PODIO must be a dict.",
                hint="Set PODIO = {} or a dict of the keys documented in the README.",
                id="django_podio.E001",
            )
        )
        return messages
    for key in conf.unknown_keys():
        messages.append(
            Error(
                f"Unknown PODIO setting {key!r}.",
                hint="Known keys: " + ", ".join(sorted(conf.DEFAULTS)) + ".",
                id="django_podio.E001",
            )
        )
    messages.extend(_check_values(raw))
    return messages


def _check_values(raw: dict) -> list:
    messages: list[CheckMessage] = []
    for key in (
        "REFRESH_MARGIN",
        "MAX_RETRIES",
        "RATE_LIMIT_MAX_WAIT",
        "PAGE_SIZE",
        "REFRESH_CONCURRENCY",
        "APP_CACHE_TIMEOUT",
        "HOOK_MAX_ATTEMPTS",
    ):
        value = raw.get(key, conf.DEFAULTS[key])
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            messages.append(
                Error(
                    f"PODIO[{key!r}] must be a non-negative integer, not {value!r}.",
                    hint=f"The default is {conf.DEFAULTS[key]!r}.",
                    id="django_podio.E002",
                )
            )
    stale_after = raw.get("STATUS_SYNC_STALE_AFTER", conf.DEFAULTS["STATUS_SYNC_STALE_AFTER"])
    if stale_after is not None and (
        not isinstance(stale_after, int) or isinstance(stale_after, bool) or stale_after < 1
    ):
        messages.append(
            Error(
                f"PODIO['STATUS_SYNC_STALE_AFTER'] must be seconds (1 or more) or None, "
                f"not {stale_after!r}.",
                hint="The default is 90000 (25 hours); None never calls a sync stale.",
                id="django_podio.E002",
            )
        )
    page_size = raw.get("PAGE_SIZE", conf.DEFAULTS["PAGE_SIZE"])
    if isinstance(page_size, int) and not 1 <= page_size <= 500:
        messages.append(
            Error(
                f"PODIO['PAGE_SIZE'] must be between 1 and 500, not {page_size!r}.",
                hint="500 is the largest page Podio is known to serve.",
                id="django_podio.E002",
            )
        )
    timeout = raw.get("TIMEOUT", conf.DEFAULTS["TIMEOUT"])
    valid_timeout = isinstance(timeout, (int, float)) or (
        isinstance(timeout, (tuple, list))
        and len(timeout) == 2
        and all(isinstance(t, (int, float)) and t > 0 for t in timeout)
    )
    if not valid_timeout or (isinstance(timeout, (int, float)) and timeout <= 0):
        messages.append(
            Error(
                f"PODIO['TIMEOUT'] must be seconds or a (connect, read) pair, not {timeout!r}.",
                hint="The default is (5, 30).",
                id="django_podio.E002",
            )
        )
    if not settings.DEBUG:
        for key in ("API_URL", "AUTHORIZE_URL", "TOKEN_URL"):
            url = str(raw.get(key, conf.DEFAULTS[key]))
            if url.startswith("http://") and not url.startswith(
                ("http://127.0.0.1", "http://localhost")
            ):
                messages.append(
                    Warning(
                        f"PODIO[{key!r}] is plain http while DEBUG is off: tokens would cross the "
                        "network unencrypted.",
                        hint="Use the https:// Podio URLs (the defaults).",
                        id="django_podio.W002",
                    )
                )
    return messages


@register()
def check_allauth(app_configs: Any = None, **kwargs: Any) -> list:
    messages: list = []
    missing = [name for name in ALLAUTH_APPS if not apps.is_installed(name)]
    if missing:
        messages.append(
            Error(
                "django-podio needs allauth's apps: " + ", ".join(missing) + " missing.",
                hint="Add " + ", ".join(repr(m) for m in missing) + " to INSTALLED_APPS.",
                id="django_podio.E003",
            )
        )
    if MIDDLEWARE not in getattr(settings, "MIDDLEWARE", []):
        messages.append(
            Error(
                "allauth's AccountMiddleware is not in MIDDLEWARE.",
                hint=f"Add {MIDDLEWARE!r} to MIDDLEWARE.",
                id="django_podio.E004",
            )
        )
    if getattr(settings, "SOCIALACCOUNT_STORE_TOKENS", False):
        messages.append(
            Warning(
                "SOCIALACCOUNT_STORE_TOKENS is on: allauth keeps a plaintext copy of every Podio "
                "token in its SocialToken table.",
                hint="Remove SOCIALACCOUNT_STORE_TOKENS (or set it to False); django-podio keeps "
                "the tokens encrypted in PodioConnection.",
                id="django_podio.W001",
            )
        )
    return messages


@register(Tags.database)
def check_app_configured(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list:
    """Whether exactly one Podio app is configured, in settings or as a ``SocialApp`` row.

    A Warning, not an Error, when there is none: the admin route (a ``SocialApp`` row) needs
    ``migrate`` and ``runserver`` to work first. Login fails with ``PodioConfigurationError``
    until an app exists.
    """
    if not databases or not apps.is_installed("allauth.socialaccount"):
        return []
    from allauth.socialaccount.models import SocialApp

    alias = router.db_for_read(SocialApp)
    if alias not in databases:
        return []
    provider = getattr(settings, "SOCIALACCOUNT_PROVIDERS", {}).get(conf.PROVIDER_ID, {})
    in_settings = int(bool(provider.get("APP"))) + len(provider.get("APPS", []) or [])
    try:
        in_db = SocialApp.objects.using(alias).filter(provider=conf.PROVIDER_ID).count()
    except DatabaseError:
        return []  # before the first migrate: checked once the tables exist
    if in_settings + in_db == 0:
        return [
            Warning(
                "No Podio app is configured: logging in with Podio fails until one is.",
                hint="Add a SocialApp for provider 'podio' in the admin (Social applications), "
                "or set SOCIALACCOUNT_PROVIDERS = {'podio': {'APP': {'client_id': ..., "
                "'secret': ...}}} from the environment.",
                id="django_podio.W005",
            )
        ]
    if in_settings and in_db:
        return [
            Error(
                "The Podio app is configured both in SOCIALACCOUNT_PROVIDERS and as a SocialApp "
                "row; allauth then fails with MultipleObjectsReturned at login.",
                hint="Keep one: delete the SocialApp row or the settings APP.",
                id="django_podio.E006",
            )
        ]
    return []


@register()
def check_encryption_key(app_configs: Any = None, **kwargs: Any) -> list:
    problem = fields.key_problem()
    if problem:
        return [Error(problem, hint=fields.KEY_HINT, id="django_podio.E008")]
    return []


@register()
def check_sqlite(app_configs: Any = None, **kwargs: Any) -> list:
    """A file SQLite database needs WAL and a busy timeout for refreshes from many processes.

    Every process of the site writes to the one file (leases, token pairs, the item cache);
    without a busy timeout a second writer fails at once with "database is locked", and
    without WAL readers wait on writers.
    Reads settings only (no query).
    """
    messages: list = []
    for alias, database in settings.DATABASES.items():
        if not _is_sqlite(database.get("ENGINE", "")) or _in_memory(database.get("NAME")):
            continue
        options = database.get("OPTIONS") or {}
        missing = []
        if not _WAL.search(str(options.get("init_command") or "")):
            missing.append("WAL journal mode (init_command)")
        timeout = options.get("timeout")
        if (
            not isinstance(timeout, (int, float))
            or isinstance(timeout, bool)
            or timeout < SQLITE_MIN_TIMEOUT
        ):
            missing.append(f"a busy timeout of at least {SQLITE_MIN_TIMEOUT} s (timeout)")
        if missing:
            messages.append(
                Warning(
                    f"SQLite database {alias!r} lacks " + " and ".join(missing) + ": token "
                    "refreshes from several processes (web workers, cron) then fail with "
                    "'database is locked'.",
                    hint=f'Set DATABASES["{alias}"]["OPTIONS"] = {SQLITE_OPTIONS} (keep any '
                    "other options you have).",
                    id="django_podio.W004",
                )
            )
    return messages


def _is_sqlite(engine: str) -> bool:
    return _vendor(engine) == "sqlite"


def _vendor(engine: str) -> str | None:
    """The ``vendor`` of a database ``ENGINE`` (``postgresql``, ``mysql``, ``sqlite``, …)."""
    try:
        return str(import_module(f"{engine}.base").DatabaseWrapper.vendor)
    except Exception:  # an engine that cannot load is Django's own error to report
        if engine.startswith("django."):
            return DJANGO_ENGINE_VENDORS.get(engine.rsplit(".", 1)[-1])
        return None


@register()
def check_database_vendor(app_configs: Any = None, **kwargs: Any) -> list:
    """Each database is one django-podio is tested on: PostgreSQL, MariaDB/MySQL, SQLite.

    The token refresh, the sync lease and the item cache's upsert rely on what each of these
    does under concurrency (row locks, SKIP LOCKED, upserts, SQLite's write lock); on another
    backend (Oracle, a third-party one) they are untested. Only the databases that hold
    django-podio's tables (as the routers say) are checked. Reads settings only (no query).
    """
    from .models import PodioConnection

    messages: list = []
    for alias, database in settings.DATABASES.items():
        engine = str(database.get("ENGINE") or "")
        vendor = _vendor(engine)
        if vendor is None or vendor in SUPPORTED_VENDORS or vendor == "dummy":
            continue
        if not router.allow_migrate_model(alias, PodioConnection):
            continue
        messages.append(
            Warning(
                f"Database {alias!r} uses {engine!r} (vendor {vendor!r}), which django-podio "
                "does not support: token refreshes, the one sync per app and the item cache "
                "are only tested on " + ", ".join(SUPPORTED_VENDORS.values()) + ".",
                hint="Use PostgreSQL, MariaDB/MySQL or SQLite for this database (see "
                "'Databases' in django-podio's deployment guide), or silence this warning "
                "and test django-podio on it yourself.",
                id="django_podio.W006",
            )
        )
    return messages


def _in_memory(name: Any) -> bool:
    text = str(name or "")
    return text in ("", ":memory:") or "mode=memory" in text


@register(Tags.database)
def check_encrypted_data(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list:
    """Read a sample of stored secrets: a wrong key fails here, not at the next API call."""
    if not databases or fields.key_problem():
        return []  # no key to try (E008 says why)
    from .census import take_census
    from .models import PodioConnection

    messages: list = []
    for alias in databases:
        try:
            census = take_census(PodioConnection.objects.using(alias), limit=SAMPLE_SIZE)
        except DatabaseError:
            continue  # before migrate
        if census.undecryptable:
            n = census.undecryptable
            messages.append(
                Error(
                    f"{n} stored Podio secret{_s(n)} in database {alias!r} cannot be decrypted "
                    "with FIELD_ENCRYPTION_KEY.",
                    hint="Restore the key they were written with (put it after the new key in the "
                    "FIELD_ENCRYPTION_KEY list), then run manage.py podio_reencrypt.",
                    id="django_podio.E007",
                )
            )
        elif census.stale:
            n = census.stale
            messages.append(
                Warning(
                    f"{n} stored Podio secret{_s(n)} in database {alias!r} "
                    f"{'is' if n == 1 else 'are'} encrypted with an older key of "
                    "FIELD_ENCRYPTION_KEY: key rotation is pending.",
                    hint="Run manage.py podio_reencrypt, then drop the old key.",
                    id="django_podio.W003",
                )
            )
    return messages


@register(Tags.database)
def check_orphaned_hooks(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list:
    """Hooks no active connection can serve: their events wait for a person (W007)."""
    if not databases:
        return []
    from .hooks.owner import homeless_apps

    messages: list = []
    for alias in databases:
        try:
            apps = homeless_apps(alias)
        except DatabaseError:
            continue  # before migrate
        for app_id, count in apps:
            messages.append(
                Warning(
                    f"{count} Podio hook{_s(count)} of app {app_id} in database {alias!r} "
                    f"{'has' if count == 1 else 'have'} no active connection that can read "
                    f"the app: {'its' if count == 1 else 'their'} events wait.",
                    hint=f"Run manage.py podio_hooks sync {app_id} --user USERNAME (a user who "
                    "can read the app) or store the app's own connection with podio_app_auth.",
                    id="django_podio.W007",
                )
            )
    return messages


def _register_task_backend_checks() -> None:
    """Have every ``TASKS`` backend's own ``check()`` run, on Django 5.2 too.

    Django >= 6.0 registers that check when ``django.tasks`` is imported; the django-tasks
    backport only when its app is in ``INSTALLED_APPS``, which a host using another engine
    (the Celery backend) need not add. Importing the backport's checks module registers the
    same check, so a Celery backend without a project app or broker (``django_podio.E020``)
    is reported by ``manage.py check`` on every Django.
    """
    for module in ("django.tasks", "django_tasks.checks"):
        try:
            import_module(module)
        except ImportError:
            continue
        return


_register_task_backend_checks()
