"""Connections in the admin: state only; tokens are never shown, searched or written.

Only ``tokens/`` writes tokens, expiry and status (under the refresh's lease), so the connection
admin is read-only: a form save would write back every column it read, undoing a refresh
committed in between and storing a refresh token Podio has already spent. The admin reads
the secrets' *state* from the stored ciphertext (:mod:`django_podio.census`) without
decrypting, so a row under a lost key is shown as undecryptable and can still be deleted.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from . import status, tokens
from .census import SECRET_COLUMNS, SecretState, row_states, with_raw_secrets
from .exceptions import DecryptionError
from .models import PodioConnection, PodioItem, PodioStatus

SECRET_FIELDS = SECRET_COLUMNS


def _secrets_summary(obj: PodioConnection) -> str:
    states = row_states(obj)
    undecryptable = [c for c, s in states.items() if s is SecretState.UNDECRYPTABLE]
    if undecryptable:
        return gettext("undecryptable: %(columns)s") % {"columns": _column_names(undecryptable)}
    stale = [c for c, s in states.items() if s is SecretState.STALE]
    if stale:
        return gettext("older key: %(columns)s") % {"columns": _column_names(stale)}
    if all(s is SecretState.EMPTY for s in states.values()):
        return gettext("none")
    return gettext("readable")


def _column_names(columns: list[str]) -> str:
    """The secret columns by their (translated) field names, as the admin shows fields."""
    names = {field.name: field.verbose_name for field in PodioConnection._meta.concrete_fields}
    return ", ".join(str(names[column]) for column in columns)


#: How the refresh action reports each outcome (``tokens.Outcome`` values), counted.
OUTCOME_MESSAGES = {
    "refreshed": lambda n: ngettext("%(count)d refreshed", "%(count)d refreshed", n),
    "already_fresh": lambda n: ngettext("%(count)d already fresh", "%(count)d already fresh", n),
    "skipped": lambda n: ngettext("%(count)d skipped", "%(count)d skipped", n),
    "failed": lambda n: ngettext("%(count)d failed", "%(count)d failed", n),
    "reauth_required": lambda n: ngettext(
        "%(count)d needs a new login", "%(count)d need a new login", n
    ),
    "undecryptable": lambda n: ngettext("%(count)d undecryptable", "%(count)d undecryptable", n),
}


@admin.register(PodioConnection)
class PodioConnectionAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "user",
        "kind",
        "status",
        "secrets",
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
        "secrets",
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
        # Every page, the delete confirmation and bulk delete load rows through here: the
        # secrets are deferred (never decrypted) and their ciphertext read as text.
        return with_raw_secrets(super().get_queryset(request))

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        # Read-only: the change form becomes a view page and a POST to it is refused (403).
        return False

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        """Never reached (no change permission); if a subclass allows it, write nothing."""

    def save_related(self, request: Any, form: Any, formsets: Any, change: bool) -> None:
        """Nothing related is edited here either."""

    def has_refresh_permission(self, request: Any) -> bool:
        """``django_podio.refresh_podioconnection``: a refresh spends a grant at Podio."""
        opts = self.opts
        codename = get_permission_codename("refresh", opts)
        return bool(request.user.has_perm(f"{opts.app_label}.{codename}"))

    @admin.action(description=_("Refresh the Podio tokens now"), permissions=["refresh"])
    def refresh_now(self, request: Any, queryset: Any) -> None:
        outcomes: dict[str, int] = {}
        for pk in list(queryset.values_list("pk", flat=True)):
            try:
                result = _refresh(pk)
            except DecryptionError:
                name = "undecryptable"
            else:
                undecryptable = isinstance(getattr(result, "exception", None), DecryptionError)
                name = "undecryptable" if undecryptable else result.outcome.value
            outcomes[name] = outcomes.get(name, 0) + 1
        summary = ", ".join(
            OUTCOME_MESSAGES[name](count) % {"count": count}
            for name, count in sorted(outcomes.items())
        )
        ok = set(outcomes) <= {"refreshed", "already_fresh", "skipped"}
        self.message_user(
            request,
            summary or gettext("Nothing was selected."),
            messages.SUCCESS if ok else messages.WARNING,
        )

    @admin.display(description=_("stored secrets"))
    def secrets(self, obj: PodioConnection) -> str:
        return _secrets_summary(obj)

    @admin.display(boolean=True, description=_("refresh token stored"))
    def has_refresh_token(self, obj: PodioConnection) -> bool:
        return row_states(obj)["refresh_token"] is not SecretState.EMPTY


def _refresh(pk: int) -> Any:
    return tokens.refresh_connection(pk, force=True)


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


def may_view_status(user: Any) -> bool:
    """The status shows connections' states: whoever may view (or change) connections."""
    opts = PodioConnection._meta
    return bool(
        user.is_active
        and user.is_staff
        and (
            user.has_perm(f"{opts.app_label}.{get_permission_codename('view', opts)}")
            or user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")
        )
    )


@admin.register(PodioStatus)
class PodioStatusAdmin(admin.ModelAdmin):
    """The "Podio status" entry of the admin index: :mod:`django_podio.status` as a page.

    A host with its own ``AdminSite`` registers it there too:
    ``site.register(PodioStatus, PodioStatusAdmin)``. Its one URL is the changelist's, so
    the index links to it as to any model.
    """

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return may_view_status(request.user)

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_module_permission(self, request: Any) -> bool:
        return may_view_status(request.user)

    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "",
                self.admin_site.admin_view(self.changelist_view),
                name="{}_{}_changelist".format(*info),
            )
        ]

    def changelist_view(self, request: Any, extra_context: dict[str, Any] | None = None) -> Any:
        if not self.has_view_permission(request):
            raise PermissionDenied
        summary = status.summarize()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Podio status"),
            "subtitle": None,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "summary": summary,
            "report": summary.as_dict(),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/django_podio/status.html", context)


from .hooks import admin as _hooks_admin  # noqa: E402, F401  (hooks and events)
