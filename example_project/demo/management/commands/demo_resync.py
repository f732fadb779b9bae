"""Bring what the demo's database holds from an earlier fake Podio in line with this one.

``make demo`` keeps its database but starts a fresh fake Podio every time: hooks, webhook
events, cached items (their revisions) and the app's tokens in the database belong to the
fake of the previous run. Left as they were, "Edit the newest item in Podio" stopped working
after a restart (the new fake's revisions restart, so the cache took the edit for one it had
already seen). scripts/demo.py runs this once the site answers (the fake verifies new hooks
by calling the site), with the fake's apps in ``$DEMO_FAKE_APPS`` (``APP_ID=APP_TOKEN,...``,
from the fake's banner; the environment, not argv, which ``ps`` shows to everyone). For each
of those apps that the database knows:

* its app connection is stored again with the new fake's app token;
* its stored webhook events and hooks are dropped (the fake has none of them), and the hooks
  are registered again with the same event types, through the app connection;
* its cached items are dropped and fetched again in full, if it had any.

Users' own connections stay: their tokens mean nothing to the new fake, and the dashboard says
so and offers to reconnect, as it would after a real Podio revoked them.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_podio import hooks, items, tokens
from django_podio.models import PodioHook, PodioHookEvent, PodioItem, PodioItemSync


def fake_apps(text: str) -> dict[int, str]:
    apps = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        app_id, _, token = pair.partition("=")
        if not app_id.isdigit() or not token:
            raise CommandError(f"$DEMO_FAKE_APPS: expected APP_ID=APP_TOKEN, not {pair!r}")
        apps[int(app_id)] = token
    return apps


class Command(BaseCommand):
    help = "Re-sync hooks, cached items and app tokens with a freshly started fake Podio."

    def handle(self, *args: Any, **options: Any) -> None:
        for app_id, app_token in fake_apps(os.environ.get("DEMO_FAKE_APPS", "")).items():
            events = sorted(
                set(PodioHook.objects.filter(app_id=app_id).values_list("event_type", flat=True))
            )
            cached = PodioItem.objects.filter(app_id=app_id).exists()
            PodioHookEvent.objects.filter(hook__app_id=app_id).delete()
            PodioHook.objects.filter(app_id=app_id).delete()
            if not (events or cached):
                continue  # nothing of this app was kept: nothing to bring in line
            connection = tokens.store_app_connection(app_id, app_token)
            with tokens.get_client(connection=connection) as client:
                if events:
                    report = hooks.sync_hooks(client, connection, app_id, events)
                    if not report.ok:
                        raise CommandError(f"app {app_id}: {'; '.join(report.errors)}")
                if cached:
                    PodioItem.objects.filter(app_id=app_id).delete()
                    PodioItemSync.objects.filter(app_id=app_id).delete()
                    fetched = items.fetch_items(client, app_id, store=True)
                    if fetched.error:
                        raise CommandError(f"app {app_id}: {fetched.error}")
            self.stdout.write(
                f"app {app_id}: re-synced with this fake Podio "
                f"({len(events)} hooks, {'items cached again' if cached else 'no cache'})"
            )
