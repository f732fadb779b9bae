"""Store app-authentication credentials, so ``get_client(app_id=…)`` works with no user."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from ... import tokens
from ...exceptions import InvalidGrant, PodioError
from ..arguments import checked, podio_id
from ..base import PodioCommand


class Command(PodioCommand):
    help = (
        "Verify an app's id and app token with Podio and store them encrypted. The app token "
        "is read from $PODIO_APP_TOKEN or a hidden prompt, never from the command line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "app_id",
            type=podio_id,
            metavar="APP_ID",
            help="The Podio app id (in the app's settings, under Developer).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        app_id = checked("APP_ID", podio_id, options["app_id"])
        app_token = os.environ.get("PODIO_APP_TOKEN", "").strip()
        if not app_token:
            if not sys.stdin.isatty():
                raise CommandError("Set PODIO_APP_TOKEN (no terminal to prompt on).")
            app_token = getpass.getpass(f"App token of Podio app {app_id} (hidden): ").strip()
        if not app_token:
            raise CommandError("No app token given.")
        try:
            connection = tokens.store_app_connection(app_id, app_token)
        except InvalidGrant:
            raise CommandError(f"Podio refused the app id {app_id} with that app token.")
        except PodioError as error:
            raise CommandError(f"Could not verify the app token with Podio: {error}")
        expires_at = connection.expires_at
        self.finish(
            {
                "app_id": app_id,
                "connection": connection.pk,
                "expires_at": expires_at.isoformat() if expires_at else None,
                "ok": True,
            },
            f"Stored app authentication for Podio app {app_id} (connection {connection.pk})"
            + (f"; token valid until {expires_at:%Y-%m-%d %H:%M} UTC." if expires_at else "."),
        )
