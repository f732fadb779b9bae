"""The ``PODIO`` settings dict: defaults, validation and the Podio app credentials.

Settings are read on every access (not cached at import) so ``override_settings`` and the
``fake_podio`` fixture work without any reload hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

__all__ = ["DEFAULTS", "PROVIDER_ID", "AppCredentials", "get", "get_app_credentials"]

#: Every ``PODIO`` key and its default (:doc:`settings` explains each); an unknown key in
#: ``settings.PODIO`` is system check error ``django_podio.E001``.
DEFAULTS: dict[str, Any] = {
    "API_URL": "https://api.podio.com",
    "AUTHORIZE_URL": "https://podio.com/oauth/authorize",
    "TOKEN_URL": "https://api.podio.com/oauth/token",
    # JSON bodies to ``/oauth/token/v2`` instead of the form-encoded legacy endpoint.
    "TOKEN_JSON": False,
    "TIMEOUT": (5, 30),
    "REFRESH_MARGIN": 300,
    "MAX_RETRIES": 3,
    "RATE_LIMIT_MAX_WAIT": 60,
    "PAGE_SIZE": 500,
    "REFRESH_CONCURRENCY": 8,
    # Seconds an item sync's lease holds between committed batches: how long a sync whose
    # worker died keeps the next one of the same app waiting.
    "SYNC_LEASE": 600,
    # Seconds an app's field definitions stay in Django's cache (0: fetched per write).
    "APP_CACHE_TIMEOUT": 3600,
    # Scheme and host Podio can reach (e.g. "https://example.com"); hook URLs are this plus
    # the reversed ``django_podio:hook`` path.
    "WEBHOOK_BASE_URL": None,
    # Seconds since an app's last finished item sync after which ``podio_status`` calls it
    # stale (needs a person); None: never. 25 hours lets a daily sync run late by an hour.
    "STATUS_SYNC_STALE_AFTER": 25 * 3600,
    # Attempts at a webhook event before it is ``dead`` (kept, replayable, never retried on
    # its own): with the backoff doubling from 30 s to an hour, 10 attempts span about 5 h.
    "HOOK_MAX_ATTEMPTS": 10,
}

#: The allauth provider id (``SOCIALACCOUNT_PROVIDERS["podio"]``, URL names ``podio_login``).
PROVIDER_ID = "podio"


def user_settings() -> dict[str, Any]:
    value = getattr(settings, "PODIO", None)
    return value if isinstance(value, dict) else {}


def unknown_keys() -> list[str]:
    return sorted(set(user_settings()) - set(DEFAULTS))


def get(name: str) -> Any:
    """Return one ``PODIO`` setting, falling back to its default."""
    if name not in DEFAULTS:
        raise KeyError(f"Unknown PODIO setting {name!r}")
    return user_settings().get(name, DEFAULTS[name])


def api_url(path: str = "") -> str:
    return get("API_URL").rstrip("/") + "/" + path.lstrip("/")


def token_url() -> str:
    url = get("TOKEN_URL").rstrip("/")
    if get("TOKEN_JSON") and not url.endswith("/v2"):
        url += "/v2"
    return url


def timeout() -> tuple[float, float]:
    value = get("TIMEOUT")
    if isinstance(value, (int, float)):
        return (float(value), float(value))
    connect, read = value
    return (float(connect), float(read))


@dataclass(frozen=True)
class AppCredentials:
    """The API key (client id and secret) registered with Podio.

    ``repr`` hides the secret so a stray log line or traceback cannot leak it.
    """

    client_id: str
    secret: str

    def __repr__(self) -> str:
        return f"AppCredentials(client_id={self.client_id!r}, secret='***')"


def get_app_credentials(request: Any = None) -> AppCredentials:
    """Credentials from allauth's configuration (a ``SocialApp`` row or the settings ``APP``).

    Reusing allauth's lookup means the client id and secret are configured exactly once.
    """
    from allauth.socialaccount.adapter import get_adapter
    from allauth.socialaccount.models import SocialApp

    from .exceptions import PodioConfigurationError

    try:
        app = get_adapter().get_app(request, PROVIDER_ID)
    except SocialApp.DoesNotExist:
        raise PodioConfigurationError(
            "No Podio app is configured: add SOCIALACCOUNT_PROVIDERS['podio']['APP'] "
            "or a SocialApp row for the 'podio' provider."
        ) from None
    except SocialApp.MultipleObjectsReturned:
        raise PodioConfigurationError(
            "Several Podio apps are configured (settings and database, or several rows): "
            "keep exactly one."
        ) from None
    return AppCredentials(client_id=app.client_id, secret=app.secret)
