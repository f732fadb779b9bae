"""Cron entry point: refresh every connection whose token expires soon."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import conf, tokens


class Command(BaseCommand):
    help = (
        "Refresh the Podio tokens of every active connection that expires within the window. "
        "Safe to run on several hosts at once; exits 1 when any refresh failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--within",
            type=int,
            default=None,
            metavar="SECONDS",
            help="Refresh tokens expiring within this many seconds (default: REFRESH_MARGIN).",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            metavar="N",
            help="Parallel refreshes (default: REFRESH_CONCURRENCY).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be refreshed; change nothing."
        )
        parser.add_argument("--json", action="store_true", help="Print a JSON report.")

    def handle(self, *args: Any, **options: Any) -> None:
        within = conf.get("REFRESH_MARGIN") if options["within"] is None else options["within"]
        concurrency = (
            conf.get("REFRESH_CONCURRENCY")
            if options["concurrency"] is None
            else options["concurrency"]
        )
        if within < 0 or concurrency < 1:
            raise CommandError("--within must be >= 0 and --concurrency >= 1")
        if options["dry_run"]:
            self._dry_run(within, options["json"])
            return

        def progress(pk: int, result: tokens.RefreshResult) -> None:
            if options["verbosity"] >= 2 and not options["json"]:
                self.stdout.write(f"connection {pk}: {result.outcome.value}")

        try:
            report = tokens.refresh_due(within=within, concurrency=concurrency, on_result=progress)
        except KeyboardInterrupt:
            self.stderr.write("Interrupted: refreshes in flight were completed, none half-written.")
            raise
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            for failure in report.failures:
                self.stderr.write(
                    f"connection {failure['connection']}: {failure['outcome']}: {failure['error']}"
                )
            style = self.style.SUCCESS if report.ok else self.style.ERROR
            self.stdout.write(
                style(
                    f"{report.refreshed} refreshed, {report.skipped} skipped, "
                    f"{report.failed + report.reauth_required} failed "
                    f"({report.reauth_required} need reauthorization)"
                )
            )
        if not report.ok:
            raise SystemExit(1)

    def _dry_run(self, within: int, as_json: bool) -> None:
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
        if as_json:
            self.stdout.write(json.dumps({"dry_run": True, "due": due}, indent=2))
            return
        for row in due:
            self.stdout.write(
                f"would refresh connection {row['connection']} ({row['kind']}), "
                f"expires {row['expires_at']}"
            )
        self.stdout.write(f"{len(due)} connection(s) due within {within}s (dry run)")
