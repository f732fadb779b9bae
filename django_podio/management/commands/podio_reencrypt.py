"""Key rotation: re-encrypt every stored Podio secret under the first configured key."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.core.management.base import CommandParser

from ... import tokens
from ..base import PodioCommand, plural


class Command(PodioCommand):
    help = (
        "Re-encrypt every stored Podio secret under the first key of FIELD_ENCRYPTION_KEY. "
        "Writes nothing when any value cannot be decrypted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would change; write nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = tokens.reencrypt_all(dry_run=options["dry_run"])
        verb = "would be re-encrypted" if report.dry_run else "re-encrypted"
        summary = (
            f"{plural(report.current, 'value')} already current, {report.reencrypted} {verb}, "
            f"{report.undecryptable} undecryptable"
        )
        self.finish(
            {**asdict(report), "ok": report.ok},
            summary,
            ok=report.ok,
            error=f"{summary}. Nothing was written: put the key these values were encrypted "
            "with back into FIELD_ENCRYPTION_KEY (after the new key) and run again.",
        )
