"""The per-hook URL secret: made, hashed, found. The plaintext exists only in Podio's copy of
the URL and in the one request that registers it."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from django.urls import reverse

from .. import conf
from ..exceptions import PodioConfigurationError
from ..models import PodioHook

SECRET_BYTES = 24  # 192 random bits
_SHAPE = re.compile(r"[A-Za-z0-9_-]{32}")
MASK = "****"


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def find_hook(secret: str) -> PodioHook | None:
    """The hook this URL secret belongs to, or None.

    Looked up by digest, then the digests compared in constant time: timing can at most tell
    an attacker about a SHA-256 of the secret, which says nothing about the secret.
    """
    if not _SHAPE.fullmatch(secret or ""):
        return None
    wanted = digest(secret)
    hook = PodioHook.objects.select_related("connection").filter(secret_hash=wanted).first()
    if hook is None or not hmac.compare_digest(hook.secret_hash, wanted):
        return None
    return hook


def base_url() -> str:
    base = conf.get("WEBHOOK_BASE_URL")
    if not base or not str(base).startswith(("http://", "https://")):
        raise PodioConfigurationError(
            "PODIO['WEBHOOK_BASE_URL'] must be the scheme and host Podio can reach, "
            "e.g. 'https://example.com'."
        )
    return str(base).rstrip("/")


def hook_url(secret: str) -> str:
    """The URL Podio posts to: ``WEBHOOK_BASE_URL`` plus the reversed view path."""
    return base_url() + reverse("django_podio:hook", kwargs={"secret": secret})


def masked_url() -> str:
    """What output shows instead of a hook's URL: the secret replaced by ``****``."""
    try:
        return base_url() + reverse("django_podio:hook", kwargs={"secret": "x" * 32}).replace(
            "x" * 32, MASK
        )
    except PodioConfigurationError:
        return ""
