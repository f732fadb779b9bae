"""Webhooks end to end: the fake Podio creates hooks and delivers events to a live server."""

from __future__ import annotations

import json
from io import StringIO

import pytest
import requests
from django.core.management import CommandError, call_command

from django_podio import hooks
from django_podio.models import PodioConnection, PodioHook, PodioHookEvent, PodioItem

from .conftest import AFTER_RESPONSE, SHARED_CONNECTION, wait_until

Status = PodioHookEvent.Status


def run(*args: str) -> str:
    out = StringIO()
    with SHARED_CONNECTION:
        call_command("podio_hooks", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def sync(site, *extra: str) -> dict:
    # In-memory SQLite shares one connection between this thread and the live server's
    # (Django's LiveServerThread): Podio's hook.verify must not be processed while this
    # thread writes, so its deliveries wait until the command is done.
    with site.fake.held_deliveries():
        return json.loads(run("sync", str(site.app.app_id), "--app", "--json", *extra))


def active_hooks(site) -> list:
    return [h for h in site.fake.hooks_of("app", site.app.app_id) if h.status == "active"]


def settled(site) -> bool:
    """Every delivery sent and every stored event processed (done or failed)."""
    return (
        site.fake.wait_for_deliveries(0)
        and AFTER_RESPONSE.idle()
        and not PodioHookEvent.objects.filter(
            status__in=[Status.PENDING, Status.PROCESSING]
        ).exists()
    )


@pytest.fixture
def hooked(site):
    report = sync(site)
    assert report["ok"] and len(report["created"]) == 3
    wait_until(lambda: len(active_hooks(site)) == 3, what="hooks verified")
    wait_until(lambda: settled(site))
    site.fake.reset_log()
    return site


def test_sync_creates_verified_hooks_and_is_idempotent(site):
    report = sync(site)
    assert sorted(report["created"]) == sorted(h.hook_id for h in site.fake.hooks.values())
    wait_until(lambda: len(active_hooks(site)) == 3, what="hooks verified")
    wait_until(lambda: PodioHook.objects.filter(status="active").count() == 3)
    assert {h.type for h in active_hooks(site)} == {"item.create", "item.update", "item.delete"}
    assert all(h.url.startswith(site.url + "/podio/hooks/") for h in site.fake.hooks.values())
    # Each verification answered through the hook's own connection, after a 2xx to Podio.
    assert [d.status for d in site.fake.deliveries] == [202, 202, 202]
    assert len(site.fake.requests_to("/hook/", "POST")) == 6  # 3 creates + 3 validates
    again = sync(site)
    assert again["created"] == [] and len(again["existing"]) == 3
    assert len(site.fake.hooks) == 3
    listing = json.loads(run("list", str(site.app.app_id), "--json"))["hooks"]
    assert {h["status"] for h in listing} == {"active"}
    assert all(h["url"].endswith("/podio/hooks/****/") for h in listing)


def test_item_changes_reach_the_cache_and_signals_fire_once_each(hooked, received):
    fake, app = hooked.fake, hooked.app
    created = fake.add_item(app.app_id, fields={"title": "First"})
    item_id = created["item_id"]
    wait_until(lambda: PodioItem.objects.filter(item_id=item_id).exists(), what="cache row")
    fake.update_item(item_id, {"title": "Second"})
    wait_until(lambda: PodioItem.objects.get(item_id=item_id).revision == 1, what="revision 1")
    assert PodioItem.objects.get(item_id=item_id).title == "Second"
    fake.delete_item(item_id)
    wait_until(lambda: not PodioItem.objects.filter(item_id=item_id).exists(), what="deleted")
    wait_until(lambda: settled(hooked))
    assert received.changed == [
        (app.app_id, item_id, "item.create", 0),
        (app.app_id, item_id, "item.update", 1),
    ]
    assert received.deleted == [(app.app_id, item_id)]
    assert received.events == [
        ("item.create", item_id),
        ("item.update", item_id),
        ("item.delete", item_id),
    ]
    gets = fake.requests_to(f"/item/{item_id}", "GET")
    assert len(gets) == 3  # one refetch per event, never the payload
    assert all(g.query.get("mark_as_viewed") == ["false"] for g in gets)


def test_duplicate_and_out_of_order_deliveries(hooked, received):
    fake, app = hooked.fake, hooked.app
    item_id = fake.add_item(app.app_id, fields={"title": "v0"})["item_id"]
    wait_until(lambda: PodioItem.objects.filter(item_id=item_id).exists())
    wait_until(lambda: settled(hooked))
    fake.hook_delivery.twice = True
    with fake.held_deliveries(order="reverse"):
        for n in range(1, 4):
            fake.update_item(item_id, {"title": f"v{n}"})
    wait_until(lambda: settled(hooked))
    row = PodioItem.objects.get(item_id=item_id)
    assert (row.revision, row.title) == (3, "v3")  # Podio's latest, whatever the order
    updates = PodioHookEvent.objects.filter(item_id=item_id, type="item.update")
    assert updates.count() == 6  # every delivery recorded ...
    assert updates.filter(duplicate_of__isnull=False).count() == 3  # ... repeats marked
    assert set(updates.values_list("status", flat=True)) == {Status.DONE}
    # One processing per revision at most: the first refetch already saw v3.
    assert len(fake.requests_to(f"/item/{item_id}", "GET")) <= 3 + 1
    assert [c for c in received.changed if c[2] == "item.update"] == [
        (app.app_id, item_id, "item.update", 3)
    ]
    assert (
        sorted(e for e in received.events if e[0] == "item.update")
        == [("item.update", item_id)] * 3
    )


def test_pending_events_of_one_item_coalesce_into_one_refetch(hooked, received):
    fake, app = hooked.fake, hooked.app
    item_id = fake.add_item(app.app_id, fields={"title": "v0"})["item_id"]
    wait_until(lambda: settled(hooked))
    fake.reset_log()
    # Stored while processing is held back (as when a worker is busy), then drained once.
    from django_podio.hooks import process

    process._draining.acquire()
    try:
        for n in range(1, 6):
            fake.update_item(item_id, {"title": f"v{n}"})
        wait_until(lambda: PodioHookEvent.objects.filter(type="item.update").count() == 5)
        assert fake.wait_for_deliveries(5)
        with SHARED_CONNECTION:
            report = hooks.process_pending()
    finally:
        process._draining.release()
    assert (report.processed, report.refetches) == (5, 1)
    assert PodioItem.objects.get(item_id=item_id).revision == 5
    assert len(fake.requests_to(f"/item/{item_id}", "GET")) == 1


def test_podio_failing_while_processing_leaves_events_failed_then_done(hooked, received):
    fake, app = hooked.fake, hooked.app
    item_id = fake.add_item(app.app_id, fields={"title": "v0"})["item_id"]
    wait_until(lambda: settled(hooked))
    fake.add_fault("503", path=f"/item/{item_id}", count=1)
    fake.update_item(item_id, {"title": "v1"})
    wait_until(lambda: settled(hooked))
    event = PodioHookEvent.objects.get(item_id=item_id, type="item.update")
    assert (event.status, event.attempts) == (Status.FAILED, 1)
    assert "503" in event.last_error and event.next_attempt_at > event.received_at
    assert PodioItem.objects.get(item_id=item_id).revision == 0
    assert hooks.process_pending().processed == 0  # not due yet: backoff

    fake.add_rate_limit(wait_seconds=3600, path=f"/item/{item_id}")
    PodioHookEvent.objects.filter(pk=event.pk).update(next_attempt_at=event.received_at)
    report = hooks.process_pending()
    event.refresh_from_db()
    assert report.failed == 1 and event.attempts == 2 and "RateLimited" in event.last_error
    assert (event.next_attempt_at - event.received_at).total_seconds() >= 3600

    out = json.loads(run("replay", "--failed", "--json"))
    assert out["done"] == 1 and out["refetches"] == 1
    event.refresh_from_db()
    assert event.status == Status.DONE and event.last_error == ""
    assert PodioItem.objects.get(item_id=item_id).revision == 1
    assert [c[3] for c in received.changed if c[1] == item_id] == [0, 1]


def test_revoked_connection_fails_events_and_nothing_is_lost(hooked, received):
    fake, app, connection = hooked.fake, hooked.app, hooked.connection
    # The connection was refused by Podio (reauthorization required) before the edit.
    PodioConnection.objects.filter(pk=connection.pk).update(status="reauth_required")
    item_id = fake.add_item(app.app_id, fields={"title": "v0"})["item_id"]
    wait_until(lambda: settled(hooked))
    event = PodioHookEvent.objects.get(item_id=item_id)
    assert event.status == Status.FAILED and "No active Podio connection" in event.last_error
    assert event.attempts == 0 and PodioHook.objects.filter(orphaned_at__isnull=False).count() == 3
    assert not PodioItem.objects.filter(item_id=item_id).exists()
    # The connection comes back (a new login); once the backoff has passed, processing runs.
    PodioConnection.objects.filter(pk=connection.pk).update(status="active")
    assert json.loads(run("process", "--json"))["processed"] == 0  # not due yet
    PodioHookEvent.objects.filter(pk=event.pk).update(next_attempt_at=event.received_at)
    out = json.loads(run("process", "--json"))
    assert out["done"] == 1, (out, list(PodioHookEvent.objects.values()))
    assert PodioItem.objects.get(item_id=item_id).title == "v0"
    assert received.changed == [(app.app_id, item_id, "item.create", 0)]


def test_failed_verification_is_visible(site):
    sync(site, "--events", "item.create")
    wait_until(lambda: len(active_hooks(site)) == 1)
    wait_until(lambda: settled(site))
    hook = PodioHook.objects.get()
    # Someone posts a wrong code to the hook's URL before Podio's real challenge arrives.
    with site.fake.held_deliveries():
        site.fake.request_hook_verification(hook.hook_id)
        url = site.fake.hooks[hook.hook_id].url
        response = requests.post(
            url, data={"type": "hook.verify", "hook_id": hook.hook_id, "code": "wrong"}, timeout=10
        )
        assert response.status_code == 202
        wait_until(lambda: PodioHook.objects.get().status == PodioHook.Status.FAILED)
        listing = run("list")
        assert "failed" in listing and "Invalid verification code" in listing
    wait_until(lambda: PodioHook.objects.get().status == PodioHook.Status.ACTIVE)  # real one


def test_verify_and_delete_commands(site):
    sync(site, "--events", "item.update")
    wait_until(lambda: len(active_hooks(site)) == 1)
    wait_until(lambda: settled(site))
    hook = PodioHook.objects.get()
    with site.fake.held_deliveries():
        out = json.loads(run("verify", str(hook.hook_id), "--json"))
        assert out == {"hook_id": hook.hook_id, "requested": True, "ok": True}
        assert PodioHook.objects.get().status == PodioHook.Status.PENDING
        assert site.fake.hooks[hook.hook_id].status == "inactive"
    wait_until(lambda: PodioHook.objects.get().status == PodioHook.Status.ACTIVE)
    assert site.fake.hooks[hook.hook_id].status == "active"
    with SHARED_CONNECTION:
        assert "deleted" in run("delete", str(hook.hook_id))
    assert site.fake.hooks == {} and not PodioHook.objects.exists()
    with pytest.raises(CommandError, match="No hook"):
        run("delete", str(hook.hook_id))


def test_sync_recreates_a_hook_deleted_in_podio(site):
    sync(site, "--events", "item.create")
    wait_until(lambda: settled(site) and len(active_hooks(site)) == 1)
    first = PodioHook.objects.get()
    site.fake.delete_hook(first.hook_id)
    report = sync(site, "--events", "item.create")
    assert report["removed"] == [first.pk] and len(report["created"]) == 1
    wait_until(lambda: settled(site) and len(active_hooks(site)) == 1)
    assert PodioHook.objects.get().hook_id == report["created"][0]


def test_sync_needs_a_webhook_base_url(site, podio_settings):
    podio_settings(WEBHOOK_BASE_URL=None)
    with pytest.raises(CommandError, match="WEBHOOK_BASE_URL"):
        run("sync", str(site.app.app_id), "--app")
    assert site.fake.hooks == {} and not PodioHook.objects.exists()


def test_admin_replay_and_verify_again_actions(hooked, admin_user):
    from django.test import Client

    fake, app = hooked.fake, hooked.app
    item_id = fake.add_item(app.app_id, fields={"title": "v0"})["item_id"]
    wait_until(lambda: settled(hooked))
    event = PodioHookEvent.objects.get(item_id=item_id)
    fake.hold_deliveries()  # before the edit: no delivery may race the replay below
    fake.update_item(item_id, {"title": "changed behind our back"})
    admin = Client()
    admin.force_login(admin_user)
    with SHARED_CONNECTION:
        response = admin.post(
            "/admin/django_podio/podiohookevent/",
            {"action": "replay", "_selected_action": [event.pk]},
            follow=True,
        )
    assert b"1 events done, 0 failed" in response.content
    assert PodioItem.objects.get(item_id=item_id).title == "changed behind our back"
    hook = PodioHook.objects.get(event_type="item.update")
    with SHARED_CONNECTION:
        response = admin.post(
            "/admin/django_podio/podiohook/",
            {"action": "verify_again", "_selected_action": [hook.pk]},
            follow=True,
        )
    assert b"1 hooks asked to verify again" in response.content
    assert fake.hooks[hook.hook_id].status == "inactive"
    fake.release_deliveries()
    wait_until(lambda: fake.hooks[hook.hook_id].status == "active")
