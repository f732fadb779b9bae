"""Registering hooks with Podio: create what is missing, delete, ask for a new challenge.

The hook's row (with its secret's digest) is committed *before* Podio is asked to create the
hook, because Podio sends ``hook.verify`` right away and the view must find the hook then.
Run these outside any transaction (commands are).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from ..api.client import PodioClient
from ..exceptions import DjangoPodioError, Gone, NotFound
from ..models import PodioConnection, PodioHook
from .secret import base_url, digest, hook_url, new_secret

DEFAULT_EVENTS = ("item.create", "item.update", "item.delete")
LIVE = (PodioHook.Status.CREATING, PodioHook.Status.PENDING, PodioHook.Status.ACTIVE)


@dataclass
class SyncReport:
    app_id: int
    created: list[int] = field(default_factory=list)
    existing: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)  # rows whose hook Podio no longer has
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def sync_hooks(
    client: PodioClient,
    connection: PodioConnection,
    app_id: int,
    events: Sequence[str] = DEFAULT_EVENTS,
) -> SyncReport:
    """Make sure the app has one live hook per event type (idempotent)."""
    base_url()  # fail on a missing WEBHOOK_BASE_URL before anything is created
    report = SyncReport(app_id=app_id)
    podio = {int(h["hook_id"]): h for h in client.get(f"/hook/app/{int(app_id)}/") or []}
    for event_type in events:
        rows = PodioHook.objects.filter(app_id=app_id, event_type=event_type, status__in=LIVE)
        kept: int | None = None  # the hook id of the row that stays
        for row in rows.order_by("pk"):
            if row.hook_id is None or row.hook_id not in podio:
                report.removed.append(row.pk)
                row.delete()
                continue
            if kept is None:
                kept = row.hook_id
                active = podio[row.hook_id].get("status") == "active"
                if active and row.status != PodioHook.Status.ACTIVE:
                    PodioHook.objects.filter(pk=row.pk).update(status=PodioHook.Status.ACTIVE)
        if kept is not None:
            report.existing.append(kept)
            continue
        try:
            hook = create_hook(client, connection, app_id, event_type)
            report.created.append(cast(int, hook.hook_id))  # stored before create_hook returns
        except DjangoPodioError as error:
            report.errors.append(f"{event_type}: {error}")
    return report


def create_hook(
    client: PodioClient, connection: PodioConnection, app_id: int, event_type: str
) -> PodioHook:
    secret = new_secret()
    hook = PodioHook.objects.create(
        app_id=app_id,
        connection=connection,
        event_type=event_type,
        secret_hash=digest(secret),
        status=PodioHook.Status.CREATING,
    )
    try:
        answer = client.post(
            f"/hook/app/{int(app_id)}/", json={"url": hook_url(secret), "type": event_type}
        )
    except BaseException:
        hook.delete()  # Podio created nothing: leave no row that looks like a hook
        raise
    hook_id = int(answer["hook_id"])
    PodioHook.objects.filter(pk=hook.pk).update(hook_id=hook_id)
    PodioHook.objects.filter(pk=hook.pk, status=PodioHook.Status.CREATING).update(
        status=PodioHook.Status.PENDING
    )
    hook.refresh_from_db()
    return hook


def delete_hook(client: PodioClient, hook: PodioHook) -> None:
    """Delete the hook in Podio (already gone is fine) and here."""
    if hook.hook_id is not None:
        with contextlib.suppress(NotFound, Gone):
            client.delete(f"/hook/{hook.hook_id}")
    hook.delete()


def request_verification(client: PodioClient, hook: PodioHook) -> None:
    """Ask Podio to send ``hook.verify`` again (the hook is inactive until it is validated)."""
    client.post(f"/hook/{hook.hook_id}/verify/request")
    PodioHook.objects.filter(pk=hook.pk).update(status=PodioHook.Status.PENDING, last_error="")
