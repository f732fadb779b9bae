"""The webhook demo: edit an item in Podio and watch the cached list follow, without a sync.

"Edit in Podio" registers the app's ``item.update`` hook (idempotent; Podio verifies it with
this site), then changes the newest cached item's title through Podio's API, as a colleague
would in Podio's UI. Podio then posts ``item.update`` to this site, which stores the event,
refetches the item and updates its ``PodioItem`` row: the dashboard shows the new revision.
"""

from __future__ import annotations

import time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from django_podio import hooks, tokens
from django_podio.exceptions import DjangoPodioError
from django_podio.models import PodioConnection, PodioHook, PodioItem

WAIT_SECONDS = 5.0


def _wait(check, seconds: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@login_required
@require_POST
def edit_in_podio(request: HttpRequest) -> HttpResponse:
    try:
        app_id = int(request.POST.get("app_id", ""))
    except ValueError:
        messages.error(request, "Which app?")
        return redirect("dashboard")
    back = redirect(f"/dashboard/?app={app_id}")
    row = PodioItem.objects.filter(app_id=app_id).order_by("-item_id").first()
    connection = (
        PodioConnection.objects.filter(user=request.user, kind="user").order_by("pk").first()
    )
    if row is None or connection is None:
        messages.error(request, "Cache the app's items first (and connect Podio).")
        return back
    try:
        with tokens.get_client(connection=connection) as client:
            hooks.sync_hooks(client, connection, app_id, ["item.update"])
            if not _wait(
                lambda: PodioHook.objects.filter(
                    app_id=app_id, event_type="item.update", status="active"
                ).exists()
            ):
                messages.error(request, "Podio has not verified the hook yet: try again.")
                return back
            title = f"{row.title.split(' (edited')[0]} (edited {timezone.now():%H:%M:%S})"
            client.put(f"/item/{row.item_id}", json={"fields": {"title": title}})
    except DjangoPodioError as error:
        messages.error(request, f"Podio said no: {error}")
        return back
    if _wait(
        lambda: PodioItem.objects.filter(item_id=row.item_id, revision__gt=row.revision).exists()
    ):
        fresh = PodioItem.objects.get(item_id=row.item_id)
        messages.success(
            request,
            f"Edited in Podio; its webhook brought revision {fresh.revision} of "
            f"“{fresh.title}” into the cache, no sync run.",
        )
    else:
        messages.info(request, "Edited in Podio; the webhook has not arrived yet: reload.")
    return back
