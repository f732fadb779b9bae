"""The operator's view (``django_podio.status``); exit status 1 when something needs a person."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import CommandParser

from ... import status
from ..base import PodioCommand


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if value else "never"


def duration(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def counts(by_status: dict[str, int]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in by_status.items())


def render(summary: status.Summary) -> list[str]:
    """The text report: one short table, then what needs a person."""
    total = sum(summary.connections_by_status.values())
    lines = [
        f"Podio status at {when(summary.generated_at)}",
        f"{'Connections':<18}{total:>6,}  {counts(summary.connections_by_status)}; "
        f"{counts(summary.connections_by_kind)}",
        f"{'  due within 1h':<18}{summary.due_within_hour:>6,}  expired {summary.expired:,} "
        f"(refresh failing {summary.expired_failing:,})",
        f"{'Refresh failures':<18}{summary.failures_last_day:>6,}  connections in the last 24h, "
        f"{summary.still_failing:,} still failing",
    ]
    for failure in summary.recent_failures:
        lines.append(
            f"  connection {failure['connection']} ({failure['kind']}, {failure['status']}) "
            f"at {failure['failed_at']}, {failure['failure_count']} in a row: "
            f"{failure['error'] or 'recovered'}"
        )
    lines.append(
        f"{'Hooks':<18}{sum(summary.hooks_by_status.values()):>6,}  "
        f"{counts(summary.hooks_by_status)}"
    )
    lines.append(
        f"{'Events':<18}{sum(summary.events_by_status.values()):>6,}  "
        f"{counts(summary.events_by_status)}; oldest pending {when(summary.oldest_pending_at)}"
    )
    stale_after = summary.sync_stale_after
    lines.append(
        f"{'Item syncs':<18}{len(summary.syncs):>6,}  stale after "
        f"{duration(stale_after) if stale_after is not None else 'never'}"
    )
    for sync in summary.syncs:
        state = "STALE" if sync.stale else ("running" if sync.running_since else "ok")
        lines.append(
            f"  app {sync.app_id:<12} last {when(sync.last_finished_at)} "
            f"(lag {duration(sync.lag_seconds)}, full {when(sync.last_full_finished_at)})  {state}"
        )
    seen = summary.rate_limit
    if seen is None or seen.seen_at is None:
        rate = "none seen"
        if summary.rate_limit_per_process:
            rate += " (Django's default cache is per process: use a shared one)"
    else:
        rate = f"{seen.remaining} of {seen.limit} left at {when(seen.seen_at)}"
    refused = when(seen.refused_at) if seen else "never"
    lines.append(f"{'Rate limit':<18}{'':>6}  {rate}; last refused (420) {refused}")
    if summary.problems:
        lines.append("Needs a person:")
        lines.extend(f"  {problem.message}" for problem in summary.problems)
    else:
        lines.append("Nothing needs a person.")
    return lines


class Command(PodioCommand):
    help = (
        "Show connections, refresh failures, webhooks and events, item syncs and the rate "
        "limit last seen. Exits 1 when something needs a person (for a monitoring check)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Only the common options (``--json``, ``-v``)."""

    def handle(self, *args: Any, **options: Any) -> None:
        summary = status.summarize()
        lines = render(summary)
        error = ""
        if summary.needs_attention:
            error = "Needs a person: " + "; ".join(p.message for p in summary.problems)
        self.finish(
            summary.as_dict(),
            "\n".join(lines),
            ok=not summary.needs_attention,
            error=error,
        )
