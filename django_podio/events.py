"""Authentication events for operators: one logger, stable names, never a secret.

Podio's own advice is to log authentication events and never the tokens. Every event goes to
the ``django_podio.auth`` logger with a stable ``podio_event`` name in the record's ``extra``
(so a JSON log formatter or a log filter can key on it) and ids only: connection, user, and
the Podio identity (``user:123`` / ``app:456``).
"""

from __future__ import annotations

import logging
from typing import Any

from .redaction import get_logger

__all__ = ["AUTH_LOGGER", "EVENTS", "auth_event"]

#: The logger every authentication event goes to.
AUTH_LOGGER = "django_podio.auth"

#: The event names, stable across releases (documented in the security model).
EVENTS = frozenset(
    {
        "login",
        "connect",
        "disconnect",
        "refresh",
        "refresh_failed",
        "token_lost",
        "reauth_required",
        "app_auth",
        "key_rotation",
        "undecryptable",
    }
)

logger = get_logger(AUTH_LOGGER)


def auth_event(
    name: str,
    *,
    connection: Any = None,
    user: Any = None,
    level: int = logging.INFO,
    **fields: Any,
) -> None:
    """Log one authentication event; ``fields`` must be ids, counts or error *kinds* only."""
    if name not in EVENTS:
        raise ValueError(f"Unknown authentication event {name!r}")
    connection_id = getattr(connection, "pk", None)
    user_id = getattr(user, "pk", None)
    if user_id is None and connection is not None:
        user_id = getattr(connection, "user_id", None)
    podio_ref = None
    if connection is not None and getattr(connection, "ref_id", None) is not None:
        podio_ref = f"{connection.ref_type or connection.kind}:{connection.ref_id}"
    extra = {
        "podio_event": name,
        "connection_id": connection_id,
        "user_id": user_id,
        "podio_ref": podio_ref,
        **{f"podio_{key}": value for key, value in fields.items()},
    }
    details = " ".join(f"{key}={value}" for key, value in fields.items() if value is not None)
    logger.log(
        level,
        "podio.%s connection=%s user=%s podio=%s%s",
        name,
        connection_id,
        user_id,
        podio_ref,
        f" {details}" if details else "",
        extra=extra,
    )
