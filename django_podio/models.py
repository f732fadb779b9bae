"""``PodioConnection``: one authorized Podio identity (a user's login or an app's credentials).

Only :mod:`django_podio.tokens` writes the token columns.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .fields import EncryptedTextField
from .text import NulFreeJSONEncoder


def cascade_without_nulling(collector: Any, field: Any, sub_objs: Any, using: str) -> None:
    """``on_delete``: delete the rows with their owner, as ``CASCADE``, never nulling them first.

    On a database that cannot defer constraint checks (MariaDB/MySQL), Django's ``CASCADE`` of
    a nullable foreign key sets it to NULL before deleting the rows, and a user connection
    without a user is what ``podio_conn_kind_owner`` refuses. Here the rows are only deleted,
    before their owner (a connection points at its user and social account; nothing points
    back, so no cycle needs the NULL to break it).
    """
    collector.collect(
        sub_objs,
        source=field.remote_field.model,
        source_attr=field.name,
        nullable=False,
        fail_on_restricted=False,
    )


class PodioConnection(models.Model):
    class Kind(models.TextChoices):
        USER = "user", _("User")
        APP = "app", _("App")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        REAUTH_REQUIRED = "reauth_required", _("Reauthorization required")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.USER)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=cascade_without_nulling,
        related_name="podio_connections",
        verbose_name=_("user"),
    )
    social_account = models.OneToOneField(
        "socialaccount.SocialAccount",
        null=True,
        blank=True,
        on_delete=cascade_without_nulling,
        related_name="podio_connection",
        verbose_name=_("social account"),
    )
    app_id = models.BigIntegerField(_("app ID"), null=True, blank=True, unique=True)
    ref_type = models.CharField(_("reference type"), max_length=16, blank=True, default="")
    ref_id = models.BigIntegerField(_("reference ID"), null=True, blank=True)

    access_token = EncryptedTextField(_("access token"))
    refresh_token = EncryptedTextField(_("refresh token"), null=True, blank=True)
    app_token = EncryptedTextField(_("app token"), null=True, blank=True)

    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    scope = models.TextField(_("scope"), blank=True, default="")
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    last_refreshed_at = models.DateTimeField(_("last refreshed at"), null=True, blank=True)
    failure_count = models.PositiveIntegerField(_("failures"), default=0)
    last_error = models.TextField(_("last error"), blank=True, default="")
    #: The time of the last failed refresh, kept after a success (``podio_status`` counts the
    #: failures of the last day, recovered or not; ``failure_count`` says if it still fails).
    last_failed_at = models.DateTimeField(_("last failed at"), null=True, blank=True)
    #: Grows by one each time a new token pair is stored, by a refresh, a login or app auth.
    #: It is the fence that tells a refresh whether the pair it spent is still the stored one.
    token_version = models.PositiveBigIntegerField(_("token version"), default=0, editable=False)
    #: The refresh's lease (``django_podio.db``): who is asking Podio now, and until when.
    lease_owner = models.CharField(
        _("lease owner"), max_length=32, blank=True, default="", editable=False
    )
    lease_expires_at = models.DateTimeField(
        _("lease expires at"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("Podio connection")
        verbose_name_plural = _("Podio connections")
        # Refreshing spends a refresh token at Podio (a grant per row), so it is a right of
        # its own: neither viewing nor changing a row implies it (the admin's refresh_now).
        permissions = [("refresh_podioconnection", "Can refresh Podio connections")]
        indexes = [models.Index(fields=["status", "expires_at"], name="podio_conn_status_expiry")]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="user", user__isnull=False, app_id__isnull=True)
                    | models.Q(kind="app", app_id__isnull=False)
                ),
                name="podio_conn_kind_owner",
            )
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.APP:
            return f"Podio app {self.app_id}"
        return f"Podio user {self.ref_id or '?'} ({self.user})"

    def __repr__(self) -> str:
        # Never the tokens: a repr ends up in tracebacks and debugger output.
        return (
            f"<PodioConnection pk={self.pk} kind={self.kind} status={self.status} "
            f"expires_at={self.expires_at!s}>"
        )

    def expires_within(self, seconds: float, now: datetime | None = None) -> bool:
        if self.expires_at is None:
            return False
        now = now or timezone.now()
        return self.expires_at <= now + timedelta(seconds=seconds)

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class PodioItem(models.Model):
    """A local copy of one Podio item, kept in sync by ``podio_fetch_items --store``.

    The columns are what pages and queries filter or sort by; everything else stays in
    ``data``, the item as Podio returned it (items carry no tokens) but for NUL characters,
    which are dropped from its text (:mod:`django_podio.text`).
    """

    item_id = models.BigIntegerField(_("item ID"), unique=True)
    app_id = models.BigIntegerField(_("app ID"))
    app_item_id = models.BigIntegerField(_("app item ID"), null=True, blank=True)
    external_id = models.TextField(_("external ID"), blank=True, default="")
    title = models.TextField(_("title"), blank=True, default="")
    revision = models.IntegerField(_("revision"), default=0)
    last_event_on = models.DateTimeField(_("last event on"), null=True, blank=True)
    data = models.JSONField(_("data"), encoder=NulFreeJSONEncoder)
    fetched_at = models.DateTimeField(_("fetched at"))

    class Meta:
        verbose_name = _("Podio item")
        verbose_name_plural = _("Podio items")
        indexes = [
            models.Index(fields=["app_id", "last_event_on"], name="podio_item_app_event"),
            models.Index(fields=["app_id", "item_id"], name="podio_item_app_item"),
        ]

    def __str__(self) -> str:
        return self.title or f"Podio item {self.item_id}"


class PodioItemSync(models.Model):
    """Where the item sync of one app stands: the checkpoint an interrupted run resumes from.

    ``run_started_at`` is set while a run is in progress (or was interrupted);
    ``cursor_item_id`` is the highest item id whose batch is committed and ``cursor_count`` how
    many items the run had passed by then (the offset to resume paging at).
    """

    app_id = models.BigIntegerField(_("app ID"), unique=True)
    run_started_at = models.DateTimeField(_("run started at"), null=True, blank=True)
    run_since = models.DateTimeField(_("run since"), null=True, blank=True)
    cursor_item_id = models.BigIntegerField(_("cursor item ID"), null=True, blank=True)
    cursor_count = models.PositiveIntegerField(_("cursor count"), default=0)
    last_run_started_at = models.DateTimeField(_("last run started at"), null=True, blank=True)
    last_run_finished_at = models.DateTimeField(_("last run finished at"), null=True, blank=True)
    last_full_run_finished_at = models.DateTimeField(
        _("last full run finished at"), null=True, blank=True
    )
    #: The running sync's lease (``django_podio.db``): one sync per app, on every database.
    lease_owner = models.CharField(
        _("lease owner"), max_length=32, blank=True, default="", editable=False
    )
    lease_expires_at = models.DateTimeField(
        _("lease expires at"), null=True, blank=True, editable=False
    )
    #: Podio refused the sync with a 420 until then, and its task was enqueued again for
    #: then: a sync task enqueued meanwhile (cron) does not spend another 420.
    deferred_until = models.DateTimeField(
        _("deferred until"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("Podio item sync")
        verbose_name_plural = _("Podio item syncs")

    def __str__(self) -> str:
        return f"Item sync of app {self.app_id}"

    @property
    def in_progress(self) -> bool:
        return self.run_started_at is not None


class PodioHook(models.Model):
    """A Podio webhook we registered: one event type on one app, reached at a secret URL.

    A hook belongs to its app, not to a user: ``connection`` is the one that registered it
    (or took it over), and when it is gone another active connection that can read the app
    does the work (``django_podio.hooks.owner``).

    Podio signs nothing, so the secret in the URL path is the authentication. Only its
    SHA-256 is stored: a 192-bit random secret needs no slow hash, and the database lookup by
    digest leaks nothing about the secret itself.
    """

    class Status(models.TextChoices):
        CREATING = "creating", _("Being created")
        PENDING = "pending", _("Waiting for verification")
        ACTIVE = "active", _("Active")
        FAILED = "failed", _("Verification failed")

    hook_id = models.BigIntegerField(_("hook ID"), null=True, blank=True, unique=True)
    app_id = models.BigIntegerField(_("app ID"))
    connection = models.ForeignKey(
        PodioConnection,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="podio_hooks",
        verbose_name=_("connection"),
    )
    event_type = models.CharField(_("event type"), max_length=32)
    secret_hash = models.CharField(_("secret hash"), max_length=64, unique=True, editable=False)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.CREATING
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    #: Set when its connection was gone and no other active connection could read the app:
    #: its events wait (counting no attempt) until ``podio_hooks sync APP --user U`` re-homes
    #: it (system check W007). Cleared when a connection takes it over.
    orphaned_at = models.DateTimeField(
        _("orphaned at"), null=True, blank=True, help_text=_("No connection can serve it.")
    )
    last_error = models.TextField(_("last error"), blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("Podio hook")
        verbose_name_plural = _("Podio hooks")
        indexes = [models.Index(fields=["app_id", "event_type"], name="podio_hook_app_type")]

    def __str__(self) -> str:
        return f"Podio hook {self.hook_id or '(new)'}: {self.event_type} on app {self.app_id}"

    def __repr__(self) -> str:
        return f"<PodioHook pk={self.pk} hook_id={self.hook_id} status={self.status}>"


class PodioHookEvent(models.Model):
    """One delivery from Podio, stored before anything else happens to it.

    ``dedupe_key`` (type, item, revision) is unique: a repeated delivery is stored with no key
    and ``duplicate_of`` the first, and is never processed. ``code`` holds a ``hook.verify``
    code (encrypted, cleared once used); ``payload`` is the rest of the form.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSING = "processing", _("Processing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        #: Failed ``PODIO["HOOK_MAX_ATTEMPTS"]`` times (or for a reason no retry can mend):
        #: never tried again on its own; ``podio_hooks replay --dead`` takes it up.
        DEAD = "dead", _("Dead (gave up)")

    #: The hook it came through. Deleting a hook (its row in the admin, or a hook gone from
    #: Podio) keeps its events: they belong to the app (``app_id``) and are still processed.
    hook = models.ForeignKey(
        PodioHook,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
        verbose_name=_("hook"),
    )
    app_id = models.BigIntegerField(_("app ID"), null=True, blank=True)
    type = models.CharField(_("type"), max_length=32)
    item_id = models.BigIntegerField(_("item ID"), null=True, blank=True)
    revision = models.BigIntegerField(_("revision"), null=True, blank=True)
    external_id = models.TextField(_("external ID"), blank=True, default="")
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    code = EncryptedTextField(_("verification code"), null=True, blank=True)
    dedupe_key = models.CharField(
        _("deduplication key"), max_length=96, null=True, blank=True, unique=True
    )
    duplicate_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="duplicates",
        verbose_name=_("duplicate of"),
    )
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True, default="")
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    claimed_by = models.CharField(_("claimed by"), max_length=32, blank=True, default="")
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("Podio hook event")
        verbose_name_plural = _("Podio hook events")
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="podio_hookev_due"),
            models.Index(fields=["item_id", "status"], name="podio_hookev_item"),
            models.Index(fields=["received_at"], name="podio_hookev_received"),
            models.Index(fields=["app_id", "item_id"], name="podio_hookev_app_item"),
        ]

    def __str__(self) -> str:
        target = f" item {self.item_id}" if self.item_id else ""
        return f"{self.type}{target} ({self.status})"

    def __repr__(self) -> str:
        return (
            f"<PodioHookEvent pk={self.pk} type={self.type} item_id={self.item_id} "
            f"status={self.status}>"
        )

    def save(self, *args: Any, **kwargs: Any) -> None:
        # An event belongs to its hook's app from the start: it outlives the hook's row.
        hook = self.hook if self.app_id is None and self.hook_id is not None else None
        if hook is not None:
            self.app_id = hook.app_id
        super().save(*args, **kwargs)


class PodioStatus(models.Model):
    """No table: the admin's "Podio status" page (:mod:`django_podio.status`) hangs here.

    Django's admin lists models, not pages; a model without a table (``managed = False``)
    gives the page its entry in the app list of the admin index on any ``AdminSite`` that
    registers ``django_podio.admin.PodioStatusAdmin``, as django-rq does for its queues.
    It has no permissions of its own: seeing it is seeing connections
    (``django_podio.view_podioconnection``).
    """

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = _("Podio status")
        verbose_name_plural = _("Podio status")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)


class PodioItemTombstone(models.Model):
    """An item Podio said is deleted, remembered so that nothing older brings it back.

    A sync page fetched before the delete, or a late ``item.update`` of an older revision,
    would otherwise re-insert the row the delete removed. Data fetched *after* ``deleted_at``
    wins (Podio still had the item then) and clears the tombstone.
    """

    item_id = models.BigIntegerField(_("item ID"), unique=True)
    app_id = models.BigIntegerField(_("app ID"))
    #: When we learnt of the delete (Podio's 404/410 or its ``item.delete`` event).
    deleted_at = models.DateTimeField(_("deleted at"), default=timezone.now)
    #: Podio's ``item_revision_id`` of the delete event, when one named it.
    revision = models.BigIntegerField(_("revision"), null=True, blank=True)

    class Meta:
        verbose_name = _("Podio item tombstone")
        verbose_name_plural = _("Podio item tombstones")
        indexes = [models.Index(fields=["app_id", "deleted_at"], name="podio_tomb_app_time")]

    def __str__(self) -> str:
        return f"Deleted Podio item {self.item_id}"
