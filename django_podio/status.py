"""The operator's view: one summary of connections, refreshes, hooks, syncs and the rate limit.

``podio_status`` prints it and the admin's "Podio status" page shows it; both read it from
:func:`summarize`, which also decides what **needs a person** (the command's exit status 1,
for a monitoring check). Those are the states that do not mend themselves:

* ``reauth_required``: a connection whose refresh token Podio refused; its user must log in
  again (or the app token be stored again with ``podio_app_auth``).
* ``expired_failing``: an active connection whose access token has expired while its last
  refresh failed (``failure_count`` > 0): calls through it fail now, and cron has already
  tried (a wrong client secret after a rotation looks like this).
* ``dead_events``: webhook events in a status named ``dead`` (given up after their retries),
  when the model has one.
* ``stranded_events``: failed events with no next attempt: nothing will retry them
  (``podio_hooks replay --failed`` does).
* ``failed_hooks``: hooks whose verification failed: Podio delivers nothing to them.
* ``stale_syncs``: an app whose last finished item sync is older than
  ``PODIO["STATUS_SYNC_STALE_AFTER"]``.

Failed events that will be retried, refresh failures that left a live token, and a low rate
limit are reported but are not a person's job: the next run retries, the window refills.

The numbers come from a fixed handful of queries (counts grouped in the database), however many
connections, events and apps there are; only the per-app sync list grows with the number of
synced apps, in one query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from . import conf
from .api import limits
from .models import PodioConnection, PodioHook, PodioHookEvent, PodioItemSync

__all__ = [
    "DUE_WITHIN",
    "FAILURE_WINDOW",
    "RECENT_FAILURES",
    "Problem",
    "Summary",
    "SyncState",
    "summarize",
]

#: The window of "due soon" (active connections whose access token expires within it).
DUE_WITHIN = timedelta(hours=1)
#: How far back refresh failures count as recent (a day).
FAILURE_WINDOW = timedelta(hours=24)
#: How many of the latest refresh failures are listed (the count covers all of them).
RECENT_FAILURES = 10
#: The event status that means "given up" (a helper of the webhook processing may add it).
DEAD = "dead"


@dataclass(frozen=True)
class Problem:
    """One kind of state that needs a person: a stable ``code``, a count, an explanation."""

    code: str
    count: int
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "count": self.count, "message": self.message}


@dataclass(frozen=True)
class SyncState:
    """Where one app's item sync stands."""

    app_id: int
    last_finished_at: datetime | None
    last_full_finished_at: datetime | None
    running_since: datetime | None
    lag_seconds: int | None  # now - last finished run; None: never finished
    stale: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "app_id": self.app_id,
            "last_finished_at": _iso(self.last_finished_at),
            "last_full_finished_at": _iso(self.last_full_finished_at),
            "running_since": _iso(self.running_since),
            "lag_seconds": self.lag_seconds,
            "stale": self.stale,
        }


@dataclass
class Summary:
    """Everything ``podio_status`` reports; :meth:`as_dict` is its documented JSON schema."""

    generated_at: datetime
    connections_by_status: dict[str, int]
    connections_by_kind: dict[str, int]
    due_within_hour: int
    expired: int
    expired_failing: int
    failures_last_day: int
    still_failing: int
    recent_failures: list[dict[str, Any]]
    hooks_by_status: dict[str, int]
    events_by_status: dict[str, int]
    oldest_pending_at: datetime | None
    stranded_events: int
    sync_stale_after: int | None
    syncs: list[SyncState]
    rate_limit: limits.RateLimitSeen | None
    rate_limit_per_process: bool
    problems: list[Problem] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        """Whether something needs a person (``podio_status`` exits 1)."""
        return bool(self.problems)

    def as_dict(self) -> dict[str, Any]:
        seen = self.rate_limit
        return {
            "ok": not self.needs_attention,
            "needs_attention": self.needs_attention,
            "problems": [p.as_dict() for p in self.problems],
            "generated_at": _iso(self.generated_at),
            "connections": {
                "total": sum(self.connections_by_status.values()),
                "by_status": self.connections_by_status,
                "by_kind": self.connections_by_kind,
                "due_within_hour": self.due_within_hour,
                "expired": self.expired,
                "expired_failing": self.expired_failing,
            },
            "refresh_failures": {
                "window_hours": int(FAILURE_WINDOW.total_seconds() // 3600),
                "connections": self.failures_last_day,
                "still_failing": self.still_failing,
                "recent": self.recent_failures,
            },
            "hooks": {
                "total": sum(self.hooks_by_status.values()),
                "by_status": self.hooks_by_status,
            },
            "events": {
                "total": sum(self.events_by_status.values()),
                "by_status": self.events_by_status,
                "oldest_pending_at": _iso(self.oldest_pending_at),
                "stranded": self.stranded_events,
            },
            "syncs": {
                "stale_after": self.sync_stale_after,
                "apps": [s.as_dict() for s in self.syncs],
            },
            "rate_limit": {
                "limit": seen.limit if seen else None,
                "remaining": seen.remaining if seen else None,
                "seen_at": _iso(seen.seen_at) if seen else None,
                "refused_at": _iso(seen.refused_at) if seen else None,
                "per_process_cache": self.rate_limit_per_process,
            },
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _by_status(model: Any, rows: dict[str, int]) -> dict[str, int]:
    """Every status the model declares (zero when none), then any other value found.

    Generic on purpose: a status added to the model later (``dead``) is counted without a
    change here.
    """
    declared = [value for value, _label in model._meta.get_field("status").choices]
    counts = {value: rows.get(value, 0) for value in declared}
    for value in sorted(set(rows) - set(declared)):
        counts[value] = rows[value]
    return counts


def _stale_after() -> int | None:
    value = conf.get("STATUS_SYNC_STALE_AFTER")
    return None if value is None else int(value)


def _connections(now: datetime) -> dict[str, Any]:
    active = Q(status=PodioConnection.Status.ACTIVE)
    expired = active & Q(expires_at__lte=now)
    rows = PodioConnection.objects.values("status", "kind").annotate(
        total=Count("pk"),
        due=Count("pk", filter=active & Q(expires_at__gt=now, expires_at__lte=now + DUE_WITHIN)),
        expired=Count("pk", filter=expired),
        expired_failing=Count("pk", filter=expired & Q(failure_count__gt=0)),
        failed_recently=Count("pk", filter=Q(last_failed_at__gte=now - FAILURE_WINDOW)),
        still_failing=Count(
            "pk", filter=Q(last_failed_at__gte=now - FAILURE_WINDOW, failure_count__gt=0)
        ),
    )
    out: dict[str, Any] = {
        "by_status": {},
        "by_kind": {},
        "due": 0,
        "expired": 0,
        "expired_failing": 0,
        "failed_recently": 0,
        "still_failing": 0,
    }
    for row in rows.order_by():
        out["by_status"][row["status"]] = out["by_status"].get(row["status"], 0) + row["total"]
        out["by_kind"][row["kind"]] = out["by_kind"].get(row["kind"], 0) + row["total"]
        for name in ("due", "expired", "expired_failing", "failed_recently", "still_failing"):
            out[name] += row[name]
    return out


def _recent_failures(now: datetime) -> list[dict[str, Any]]:
    rows = (
        PodioConnection.objects.filter(last_failed_at__gte=now - FAILURE_WINDOW)
        .order_by("-last_failed_at", "-pk")
        .values_list("pk", "kind", "status", "last_failed_at", "failure_count", "last_error")
    )[:RECENT_FAILURES]
    return [
        {
            "connection": pk,
            "kind": kind,
            "status": status,
            "failed_at": _iso(failed_at),
            "failure_count": count,
            # Written by the refresh, redacted and without secrets (tokens/refresh.py).
            "error": error,
        }
        for pk, kind, status, failed_at, count, error in rows
    ]


def _syncs(now: datetime, stale_after: int | None) -> list[SyncState]:
    states = []
    rows = PodioItemSync.objects.order_by("app_id").values_list(
        "app_id", "last_run_finished_at", "last_full_run_finished_at", "run_started_at"
    )
    for app_id, finished, full, running in rows:
        last = max((t for t in (finished, full) if t is not None), default=None)
        lag = int((now - last).total_seconds()) if last is not None else None
        # Never finished: stale once its first run has been going for longer than allowed.
        since = last or running
        stale = stale_after is not None and (
            since is None or (now - since).total_seconds() > stale_after
        )
        states.append(SyncState(app_id, finished, full, running, lag, stale))
    return states


def summarize(now: datetime | None = None) -> Summary:
    """Read the summary: five queries and one cache read, whatever the number of rows."""
    now = now or timezone.now()
    connections = _connections(now)
    hooks = {
        row["status"]: row["n"]
        for row in PodioHook.objects.order_by().values("status").annotate(n=Count("pk"))
    }
    event_rows = (
        PodioHookEvent.objects.order_by()
        .values("status")
        .annotate(
            n=Count("pk"),
            oldest=Min("received_at"),
            stranded=Count("pk", filter=Q(next_attempt_at__isnull=True)),
        )
    )
    events: dict[str, int] = {}
    oldest_pending = None
    stranded = 0
    for row in event_rows:
        events[row["status"]] = row["n"]
        if row["status"] == PodioHookEvent.Status.PENDING:
            oldest_pending = row["oldest"]
        if row["status"] == PodioHookEvent.Status.FAILED:
            stranded = row["stranded"]
    stale_after = _stale_after()
    summary = Summary(
        generated_at=now,
        connections_by_status=_by_status(PodioConnection, connections["by_status"]),
        connections_by_kind={
            value: connections["by_kind"].get(value, 0) for value in PodioConnection.Kind.values
        },
        due_within_hour=connections["due"],
        expired=connections["expired"],
        expired_failing=connections["expired_failing"],
        failures_last_day=connections["failed_recently"],
        still_failing=connections["still_failing"],
        recent_failures=_recent_failures(now) if connections["failed_recently"] else [],
        hooks_by_status=_by_status(PodioHook, hooks),
        events_by_status=_by_status(PodioHookEvent, events),
        oldest_pending_at=oldest_pending,
        stranded_events=stranded,
        sync_stale_after=stale_after,
        syncs=_syncs(now, stale_after),
        rate_limit=limits.last_seen(),
        rate_limit_per_process=limits.cache_is_per_process(),
    )
    summary.problems = _problems(summary)
    return summary


def _problems(summary: Summary) -> list[Problem]:
    reauth = summary.connections_by_status.get(PodioConnection.Status.REAUTH_REQUIRED, 0)
    stale = [s.app_id for s in summary.syncs if s.stale]
    found = [
        Problem(
            "reauth_required",
            reauth,
            ngettext(
                "%(count)d connection needs its user to log in with Podio again",
                "%(count)d connections need their users to log in with Podio again",
                reauth,
            )
            % {"count": reauth},
        ),
        Problem(
            "expired_failing",
            summary.expired_failing,
            ngettext(
                "%(count)d active connection has an expired token and its refresh fails",
                "%(count)d active connections have an expired token and their refresh fails",
                summary.expired_failing,
            )
            % {"count": summary.expired_failing},
        ),
        Problem(
            "dead_events",
            summary.events_by_status.get(DEAD, 0),
            _("%(count)d webhook events were given up (dead)")
            % {"count": summary.events_by_status.get(DEAD, 0)},
        ),
        Problem(
            "stranded_events",
            summary.stranded_events,
            _("%(count)d failed webhook events will not be retried (podio_hooks replay --failed)")
            % {"count": summary.stranded_events},
        ),
        Problem(
            "failed_hooks",
            summary.hooks_by_status.get(PodioHook.Status.FAILED, 0),
            _("%(count)d webhooks failed verification: Podio delivers nothing to them")
            % {"count": summary.hooks_by_status.get(PodioHook.Status.FAILED, 0)},
        ),
        Problem(
            "stale_syncs",
            len(stale),
            _("Item sync stale for app %(apps)s") % {"apps": ", ".join(map(str, stale[:10]))},
        ),
    ]
    return [problem for problem in found if problem.count]
