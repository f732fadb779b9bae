"""django-podio: log in with Podio, keep its tokens encrypted and fresh, call its API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api.client import PodioClient
    from .models import PodioConnection

__version__ = "0.1.0"


def get_client(
    user: Any = None,
    *,
    app_id: int | None = None,
    connection: PodioConnection | None = None,
    podio_user_id: int | None = None,
    **client_options: Any,
) -> PodioClient:
    """A :class:`~django_podio.api.client.PodioClient` for a user, an app or a connection.

    Imported lazily so ``import django_podio`` works before Django's app registry is ready.
    """
    from .tokens import get_client as _get_client

    return _get_client(
        user,
        app_id=app_id,
        connection=connection,
        podio_user_id=podio_user_id,
        **client_options,
    )


__all__ = ["__version__", "get_client"]
