"""Hook secrets (the URL secret, Podio's verification codes) and hook URLs leak nowhere."""

from __future__ import annotations

import json
import logging
from io import StringIO
from urllib.parse import urlsplit

import pytest
import requests
from django.core.management import call_command

from django_podio.models import PodioHook, PodioHookEvent

from ..scan import database_dump, find_leaks
from .conftest import SHARED_CONNECTION, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> str:
    out, err = StringIO(), StringIO()
    with SHARED_CONNECTION:
        call_command("podio_hooks", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_no_hook_secret_or_url_in_database_logs_admin_or_output(site, caplog, admin_user):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    fake, app = site.fake, site.app
    outputs = []
    with fake.held_deliveries():
        outputs.append(run("sync", str(app.app_id), "--app"))
    wait_until(lambda: PodioHook.objects.filter(status="active").count() == 3)
    item_id = fake.add_item(app.app_id, fields={"title": "v0"})["item_id"]
    fake.update_item(item_id, {"title": "v1"})
    fake.add_fault("500", path=f"/item/{item_id}")
    fake.update_item(item_id, {"title": "v2"})
    wait_until(lambda: fake.wait_for_deliveries(0))
    wait_until(lambda: not PodioHookEvent.objects.filter(status__in=["pending", "processing"]))
    hook = PodioHook.objects.order_by("pk").first()
    # A second challenge, and deliveries that fail in the view (all with the real secret).
    with fake.held_deliveries():
        outputs.append(run("verify", str(hook.hook_id)))
    wait_until(lambda: PodioHook.objects.get(pk=hook.pk).status == "active")
    real_url = fake.hooks[hook.hook_id].url
    for bad in (
        requests.get(real_url, timeout=10),
        requests.post(real_url, json={"type": "x"}, timeout=10),
        requests.post(real_url, data={"type": "item.update", "hook_id": "1"}, timeout=10),
    ):
        assert 400 <= bad.status_code < 500
    for args in (["list"], ["list", "--json"], ["process", "--json"], ["replay", "--failed"]):
        outputs.append(run(*args))
    outputs.append(run("sync", str(app.app_id), "--app", "--json"))

    from django.test import Client

    admin = Client()
    admin.force_login(admin_user)
    pages = []
    with SHARED_CONNECTION:
        for path in ("podiohook", "podiohookevent"):
            pages.append(admin.get(f"/admin/django_podio/{path}/").content.decode())
        pages.append(admin.get(f"/admin/django_podio/podiohook/{hook.pk}/change/").content.decode())
        for event in PodioHookEvent.objects.all():
            page = admin.get(f"/admin/django_podio/podiohookevent/{event.pk}/change/")
            pages.append(page.content.decode())
        dump = database_dump()

    url_secrets = {urlsplit(h.url).path.strip("/").split("/")[-1] for h in fake.hooks.values()}
    assert len(url_secrets) == 3 and all(len(s) >= 32 for s in url_secrets)
    codes = fake.hook_secrets()
    assert len(codes) >= 4  # three challenges and the repeated one
    secrets = (
        fake.issued_secrets() | url_secrets | {urlsplit(h.url).path for h in fake.hooks.values()}
    )
    assert codes <= secrets
    # The test's own requests (it plays Podio and an attacker) are logged by its urllib3 with
    # the URL it called; everything else, the package's and Django's lines included, counts.
    ours = [
        r
        for r in caplog.records
        if not (r.name.startswith("urllib3") and urlsplit(site.url).netloc in r.getMessage())
    ]
    logs = "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in ours)
    leaks = find_leaks(
        secrets,
        database=dump,
        logs=logs,
        admin="\n".join(pages),
        command="\n".join(outputs),
    )
    assert leaks == {}
    # The scan saw real material: events in the admin, requests in the logs, rows in the dump.
    assert "item.update" in "\n".join(pages) and "/hook/app/" in logs
    assert "gAAAAA" in dump or not PodioHookEvent.objects.exclude(code=None).exists()
    assert json.loads(outputs[3])["hooks"][0]["url"].endswith("/podio/hooks/****/")
