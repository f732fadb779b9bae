"""Small helpers to create rows the way the package itself would."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from django_podio.models import PodioConnection


def make_user(username: str = "alice"):
    return get_user_model().objects.create_user(username=username, email=f"{username}@example.com")


def make_connection(
    user=None,
    *,
    access="access-token-value",
    refresh="refresh-token-value",
    expires_in: int = 3600,
    **fields,
) -> PodioConnection:
    user = user or make_user()
    return PodioConnection.objects.create(
        user=user,
        kind=PodioConnection.Kind.USER,
        access_token=access,
        refresh_token=refresh,
        expires_at=timezone.now() + timedelta(seconds=expires_in),
        **fields,
    )
