"""Key rotation: re-encrypt every stored secret under the first configured key."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.core.management.base import CommandParser

from ... import tokens
from ..base import PodioCommand, plural


class Command(PodioCommand):
    help = (
        "Re-encrypt every value of django-podio's EncryptedTextField, in every installed model "
        "(Podio tokens and the host's own), under the first key of FIELD_ENCRYPTION_KEY. "
        "Writes nothing when any value cannot be decrypted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would change; write nothing."
        )
        parser.add_argument(
            "--include-encrypted-model-fields",
            action="store_true",
            help="Also re-encrypt the columns of django-encrypted-model-fields' own fields "
            "(that package has no rotation command).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = tokens.reencrypt_all(
            dry_run=options["dry_run"],
            include_encrypted_model_fields=options["include_encrypted_model_fields"],
        )
        verb = "would be re-encrypted" if report.dry_run else "re-encrypted"
        summary = (
            f"{plural(report.current, 'value')} already current, {report.reencrypted} {verb}, "
            f"{report.undecryptable} undecryptable"
        )
        if report.retried:
            summary += f" ({plural(report.retried, 'row')} changed meanwhile, read again)"
        for label, counts in report.models.items():
            self.detail(
                f"{label}: {counts.current} current, {counts.reencrypted} {verb}, "
                f"{counts.undecryptable} undecryptable"
            )
        if report.conflicts:
            error = (
                f"{summary}; {plural(report.conflicts, 'row')} kept changing under an older key: "
                "some host still encrypts with it. Put the new key first everywhere, then run "
                "again."
            )
        elif report.reencrypted:
            error = (
                f"{summary}: values written meanwhile under a key that is no longer listed "
                "were left as they are. Put that key back into FIELD_ENCRYPTION_KEY (after "
                "the new key) and run again."
            )
        else:
            error = (
                f"{summary}. Nothing was written: put the key these values were encrypted "
                "with back into FIELD_ENCRYPTION_KEY (after the new key) and run again."
            )
        self.finish({**asdict(report), "ok": report.ok}, summary, ok=report.ok, error=error)
