"""Pull every item of a Podio app: JSON lines or CSV, and/or the local ``PodioItem`` cache."""

from __future__ import annotations

import time
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.core.management.base import CommandError, CommandParser

from ... import items, tokens
from ...exceptions import SyncAlreadyRunning
from ..arguments import checked, fetch_concurrency, podio_id, since_or_last
from ..base import PodioCommand, plural


class Command(PodioCommand):
    help = (
        "Fetch every item of a Podio app (or those edited since a time) as JSON lines or CSV, "
        "to stdout or a file, and/or upsert them into the PodioItem cache. Exits 1 on failure."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "app_id",
            type=podio_id,
            metavar="APP_ID",
            help="The Podio app whose items to fetch (its id, from the app's Developer page).",
        )
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", metavar="USERNAME", help="Use this user's Podio connection.")
        who.add_argument(
            "--app",
            action="store_true",
            help="Use the app's own connection (see podio_app_auth).",
        )
        parser.add_argument(
            "--output",
            metavar="FILE",
            help="Write items to FILE (renamed into place when complete); '-' for stdout. "
            "Default: stdout, unless --store is given.",
        )
        parser.add_argument(
            "--format",
            choices=items.FORMATS,
            default="jsonl",
            help="jsonl: one item a line, exactly as Podio returns it (default); csv: one row "
            "an item, one column per field.",
        )
        parser.add_argument(
            "--since",
            type=since_or_last,
            metavar="DATETIME",
            help="Only items edited since then: ISO 8601 or 'YYYY-MM-DD HH:MM:SS' (UTC); "
            "with --store, 'last' means since the previous completed sync.",
        )
        parser.add_argument(
            "--concurrency",
            type=fetch_concurrency,
            default=1,
            metavar="N",
            help="Pages fetched in parallel (1-8, default 1: constant memory). Helps on slow "
            "links; costs no extra requests.",
        )
        parser.add_argument(
            "--store",
            action="store_true",
            help="Upsert into the PodioItem cache; a full run also removes deleted items.",
        )
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="With --store: enqueue the sync as a task (django_podio.tasks.sync_app) for "
            "the host's task workers instead of running it here.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        options["app_id"] = app_id = checked("APP_ID", podio_id, options["app_id"])
        options["concurrency"] = checked("--concurrency", fetch_concurrency, options["concurrency"])
        store = options["store"]
        output = options["output"]
        to_stdout = output == "-" or (output is None and not store)
        # stdout carries nothing but items when they go there: the report goes to stderr.
        report_to = self.stderr if to_stdout else self.stdout
        self.json_stream = report_to
        since: Any = options["since"]
        if since is not None:
            since = checked("--since", since_or_last, since)
        if since == "last" and not store:
            raise CommandError("--since last needs --store")
        if options["enqueue"]:
            self._enqueue(options, since)
            return
        if not to_stdout and output is not None:
            try:
                items.check_output_path(output)
            except ValueError as error:
                raise CommandError(f"--output: {error}") from None
        target: Any = self.stdout if to_stdout else output
        client = self._client(options)
        terminal = self.progress_stream()
        progress = _Progress(terminal) if terminal else None
        try:
            report = items.fetch_items(
                client,
                app_id,
                since=since,
                output=target,
                fmt=options["format"],
                store=store,
                concurrency=options["concurrency"],
                on_progress=progress,
            )
        except SyncAlreadyRunning as running:
            until = f" (its lease runs until {running.until:%Y-%m-%d %H:%M:%S %Z})"
            raise CommandError(
                f"A sync of app {app_id} is already running{until if running.until else ''}: "
                "nothing was fetched. One sync per app runs at a time."
            ) from None
        except KeyboardInterrupt:
            self.stderr.write(
                "\nInterrupted: no partial file was left; a --store run resumes where this "
                "one stopped."
            )
            raise
        finally:
            client.close()
            if progress:
                progress.done()
        if not self.quiet:
            for message in report.odd_items:
                self.stderr.write(self.style.WARNING(f"Set aside: {message}"))
        self.finish(
            report.as_dict(),
            summary(report),
            ok=report.ok,
            error=f"Fetching the items of app {app_id} failed: {report.error}",
            stream=report_to,
        )

    def _enqueue(self, options: dict[str, Any], since: Any) -> None:
        from ... import tasks

        if not options["store"] or options["output"] is not None:
            raise CommandError("--enqueue needs --store and no --output (a worker fills the cache)")
        user_id = None
        if options["user"]:
            User = get_user_model()
            try:
                user_id = User._default_manager.get_by_natural_key(options["user"]).pk
            except User.DoesNotExist:
                raise CommandError(f"No user {options['user']!r}") from None
        if since is not None and since != "last":
            since = since.isoformat()
        result = tasks.enqueue_sync(options["app_id"], since=since, user_id=user_id)
        self.finish(
            {"enqueued": True, "app_id": options["app_id"], "task_id": result.id, "ok": True},
            f"sync of app {options['app_id']} enqueued (task {result.id})",
        )

    def _client(self, options: dict[str, Any]) -> Any:
        User = get_user_model()
        try:
            if options["app"]:
                return tokens.get_client(app_id=options["app_id"])
            user = User._default_manager.get_by_natural_key(options["user"])
            return tokens.get_client(user)
        except User.DoesNotExist:
            raise CommandError(f"No user {options['user']!r}") from None
        except ObjectDoesNotExist:
            who = f"app {options['app_id']}" if options["app"] else repr(options["user"])
            hint = " (store one with podio_app_auth)" if options["app"] else ""
            raise CommandError(f"No Podio connection for {who}{hint}") from None


def summary(report: items.FetchReport) -> str:
    """One line an operator reads: counts, speed, requests, then what happened to the data."""
    rate = report.fetched / report.elapsed if report.elapsed > 0 else 0.0
    scope = f"since {report.since} UTC" if report.since else "full"
    parts = [
        f"app {report.app_id}: {plural(report.fetched, 'item')} fetched ({scope}) in "
        f"{report.elapsed:.1f}s, {rate:,.0f}/s, {plural(report.requests, 'request')}"
    ]
    if report.resumed_after is not None:
        parts.append(f"resumed after item {report.resumed_after}")
    if report.output:
        parts.append(f"{report.written:,} written to {report.output}")
    if report.created or report.updated or report.unchanged or report.deleted:
        parts.append(
            f"cache: {report.created:,} created, {report.updated:,} updated, "
            f"{report.unchanged:,} unchanged, {report.deleted:,} deleted"
        )
    if report.odd:
        parts.append(f"{plural(report.odd, 'odd item')} set aside (first: {report.odd_items[0]})")
    if report.deletion_pass:
        parts.append("full pass run to find deletions")
    if report.error:
        parts.append(f"FAILED: {report.error}")
    return "; ".join(parts)


class _Progress:
    """``done/total items, rate, time left`` on one rewritten terminal line, 5 times a second."""

    def __init__(self, terminal: IO[str]) -> None:
        self.out = terminal
        self.started = time.monotonic()
        self.shown = 0.0
        self.line = ""

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.shown < 0.2 and total is not None and done < total:
            return
        self.shown = now
        elapsed = max(now - self.started, 1e-6)
        rate = done / elapsed
        text = f"{done:,}" + (f"/{total:,}" if total is not None else "") + " items"
        text += f"  {rate:,.0f}/s"
        if total and rate > 0 and done < total:
            left = int((total - done) / rate)
            text += f"  {left // 60}:{left % 60:02d} left"
        self.line = text
        self.out.write("\r" + text.ljust(60))
        self.out.flush()

    def done(self) -> None:
        if self.line:
            self.out.write("\n")
            self.out.flush()
