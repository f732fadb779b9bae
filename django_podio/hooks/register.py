"""Registering hooks with Podio: reconcile with Podio's list, create, delete, re-verify.

The hook's row (with its secret's digest) is committed *before* Podio is asked to create the
hook, because Podio sends ``hook.verify`` right away and the view must find the hook then.
Run these outside any transaction (commands are).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any, cast

from django.utils import timezone

from ..api.client import PodioClient
from ..exceptions import DjangoPodioError, Gone, NotFound, PodioConnectionError, ServerError
from ..models import PodioConnection, PodioHook
from .owner import adopt
from .secret import SECRET_SHAPE, base_url, digest, hook_url, new_secret

DEFAULT_EVENTS = ("item.create", "item.update", "item.delete")


@dataclass
class SyncReport:
    app_id: int
    created: list[int] = field(default_factory=list)
    existing: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)  # rows whose hook Podio no longer has
    #: Hooks at Podio pointing at our URL that no row here knew (a timed-out create, an
    #: earlier database): taken over, or deleted at Podio when one of their type is kept.
    adopted: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    rehomed: int = 0  # hooks whose connection was gone, given to this sync's connection
    dry_run: bool = False
    #: What was done, or with ``dry_run`` what would be done, one line an action.
    actions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


#: A ``creating`` row without a hook id older than this is a create that never reached Podio.
STALE_CREATE = timedelta(minutes=10)


def _url_secret(url: str) -> str | None:
    """The secret in a hook URL of ours (``WEBHOOK_BASE_URL`` + our path), else None."""
    marker = "x" * 32
    prefix, _, suffix = hook_url(marker).partition(marker)
    if not url.startswith(prefix) or not url.endswith(suffix) or len(url) <= len(prefix):
        return None
    secret = url[len(prefix) : len(url) - len(suffix)] if suffix else url[len(prefix) :]
    return secret if SECRET_SHAPE.fullmatch(secret) else None


def podio_hooks(client: PodioClient, app_id: int) -> list[dict[str, Any]]:
    """The app's hooks at Podio (``GET /hook/app/{id}/``), each with ``ours`` (it points at
    our ``WEBHOOK_BASE_URL``) and ``known`` (a row here has its secret); never a URL."""
    listed = client.get(f"/hook/app/{int(app_id)}/") or []
    out = []
    for hook in listed:
        secret = _url_secret(str(hook.get("url") or ""))
        known = secret is not None and PodioHook.objects.filter(secret_hash=digest(secret)).exists()
        out.append(
            {
                "hook_id": int(hook["hook_id"]),
                "type": hook.get("type"),
                "status": hook.get("status"),
                "ours": secret is not None,
                "known": known,
            }
        )
    return out


def sync_hooks(
    client: PodioClient,
    connection: PodioConnection,
    app_id: int,
    events: Sequence[str] = DEFAULT_EVENTS,
    *,
    dry_run: bool = False,
) -> SyncReport:
    """Reconcile the app's hooks with Podio: afterwards Podio holds exactly one hook per event
    type pointing at our site, and a row here knows it (idempotent).

    Podio's list is the truth. A row whose hook Podio no longer has is removed (its events
    stay: they belong to the app). A hook at our URL that no row knows (a create whose answer
    was lost, a database that was replaced) is adopted: Podio gives its URL back, and the URL
    holds the secret, so its deliveries authenticate again. Of several of one type the best
    is kept (active first, then known) and the rest are deleted at Podio. A type with none is
    created. Hooks whose connection is gone are given to ``connection`` (re-homed).
    """
    base_url()  # fail on a missing WEBHOOK_BASE_URL before anything is created
    report = SyncReport(app_id=app_id, dry_run=dry_run)

    def act(line: str) -> bool:
        report.actions.append(("would " if dry_run else "") + line)
        return not dry_run

    podio = {int(h["hook_id"]): h for h in client.get(f"/hook/app/{int(app_id)}/") or []}
    moved = 0 if dry_run else adopt(app_id, connection)
    if moved:
        report.rehomed = moved
        act(f"re-home {moved} hooks to connection {connection.pk}")
    for event_type in events:
        try:
            _sync_type(client, connection, app_id, event_type, podio, report, act)
        except DjangoPodioError as error:
            report.errors.append(f"{event_type}: {error}")
    return report


def _sync_type(
    client: PodioClient,
    connection: PodioConnection,
    app_id: int,
    event_type: str,
    podio: dict[int, dict[str, Any]],
    report: SyncReport,
    act: Callable[[str], bool],
) -> None:
    rows = PodioHook.objects.filter(app_id=app_id, event_type=event_type)
    # Rows here whose hook Podio no longer has (or never got: an old unanswered create).
    for stale in rows.order_by("pk"):
        gone = stale.hook_id is not None and stale.hook_id not in podio
        lost = stale.hook_id is None and stale.created_at < timezone.now() - STALE_CREATE
        if not (gone or lost):
            continue
        report.removed.append(stale.pk)
        if act(f"remove row {stale.pk} (hook {stale.hook_id} not at Podio)"):
            stale.delete()
    # Podio's hooks of this type at our URL, each with its row here (None: unknown).
    ours: list[tuple[dict[str, Any], PodioHook | None, str]] = []
    for hook_id, listed in podio.items():
        secret = _url_secret(str(listed.get("url") or ""))
        if listed.get("type") != event_type or secret is None:
            continue
        row = PodioHook.objects.filter(secret_hash=digest(secret)).first()
        if row is None:
            row = PodioHook.objects.filter(hook_id=hook_id).first()
        ours.append((listed, row, secret))
    # Keep the best one: active at Podio, then known here, then the oldest.
    ours.sort(
        key=lambda entry: (
            entry[0].get("status") != "active",
            entry[1] is None,
            int(entry[0]["hook_id"]),
        )
    )
    if not ours:
        if act(f"create a {event_type} hook"):
            made = create_hook(client, connection, app_id, event_type)
            report.created.append(cast(int, made.hook_id))  # stored before create_hook returns
        return
    (kept, row, secret), extra = ours[0], ours[1:]
    hook_id = int(kept["hook_id"])
    active = kept.get("status") == "active"
    if row is None:
        if act(f"adopt hook {hook_id} ({event_type}, {kept.get('status')}) found at Podio"):
            PodioHook.objects.create(
                hook_id=hook_id,
                app_id=app_id,
                connection=connection,
                event_type=event_type,
                secret_hash=digest(secret),
                status=PodioHook.Status.ACTIVE if active else PodioHook.Status.PENDING,
            )
        report.adopted.append(hook_id)
    else:
        if row.hook_id is None and act(f"adopt hook {hook_id} (its create was not answered)"):
            PodioHook.objects.filter(pk=row.pk, hook_id__isnull=True).update(hook_id=hook_id)
            report.adopted.append(hook_id)
        elif row.hook_id is not None:
            report.existing.append(hook_id)
        if active and row.status != PodioHook.Status.ACTIVE and act(f"mark {hook_id} active"):
            PodioHook.objects.filter(pk=row.pk).update(status=PodioHook.Status.ACTIVE)
    stuck = row is None or row.status == PodioHook.Status.FAILED
    if not active and stuck and act(f"ask Podio to verify hook {hook_id} again"):
        client.post(f"/hook/{hook_id}/verify/request")
    for other, extra_row, _secret in extra:
        extra_id = int(other["hook_id"])
        if act(f"delete hook {extra_id} ({event_type}): one of its type is kept"):
            with contextlib.suppress(NotFound, Gone):
                client.delete(f"/hook/{extra_id}")
            if extra_row is not None:
                extra_row.delete()
        report.deleted.append(extra_id)


def create_hook(
    client: PodioClient, connection: PodioConnection, app_id: int, event_type: str
) -> PodioHook:
    """Register a hook: its row first (the ``hook.verify`` arrives at once), then Podio.

    When the answer is lost after Podio may have created the hook (a timeout, a 5xx, a
    dropped connection), the row stays ``creating``: the hook's ``hook.verify`` finds it, and
    the next :func:`sync_hooks` adopts Podio's hook by its URL. A refusal removes the row.
    """
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
    except (PodioConnectionError, ServerError):
        raise  # ambiguous: Podio may hold the hook; keep the row to recognize it by
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
