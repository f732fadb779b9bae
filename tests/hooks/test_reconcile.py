"""``podio_hooks sync`` reconciles with Podio's list, and ``hook.verify`` is idempotent: the
fake Podio creates the hooks and posts to a live server (issue 16)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from django_podio.hooks.secret import hook_url, new_secret
from django_podio.models import PodioHook, PodioHookEvent, PodioItem

from .conftest import SHARED_CONNECTION, wait_until
from .test_end_to_end import active_hooks, run, settled, sync

Status = PodioHookEvent.Status


def ours_at_podio(site) -> dict[str, list]:
    """Podio's hooks of the app by type (every one points at the live server)."""
    found: dict[str, list] = {}
    for hook in site.fake.hooks_of("app", site.app.app_id):
        found.setdefault(hook.type, []).append(hook)
    return found


def known_here(site) -> bool:
    listing = json.loads(run("list", str(site.app.app_id), "--json"))
    return bool(listing["podio"]) and all(p["known"] for p in listing["podio"])


def test_hook_verify_delivered_twice_leaves_the_hook_active(site):
    site.fake.hook_delivery.twice = True
    report = sync(site)
    assert len(report["created"]) == 3
    wait_until(lambda: settled(site), what="both deliveries processed")
    verifies = PodioHookEvent.objects.filter(type="hook.verify")
    assert verifies.count() == 6  # each challenge stored twice
    assert set(PodioHook.objects.values_list("status", flat=True)) == {PodioHook.Status.ACTIVE}
    assert len(active_hooks(site)) == 3
    again = sync(site)
    assert again["created"] == [] and len(site.fake.hooks) == 3  # no duplicate hook


def test_a_create_whose_answer_timed_out_is_adopted_by_the_next_sync(site, podio_settings):
    podio_settings(TIMEOUT=(2, 0.5))
    site.fake.timeout_fault_seconds = 1.5
    path = f"/hook/app/{site.app.app_id}/"
    site.fake.add_fault("timeout_after", path=path, method="POST")
    with pytest.raises(CommandError, match=r"item\.create"):
        sync(site, "--events", "item.create")
    assert len(ours_at_podio(site)["item.create"]) == 1  # Podio created it all the same
    report = sync(site, "--events", "item.create")
    assert report["created"] == [] and report["ok"]
    wait_until(lambda: settled(site))
    assert len(ours_at_podio(site)["item.create"]) == 1  # adopted, not created twice
    wait_until(lambda: len(active_hooks(site)) == 1, what="hook verified")
    hook = PodioHook.objects.get(event_type="item.create")
    assert hook.hook_id == ours_at_podio(site)["item.create"][0].hook_id
    assert known_here(site)


def test_a_fresh_database_adopts_or_removes_the_old_databases_hooks(site):
    sync(site)
    wait_until(lambda: len(active_hooks(site)) == 3, what="hooks verified")
    wait_until(lambda: settled(site))
    # A second hook of one type at our URL (a crashed create), then the database is replaced.
    with site.fake.held_deliveries():
        site.fake.create_hook("app", site.app.app_id, hook_url(new_secret()), "item.update")
    wait_until(lambda: settled(site))
    with SHARED_CONNECTION:
        PodioHookEvent.objects.all().delete()
        PodioHook.objects.all().delete()
    assert not known_here(site)
    dry = sync(site, "--dry-run")
    assert dry["dry_run"] and any("would delete" in a for a in dry["actions"])
    assert len(site.fake.hooks) == 4 and not PodioHook.objects.exists()  # nothing done
    report = sync(site)
    assert len(report["adopted"]) == 3 and len(report["deleted"]) == 1 and report["ok"]
    by_type = ours_at_podio(site)
    assert sorted(by_type) == ["item.create", "item.delete", "item.update"]
    assert all(len(hooks) == 1 and hooks[0].status == "active" for hooks in by_type.values())
    assert known_here(site)
    # The adopted hooks deliver again: a change reaches the cache.
    wait_until(lambda: settled(site))
    before = len(site.fake.deliveries)
    item_id = site.fake.add_item(site.app.app_id, fields={"title": "After"})["item_id"]
    wait_until(lambda: PodioItem.objects.filter(item_id=item_id).exists(), what="cache row")
    wait_until(lambda: settled(site))
    assert [d.status for d in site.fake.deliveries[before:]] == [202]  # one hook, no 404


def test_list_shows_podios_side(site):
    sync(site, "--events", "item.create")
    wait_until(lambda: settled(site))
    out = StringIO()
    with SHARED_CONNECTION:
        call_command("podio_hooks", "list", str(site.app.app_id), stdout=out)
    text = out.getvalue()
    assert "Podio's side:" in text and "item.create" in text
    assert "/podio/hooks/" not in text.split("Podio's side:")[1]  # no URL (it holds the secret)
