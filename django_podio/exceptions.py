"""Exceptions raised by django-podio.

Every message is built from Podio's error fields and our own words only: no request header,
body or token ever reaches ``str(exc)`` or ``repr(exc)``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist


class DjangoPodioError(Exception):
    """Base class of every exception this package raises (configuration errors aside)."""


class PodioError(DjangoPodioError):
    """Base class of everything that can go wrong talking to Podio."""


class PodioAPIError(PodioError):
    """Podio answered with an error status."""

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        error: str | None = None,
        description: str | None = None,
        detail: Any = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.status = status
        self.error = error
        self.description = description
        self.detail = detail
        self.request_id = request_id
        self.method = method
        self.path = path
        super().__init__(message or self._default_message())

    def _default_message(self) -> str:
        parts = [f"Podio API error {self.status}" if self.status else "Podio API error"]
        if self.error:
            parts.append(f"{self.error}")
        if self.description:
            parts.append(f"({self.description})")
        if self.method and self.path:
            parts.append(f"on {self.method} {self.path}")
        if self.request_id:
            parts.append(f"[request {self.request_id}]")
        return " ".join(parts)


class TokenExpired(PodioAPIError):
    """401 ``expired_token``: refresh and try again."""


class InvalidToken(PodioAPIError):
    """401 ``invalid_token`` or any other authentication failure."""


class InvalidGrant(PodioAPIError):
    """400 ``invalid_grant`` at the token endpoint: the code, refresh token or app token is dead."""


class Forbidden(PodioAPIError):
    """403: the token may not reach this object."""


class NotFound(PodioAPIError):
    """404: no such object, or no such route."""


class Gone(PodioAPIError):
    """410: the object was deleted."""


class Conflict(PodioAPIError):
    """409: an update named a ``revision`` and a field it writes changed since that revision.

    Nothing was written: read the item again, let the user (or your code) merge, and retry.
    """


class RateLimited(PodioAPIError):
    """420 (or 429): over Podio's hourly limit and waiting was not allowed."""

    def __init__(self, message: str = "", *, wait_seconds: int | None = None, **kwargs: Any):
        self.wait_seconds = wait_seconds
        super().__init__(message, **kwargs)


class ServerError(PodioAPIError):
    """5xx, or a 2xx whose body is not the JSON Podio promised."""


class ReauthorizationRequired(PodioError):
    """The connection's refresh token is dead: its user must log in with Podio again."""


class PodioConnectionError(PodioError):
    """The network failed: connection refused or dropped, or a timeout.

    ``maybe_sent`` says whether the request may have reached Podio: ``False`` when no
    connection was made (refused, connect timeout), so even a write can be sent again;
    ``True`` when it failed later (reset, read timeout), so a write may have happened.
    """

    def __init__(self, message: str = "", *, maybe_sent: bool = True) -> None:
        self.maybe_sent = maybe_sent
        super().__init__(message)


class PodioConfigurationError(ImproperlyConfigured):
    """The host project's configuration is wrong; deliberately not a ``PodioError``."""


class DecryptionError(DjangoPodioError):
    """Stored ciphertext cannot be read with the configured ``FIELD_ENCRYPTION_KEY``.

    A local fault (a key dropped too early), not a failure talking to Podio: nothing was sent.
    """


class InvalidFieldValue(DjangoPodioError, ValueError):
    """A value a Podio field cannot take (or a field that cannot be written), found before
    anything was sent.

    Podio's own answer to a bad value (400 ``invalid_value``) does not say which field it
    means and may be in the user's language; this one names the field (``field``: its
    external id, ``label``: what Podio's UI shows) and says why (``reason``, in English, for
    developers). ``user_message`` is what a form shows a person instead (translated, lazily),
    for the reasons a person can cause; ``None`` for the others. Also a ``ValueError``, so code
    that validates input with ``except ValueError`` catches it.
    """

    def __init__(
        self,
        field: str,
        reason: str,
        *,
        label: str = "",
        field_type: str = "",
        user_message: Any = None,
    ) -> None:
        self.field = field
        self.label = label
        self.field_type = field_type
        self.reason = reason
        self.user_message = user_message
        named = f"field {field!r}"
        details = ", ".join(part for part in (repr(label) if label else "", field_type) if part)
        if details:
            named += f" ({details})"
        super().__init__(f"{named}: {reason}")


class ConnectionNotFound(DjangoPodioError, ObjectDoesNotExist):
    """No Podio connection for this user, app or Podio user id (an anonymous user has none).

    Also an ``ObjectDoesNotExist``, so ``except ObjectDoesNotExist`` and Django's
    ``get_object_or_404``-style handling keep working.
    """


class SyncAlreadyRunning(DjangoPodioError):
    """Another sync of the same app holds its lease: one sync per app at a time.

    Not a failure: the running sync brings the cache up to date. A sync whose worker died
    leaves a lease that expires (``PODIO["SYNC_LEASE"]`` seconds), after which the next
    sync resumes from the dead one's checkpoint.
    """

    def __init__(self, app_id: int, until: object = None) -> None:
        self.app_id = app_id
        self.until = until
        super().__init__(f"A sync of app {app_id} is already running")
