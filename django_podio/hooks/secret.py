"""The per-hook URL secret: made, hashed, found. The plaintext exists only in Podio's copy of
the URL and in the one request that registers it."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from .. import conf
from ..exceptions import PodioConfigurationError
from ..hidden import Hidden
from ..models import PodioHook

SECRET_BYTES = 24  # 192 random bits
SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{32}")
MASK = "****"


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class HookSecret(Hidden[str]):
    """A hook's URL secret as the view receives it: a masked ``repr`` in every frame."""

    __slots__ = ()

    def __init__(self, value: str) -> None:
        super().__init__(value, "hook secret")

    def masked(self, text: str) -> str:
        """``text`` with the secret replaced by ``****`` (paths, URLs, headers)."""
        return text.replace(self.reveal(), MASK) if self.reveal() else text

    def mask_request(self, request: HttpRequest) -> None:
        """Take the secret out of the request before anything can fail and report it.

        Django's 500 reports, its ``django.request`` log line (the admins' mail subject) and
        error trackers print the request's path and META; the view needs the secret only
        through this object from here on. A value without a secret's shape is no secret
        (the lookup refuses it) and is left where it is.
        """
        if not SECRET_SHAPE.fullmatch(self.reveal() or ""):
            return
        request.path = self.masked(request.path)
        request.path_info = self.masked(request.path_info)
        meta = request.META
        for key, value in list(meta.items()):
            if isinstance(value, str) and self.reveal() in value:
                meta[key] = self.masked(value)
        scope = getattr(request, "scope", None)  # ASGI
        if isinstance(scope, dict):
            if isinstance(scope.get("path"), str):
                scope["path"] = self.masked(scope["path"])
            if isinstance(scope.get("raw_path"), bytes):
                scope["raw_path"] = self.masked(scope["raw_path"].decode("latin-1")).encode(
                    "latin-1"
                )


class SecretConverter:
    """The URL converter of hook paths: the view gets a :class:`HookSecret`, never a ``str``
    (the resolver's kwargs sit in the locals of Django's request handler)."""

    regex = "[^/]+"

    def to_python(self, value: str) -> HookSecret:
        return HookSecret(value)

    def to_url(self, value: Any) -> str:
        return value.reveal() if isinstance(value, Hidden) else str(value)


def _text(secret: HookSecret | str) -> str:
    value = secret.reveal() if isinstance(secret, Hidden) else secret
    return value if isinstance(value, str) else ""


def find_hook(secret: HookSecret | str) -> PodioHook | None:
    """The hook this URL secret belongs to, or None.

    Looked up by digest, then the digests compared in constant time: timing can at most tell
    an attacker about a SHA-256 of the secret, which says nothing about the secret.
    """
    if not SECRET_SHAPE.fullmatch(_text(secret)):
        return None
    wanted = digest(_text(secret))
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
