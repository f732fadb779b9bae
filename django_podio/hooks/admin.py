"""Hooks and their events in the admin: read-only state, "verify again" and "replay" actions.

The URL secret is never shown (only its digest is stored, and that is excluded too), nor a
``hook.verify`` code.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.utils.translation import gettext

from ..exceptions import DjangoPodioError
from ..models import PodioHook, PodioHookEvent
from .owner import with_app_client
from .process import process_event
from .register import request_verification


class _ReadOnly(admin.ModelAdmin):
    """No row is edited here; acting on rows (the actions) needs the model's change right.

    ``has_change_permission`` stays ``False`` so the change form is a view page and a POST to
    it is refused; the actions ask :meth:`has_act_permission` instead, which is the user's
    real ``change`` permission on the model.
    """

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_act_permission(self, request: Any) -> bool:
        opts = self.opts
        codename = get_permission_codename("change", opts)
        return bool(request.user.has_perm(f"{opts.app_label}.{codename}"))


def _ask_again(client: Any, *, hook: PodioHook) -> None:
    request_verification(client, hook)


@admin.register(PodioHook)
class PodioHookAdmin(_ReadOnly):
    list_display = (
        "hook_id",
        "app_id",
        "event_type",
        "status",
        "orphaned_at",
        "verified_at",
        "last_error",
    )
    list_filter = ("status", "event_type")
    search_fields = ("=hook_id", "=app_id")
    exclude = ("secret_hash",)
    readonly_fields = tuple(
        f.name for f in PodioHook._meta.fields if f.name not in ("id", "secret_hash")
    )
    actions = ("verify_again",)

    @admin.action(description="Ask Podio to verify again", permissions=["act"])
    def verify_again(self, request: Any, queryset: Any) -> None:
        asked, failed = 0, []
        for hook in queryset.select_related("connection"):
            if hook.hook_id is None:
                failed.append(gettext("hook %(pk)s: no Podio id") % {"pk": hook.pk})
                continue
            try:
                with_app_client(
                    hook.app_id,
                    functools.partial(_ask_again, hook=hook),
                    preferred=hook.connection,
                )
                asked += 1
            except DjangoPodioError as error:
                failed.append(f"hook {hook.hook_id}: {error}")
        self.message_user(request, f"{asked} hooks asked to verify again", messages.SUCCESS)
        for text in failed:
            self.message_user(request, text, messages.ERROR)


@admin.register(PodioHookEvent)
class PodioHookEventAdmin(_ReadOnly):
    list_display = (
        "pk",
        "type",
        "app_id",
        "item_id",
        "revision",
        "status",
        "attempts",
        "received_at",
        "processed_at",
        "duplicate_of",
    )
    list_filter = ("status", "type")
    search_fields = ("=item_id", "=app_id", "=hook__hook_id")
    date_hierarchy = "received_at"
    ordering = ("-received_at",)
    exclude = ("code", "claimed_by")
    readonly_fields = tuple(
        f.name for f in PodioHookEvent._meta.fields if f.name not in ("id", "code", "claimed_by")
    )
    list_select_related = ("hook",)
    actions = ("replay",)

    def get_queryset(self, request: Any) -> Any:
        # Never decrypt verification codes to draw a page.
        return super().get_queryset(request).defer("code")

    @admin.action(description="Replay (process again)", permissions=["act"])
    def replay(self, request: Any, queryset: Any) -> None:
        chosen = queryset.filter(duplicate_of__isnull=True).exclude(
            status=PodioHookEvent.Status.PROCESSING
        )
        chosen = chosen.exclude(type="hook.verify", status=PodioHookEvent.Status.DONE)
        pks = list(chosen.values_list("pk", flat=True))
        PodioHookEvent.objects.filter(pk__in=pks).update(
            status=PodioHookEvent.Status.PENDING, next_attempt_at=None
        )
        done = failed = 0
        for pk in pks:
            report = process_event(pk, force=True)
            done += report.done
            failed += report.failed
        level = messages.SUCCESS if not failed else messages.WARNING
        self.message_user(request, f"{done} events done, {failed} failed", level)
