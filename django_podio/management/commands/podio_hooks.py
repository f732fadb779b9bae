"""Podio webhooks: create them for an app, list, delete, re-verify, process, replay."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError

from ... import hooks, tokens
from ...exceptions import ConnectionNotFound, DjangoPodioError
from ...hooks.secret import masked_url
from ...models import PodioHook
from ..arguments import checked, podio_id
from ..arguments import since as since_argument
from ..base import PodioCommand


class Command(PodioCommand):
    help = (
        "Manage Podio webhooks: sync APP_ID (--user USERNAME | --app) [--events ...] "
        "[--dry-run], list [APP_ID], delete HOOK_ID, verify HOOK_ID, process, replay "
        "[--failed] [--dead] [--since DATETIME]. Exits 1 on failure."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(
            dest="action", required=True, metavar="ACTION", help="What to do (see each --help)."
        )
        sync = actions.add_parser(
            "sync",
            help="Reconcile the app's hooks with Podio: one per event type (idempotent).",
        )
        sync.add_argument("app_id", type=podio_id, metavar="APP_ID", help="The Podio app to hook.")
        who = sync.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", metavar="USERNAME", help="Use this user's Podio connection.")
        who.add_argument("--app", action="store_true", help="Use the app's own connection.")
        sync.add_argument(
            "--events",
            default=",".join(hooks.DEFAULT_EVENTS),
            help="Comma-separated hook types (default: %(default)s).",
        )
        sync.add_argument(
            "--dry-run",
            action="store_true",
            help="Only say what would be created, adopted, deleted or re-homed.",
        )
        listing = actions.add_parser("list", help="Show the hooks (of one app: Podio's side too).")
        listing.add_argument(
            "app_id", type=podio_id, nargs="?", metavar="APP_ID", help="Only this app's hooks."
        )
        delete = actions.add_parser("delete", help="Delete a hook in Podio and here.")
        delete.add_argument("hook_id", type=podio_id, metavar="HOOK_ID", help="Podio's hook id.")
        verify = actions.add_parser("verify", help="Ask Podio to send hook.verify again.")
        verify.add_argument("hook_id", type=podio_id, metavar="HOOK_ID", help="Podio's hook id.")
        actions.add_parser("process", help="Process every pending or due event.")
        replay = actions.add_parser("replay", help="Process stored events again.")
        replay.add_argument("--failed", action="store_true", help="Only the failed events.")
        replay.add_argument(
            "--dead", action="store_true", help="Only the dead events (with --failed: both)."
        )
        replay.add_argument(
            "--since", type=since_argument, metavar="DATETIME", help="Only events received since."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        for name in ("app_id", "hook_id"):
            if options.get(name) is not None:
                options[name] = checked(name.upper(), podio_id, options[name])
        if options.get("since") is not None:
            options["since"] = checked("--since", since_argument, options["since"])
        try:
            result, ok, text = getattr(self, f"_{action}")(options)
        except (CommandError, ConnectionNotFound):
            raise
        except DjangoPodioError as error:
            raise CommandError(f"{action} failed: {error}") from None
        except DatabaseError as error:  # reported, never a traceback
            raise CommandError(f"{action} failed: {type(error).__name__}: {error}") from None
        self.finish(result, text, ok=ok, error=f"{action} failed: {text}")

    # Sub-commands: each returns (JSON-able result, ok, human text) ---------------------------

    def _sync(self, options: dict[str, Any]) -> tuple[Any, bool, str]:
        events = [e.strip() for e in options["events"].split(",") if e.strip()]
        if not events:
            raise CommandError("--events needs at least one hook type")
        connection = self._connection(options)
        with tokens.get_client(connection=connection) as client:
            report = hooks.sync_hooks(
                client, connection, options["app_id"], events, dry_run=options["dry_run"]
            )
        if report.dry_run:
            lines = [f"app {report.app_id} (dry run): " + ("; ".join(report.actions) or "nothing")]
        else:
            lines = [
                f"app {report.app_id}: {len(report.created)} hooks created, "
                f"{len(report.existing)} already there"
            ]
            if report.adopted:
                lines.append(f"{len(report.adopted)} adopted from Podio")
            if report.deleted:
                lines.append(f"{len(report.deleted)} extra hooks deleted at Podio")
            if report.removed:
                lines.append(f"{len(report.removed)} stale rows removed (gone from Podio)")
            if report.rehomed:
                lines.append(f"{report.rehomed} hooks re-homed to this connection")
        lines += [f"FAILED {error}" for error in report.errors]
        return report.as_dict(), report.ok, "; ".join(lines)

    def _list(self, options: dict[str, Any]) -> tuple[Any, bool, str]:
        """``--json`` prints ``{"hooks": [...]}``, with an APP_ID also ``"podio": [...]``
        (Podio's list of the app's hooks; ``null`` when no connection could read it)."""
        rows = PodioHook.objects.order_by("app_id", "event_type", "pk")
        if options.get("app_id") is not None:
            rows = rows.filter(app_id=options["app_id"])
        url = masked_url()
        found = [
            {
                "hook_id": h.hook_id,
                "app_id": h.app_id,
                "event_type": h.event_type,
                "status": h.status,
                "orphaned": h.orphaned_at is not None,
                "verified_at": h.verified_at,
                "last_error": h.last_error,
                "connection": h.connection_id,
                "url": url,
            }
            for h in rows
        ]
        text = "\n".join(
            f"{h['hook_id'] or '-':>10}  app {h['app_id']}  {h['event_type']:<12} "
            f"{h['status']:<9}{' orphaned' if h['orphaned'] else ''} {h['last_error']}".rstrip()
            for h in found
        )
        result: dict[str, Any] = {"hooks": found}
        if options.get("app_id") is not None:
            app_id = options["app_id"]
            try:
                podio, _ = hooks.with_app_client(app_id, lambda c: hooks.podio_hooks(c, app_id))
            except DjangoPodioError as error:
                podio, note = None, f"Podio's side: not read ({error})"
            else:
                note = (
                    "Podio's side:\n"
                    + "\n".join(
                        f"{p['hook_id']:>10}  {p['type']:<12} {p['status']:<9} "
                        + (
                            "ours"
                            if p["known"]
                            else "ours, unknown here"
                            if p["ours"]
                            else "not ours"
                        )
                        for p in podio
                    )
                    if podio
                    else "Podio's side: no hooks"
                )
            result["podio"] = podio
            text = (text or "no hooks") + "\n" + note
        return result, True, text or "no hooks"

    def _delete(self, options: dict[str, Any]) -> tuple[Any, bool, str]:
        hook = self._hook(options["hook_id"])
        hooks.with_app_client(
            hook.app_id, lambda client: hooks.delete_hook(client, hook), preferred=hook.connection
        )
        return {"deleted": options["hook_id"]}, True, f"hook {options['hook_id']} deleted"

    def _verify(self, options: dict[str, Any]) -> tuple[Any, bool, str]:
        hook = self._hook(options["hook_id"])
        hooks.with_app_client(
            hook.app_id,
            lambda client: hooks.request_verification(client, hook),
            preferred=hook.connection,
        )
        text = f"hook {hook.hook_id}: Podio will send hook.verify again"
        return {"hook_id": hook.hook_id, "requested": True}, True, text

    def _process(self, options: dict[str, Any]) -> tuple[Any, bool, str]:
        return self._report(hooks.process_pending())

    def _replay(self, options: dict[str, Any]) -> tuple[Any, bool, str]:
        return self._report(
            hooks.replay(
                failed_only=options["failed"], dead_only=options["dead"], since=options["since"]
            )
        )

    # Helpers ---------------------------------------------------------------------------------

    def _report(self, report: hooks.ProcessReport) -> tuple[Any, bool, str]:
        text = (
            f"{report.processed} events: {report.done} done, {report.failed} failed "
            f"({report.dead} dead), {report.refetches} items refetched"
        )
        if report.errors:
            text += "; first error: " + report.errors[0]
        return report.as_dict(), not report.failed, text

    def _hook(self, hook_id: int) -> PodioHook:
        hook = PodioHook.objects.select_related("connection").filter(hook_id=hook_id).first()
        if hook is None:
            raise CommandError(f"No hook {hook_id} (see podio_hooks list)")
        return hook

    def _connection(self, options: dict[str, Any]) -> Any:
        from ...tokens.client import find_connection

        try:
            if options["app"]:
                return find_connection(app_id=options["app_id"])
            User = get_user_model()
            return find_connection(User._default_manager.get_by_natural_key(options["user"]))
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user {options['user']!r}") from None
        except ConnectionNotFound:
            who = f"app {options['app_id']}" if options["app"] else repr(options["user"])
            hint = " (store one with podio_app_auth)" if options["app"] else ""
            raise CommandError(f"No Podio connection for {who}{hint}") from None
