"""The demo's live edit: an edit in (fake) Podio reaches the dashboard's cached list by webhook."""

from __future__ import annotations

import sys
from io import StringIO
from pathlib import Path

from django.core.management import call_command

from django_podio import get_client, items
from django_podio.models import PodioConnection, PodioHook, PodioItem

from ..conftest import login_with_podio
from .conftest import SHARED_CONNECTION, wait_until

EXAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "example_project"


def test_edit_in_podio_updates_the_cached_list_without_a_sync(site, client, settings, monkeypatch):
    fake = site.fake
    monkeypatch.syspath_prepend(str(EXAMPLE_PROJECT))
    sys.modules.pop("demo.urls", None)
    settings.ROOT_URLCONF = "demo.urls"
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [str(EXAMPLE_PROJECT / "demo" / "templates")]}
    ]
    settings.LOGIN_URL = "/"
    settings.TIME_ZONE = "UTC"
    demo = fake.seed_demo(items=30)
    app_id = demo["app_id"]
    with SHARED_CONNECTION:
        login_with_podio(client)
        user = PodioConnection.objects.get(kind="user").user
        assert not items.fetch_items(get_client(user), app_id, store=True).error
        with fake.held_deliveries():  # registered as the view would, but before it runs
            call_command(
                "podio_hooks",
                "sync",
                str(app_id),
                "--user",
                user.get_username(),
                "--events",
                "item.update",
                stdout=StringIO(),
            )
    wait_until(lambda: PodioHook.objects.filter(app_id=app_id, status="active").exists())
    newest = PodioItem.objects.filter(app_id=app_id).order_by("-item_id").first()

    from demo import live_edit

    wait = live_edit._wait
    monkeypatch.setattr(
        live_edit, "_wait", lambda check, seconds=5.0: wait(lambda: _locked(check), seconds)
    )
    fake.reset_log()
    page = client.post("/dashboard/edit-in-podio/", {"app_id": app_id}, follow=True)
    html = page.content.decode()
    assert "its webhook brought revision" in html, html[:2000]
    fresh = PodioItem.objects.get(item_id=newest.item_id)
    assert fresh.revision == newest.revision + 1 and "(edited" in fresh.title
    assert fresh.title in html and "read from the local cache" in html
    assert fake.requests_to(f"/item/app/{app_id}/filter") == []  # no sync ran
    assert len(fake.requests_to(f"/item/{newest.item_id}", "GET")) == 1  # the webhook's refetch


def _locked(check):
    with SHARED_CONNECTION:
        return check()
