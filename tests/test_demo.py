"""The demo site's dashboard without a browser: items come from the cache once it has them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from django_podio import get_client, items
from django_podio.models import PodioConnection

from .conftest import login_with_podio

EXAMPLE_PROJECT = Path(__file__).resolve().parents[1] / "example_project"
pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, fake, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE_PROJECT))
    sys.modules.pop("demo.urls", None)
    settings.ROOT_URLCONF = "demo.urls"
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [str(EXAMPLE_PROJECT / "demo" / "templates")]}
    ]
    return fake.seed_demo(items=30)


def test_dashboard_lists_items_live_then_from_the_cache(client, fake, demo):
    login_with_podio(client)
    live = client.get("/dashboard/").content.decode()
    assert "30 items, read from Podio, live" in live
    assert live.count("<tr><td>") == 25

    user = PodioConnection.objects.get().user
    report = items.fetch_items(get_client(user), demo["app_id"], store=True)
    assert report.error is None or report.error == ""
    fake.reset_log()
    cached = client.get("/dashboard/?page=2").content.decode()
    assert "30 items, read from the local cache" in cached
    assert cached.count("<tr><td>") == 5
    assert fake.requests_to("/item/") == []  # served from the cache, not from Podio
