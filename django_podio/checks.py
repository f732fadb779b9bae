"""System checks (``django_podio.E00N`` / ``W00N``), each with a hint saying what to change.

``FIELD_ENCRYPTION_KEY`` itself is validated by django-encrypted-model-fields at import time
(it raises ``ImproperlyConfigured`` before any check can run); the checks here cover what can
be checked afterwards, including a database check (``manage.py check --database default``)
that proves the stored tokens can be read with the configured keys.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError

from . import conf

ALLAUTH_APPS = ("allauth", "allauth.account", "allauth.socialaccount")
MIDDLEWARE = "allauth.account.middleware.AccountMiddleware"
SAMPLE_SIZE = 20


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
    messages = []
    for key in (
        "REFRESH_MARGIN",
        "MAX_RETRIES",
        "RATE_LIMIT_MAX_WAIT",
        "PAGE_SIZE",
        "REFRESH_CONCURRENCY",
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
    if not missing:
        messages.extend(_check_app_configured())
    return messages


def _check_app_configured() -> list:
    provider = getattr(settings, "SOCIALACCOUNT_PROVIDERS", {}).get(conf.PROVIDER_ID, {})
    in_settings = int(bool(provider.get("APP"))) + len(provider.get("APPS", []) or [])
    try:
        from allauth.socialaccount.models import SocialApp

        in_db = SocialApp.objects.filter(provider=conf.PROVIDER_ID).count()
    except DatabaseError:
        in_db = 0  # before migrate: the database part is checked once tables exist
    if in_settings + in_db == 0:
        return [
            Error(
                "No Podio app is configured.",
                hint="Set SOCIALACCOUNT_PROVIDERS = {'podio': {'APP': {'client_id': ..., "
                "'secret': ...}}} from the environment, or add a SocialApp for provider 'podio'.",
                id="django_podio.E005",
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


@register(Tags.database)
def check_encrypted_data(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list:
    """Decrypt a sample of stored secrets: a wrong key fails here, not at the next API call."""
    if not databases:
        return []
    from django.db.models import TextField
    from django.db.models.functions import Cast

    from . import fields
    from .models import PodioConnection

    messages: list = []
    for alias in databases:
        unreadable = old_key = 0
        try:
            rows = (
                PodioConnection.objects.using(alias)
                .annotate(
                    raw_access=Cast("access_token", TextField()),
                    raw_refresh=Cast("refresh_token", TextField()),
                    raw_app=Cast("app_token", TextField()),
                )
                .order_by("-updated_at")
                .values_list("raw_access", "raw_refresh", "raw_app")[:SAMPLE_SIZE]
            )
            for row in rows:
                for value in row:
                    if value is None:
                        continue
                    index = fields.key_index(value)
                    if index is None:
                        unreadable += 1
                    elif index > 0:
                        old_key += 1
        except DatabaseError:
            continue
        if unreadable:
            messages.append(
                Error(
                    f"{unreadable} stored Podio secret(s) in database {alias!r} cannot be "
                    "decrypted with FIELD_ENCRYPTION_KEY.",
                    hint="Restore the key they were written with (put it after the new key in the "
                    "FIELD_ENCRYPTION_KEY list), then run manage.py podio_reencrypt.",
                    id="django_podio.E007",
                )
            )
        elif old_key:
            messages.append(
                Warning(
                    f"{old_key} stored Podio secret(s) in database {alias!r} are encrypted with an "
                    "older key of FIELD_ENCRYPTION_KEY: key rotation is pending.",
                    hint="Run manage.py podio_reencrypt, then drop the old key.",
                    id="django_podio.W003",
                )
            )
    return messages
