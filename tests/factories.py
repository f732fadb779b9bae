"""Small helpers to create rows the way the package itself would."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from django_podio.api import oauth
from django_podio.conf import AppCredentials
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


def podio_user_connection(fake, username: str, *, expires_in: float) -> PodioConnection:
    """A user with a real token pair from the fake Podio (a password grant), as a login leaves
    it; ``expires_in`` seconds from now (negative: already due)."""
    mail = f"{username}@example.com"
    fake.add_user(mail=mail, name=username.title(), password="pw")
    token = oauth.password(
        mail, "pw", credentials=AppCredentials(fake.client_id, fake.client_secret)
    )
    return PodioConnection.objects.create(
        user=get_user_model().objects.create_user(username),
        access_token=token.access_token,
        refresh_token=token.refresh_token,
        expires_at=timezone.now() + timedelta(seconds=expires_in),
        ref_type="user",
        ref_id=token.ref_id,
    )
