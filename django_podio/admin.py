"""Connections in the admin: state only; tokens are never shown, searched or editable."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from .models import PodioConnection

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

    @admin.display(boolean=True, description="Refresh token stored")
    def has_refresh_token(self, obj: PodioConnection) -> bool:
        return bool(obj.refresh_token)
