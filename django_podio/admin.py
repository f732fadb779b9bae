"""Connections in the admin: state only; tokens are never shown, searched or editable."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages

from . import tokens
from .models import PodioConnection, PodioItem

SECRET_FIELDS = ("access_token", "refresh_token", "app_token")


@admin.register(PodioConnection)
class PodioConnectionAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "user",
        "kind",
        "status",
        "expires_at",
        "last_refreshed_at",
        "failure_count",
    )
    list_filter = ("kind", "status")
    search_fields = ("user__username", "user__email", "app_id", "ref_id")
    list_select_related = ("user",)
    actions = ("refresh_now",)
    exclude = SECRET_FIELDS
    readonly_fields = (
        "kind",
        "user",
        "social_account",
        "app_id",
        "ref_type",
        "ref_id",
        "has_refresh_token",
        "expires_at",
        "scope",
        "status",
        "last_refreshed_at",
        "failure_count",
        "last_error",
        "created_at",
        "updated_at",
    )

    def get_queryset(self, request: Any) -> Any:
        # Listing state must not decrypt (or fail to decrypt) every secret on the page.
        return super().get_queryset(request).defer("access_token", "app_token")

    def has_add_permission(self, request: Any) -> bool:
        return False

    @admin.action(description="Refresh the Podio tokens now")
    def refresh_now(self, request: Any, queryset: Any) -> None:
        outcomes: dict[str, int] = {}
        for pk in queryset.values_list("pk", flat=True):
            result = tokens.refresh_connection(pk, margin=10**9)
            outcomes[result.outcome.value] = outcomes.get(result.outcome.value, 0) + 1
        summary = ", ".join(f"{count} {name}" for name, count in sorted(outcomes.items()))
        ok = set(outcomes) <= {"refreshed", "already_fresh", "skipped"}
        self.message_user(
            request, summary or "nothing selected", messages.SUCCESS if ok else messages.WARNING
        )

    @admin.display(boolean=True, description="Refresh token stored")
    def has_refresh_token(self, obj: PodioConnection) -> bool:
        return bool(obj.refresh_token)


@admin.register(PodioItem)
class PodioItemAdmin(admin.ModelAdmin):
    """The cache is a copy of Podio: editing it here would be overwritten by the next sync."""

    list_display = ("item_id", "title", "app_id", "app_item_id", "revision", "last_event_on")
    list_filter = ("app_id",)
    search_fields = ("title", "external_id", "=item_id")
    date_hierarchy = "last_event_on"
    ordering = ("-item_id",)
    readonly_fields = tuple(f.name for f in PodioItem._meta.fields if f.name != "id")

    def get_queryset(self, request: Any) -> Any:
        # The list never shows the item JSON: do not load it for every row of a page.
        queryset = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and (match.url_name or "").endswith("_changelist"):
            return queryset.defer("data")
        return queryset

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False
