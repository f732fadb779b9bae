"""A fake Podio with an app of every writable field type, and clients for it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.cache import cache

from django_podio.api.client import PodioClient
from django_podio.testing.seed import add_every_type_app


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()  # app definitions of other tests' fakes
    yield
    cache.clear()


@pytest.fixture
def podio(fake, sleeper):
    """The every-type app, an item to refer to, a user's token, and a client with it."""
    fake.rate_limit_general = fake.rate_limit_limited = 10**6
    user = fake.user_by_mail("ada@example.com")
    app = add_every_type_app(fake)
    other = fake.add_item(app.app_id, fields={"title": "Referenced"})
    token = fake._issue(fake.client_id, "user", user.user_id, "global:all")["access_token"]
    client = PodioClient(token, api_url=fake.url, sleep=sleeper)
    yield SimpleNamespace(
        fake=fake, user=user, app=app, other=other["item_id"], token=token, client=client
    )
    client.close()


def requests_made(fake, since: int = 0) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.requests[since:]]
