"""Cron entry point: refresh every connection whose token expires soon."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from ... import conf, tokens
from ..arguments import MAX_REFRESH_CONCURRENCY, checked, refresh_concurrency, within_seconds
from ..base import PodioCommand, plural


class Command(PodioCommand):
    help = (
        "Refresh the Podio tokens of every active connection that expires within the window. "
        "Safe to run on several hosts at once; exits 1 when any refresh failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--within",
            type=within_seconds,
            default=None,
            metavar="SECONDS",
            help="Refresh tokens expiring within this many seconds (default: REFRESH_MARGIN).",
        )
        parser.add_argument(
            "--concurrency",
            type=refresh_concurrency,
            default=None,
            metavar="N",
            help=f"Parallel refreshes, 1-{MAX_REFRESH_CONCURRENCY} (default: REFRESH_CONCURRENCY).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be refreshed; change nothing."
        )
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="Only enqueue one refresh task per due connection (django_podio.tasks); the "
            "host's task workers refresh. Needs Django's Tasks API and a TASKS backend.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        within = conf.get("REFRESH_MARGIN") if options["within"] is None else options["within"]
        concurrency = (
            conf.get("REFRESH_CONCURRENCY")
            if options["concurrency"] is None
            else options["concurrency"]
        )
        within = checked("--within", within_seconds, within)
        concurrency = checked("--concurrency", refresh_concurrency, concurrency)
        if options["dry_run"]:
            if options["enqueue"]:
                raise CommandError("--dry-run and --enqueue exclude each other")
            self._dry_run(within)
            return
        if options["enqueue"]:
            from ... import tasks

            tasks.check_backend()  # at once, whether or not anything is due
            count = tasks.enqueue_due(within)
            self.finish(
                {"enqueued": count, "within": within, "ok": True},
                f"{plural(count, 'refresh', 'refreshes')} enqueued",
            )
            return

        def progress(pk: int, result: tokens.RefreshResult) -> None:
            self.detail(f"connection {pk}: {result.outcome.value}")

        try:
            report = tokens.refresh_due(within=within, concurrency=concurrency, on_result=progress)
        except KeyboardInterrupt:
            self.stderr.write("Interrupted: refreshes in flight were completed, none half-written.")
            raise
        if not self.quiet:
            for failure in report.failures:
                self.stderr.write(
                    f"connection {failure['connection']}: {failure['outcome']}: {failure['error']}"
                )
        failed = report.failed + report.reauth_required
        summary = (
            f"{report.refreshed} refreshed, {report.skipped} skipped, {failed} failed "
            f"({report.reauth_required} need{'s' if report.reauth_required == 1 else ''} "
            "reauthorization)"
        )
        error = ""
        if failed:
            pks = ", ".join(str(f["connection"]) for f in report.failures[:10])
            more = " …" if len(report.failures) > 10 else ""
            error = f"{plural(failed, 'refresh', 'refreshes')} failed (connection {pks}{more})"
        elif report.interrupted:
            error = "Interrupted before every due connection was refreshed"
        self.finish({**report.as_dict(), "ok": report.ok}, summary, ok=report.ok, error=error)

    def _dry_run(self, within: int) -> None:
        rows = tokens.due_connections(within).values_list(
            "pk", "kind", "user_id", "app_id", "expires_at"
        )
        due = [
            {
                "connection": pk,
                "kind": kind,
                "user": user,
                "app_id": app,
                "expires_at": expires.isoformat() if expires else None,
            }
            for pk, kind, user, app, expires in rows.iterator()
        ]
        if not self.quiet:
            for row in due:
                self.stdout.write(
                    f"would refresh connection {row['connection']} ({row['kind']}), "
                    f"expires {row['expires_at']}"
                )
        self.finish(
            {"dry_run": True, "within": within, "due": due},
            f"{plural(len(due), 'connection')} due within {within}s (dry run)",
        )
