"""Key rotation: re-encrypt every stored secret under the first key of FIELD_ENCRYPTION_KEY."""

from __future__ import annotations

from dataclasses import dataclass

from ..census import SECRET_COLUMNS, SecretState, row_states, take_census, with_raw_secrets
from ..db import write_atomic
from ..events import auth_event
from ..models import PodioConnection
from ..redaction import get_logger

logger = get_logger("django_podio.tokens")


@dataclass
class ReencryptReport:
    current: int = 0  # already under the first key
    reencrypted: int = 0  # (or, in a dry run, would be)
    undecryptable: int = 0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.undecryptable == 0


def reencrypt_all(*, dry_run: bool = False, chunk_size: int = 500) -> ReencryptReport:
    """Re-encrypt every stored secret under the first key of ``FIELD_ENCRYPTION_KEY``.

    A first pass only reads (the census): if any value cannot be decrypted, nothing is
    written at all (the operator has dropped a key too early and must put it back). Then each
    chunk is rewritten in its own transaction with its rows locked, so a refresh running
    meanwhile is not lost; the values go through the model field, never through a bulk path.
    """
    census = take_census(chunk_size=chunk_size)
    planned = ReencryptReport(
        current=census.current,
        reencrypted=census.stale,
        undecryptable=census.undecryptable,
        dry_run=dry_run,
    )
    if dry_run or not census.readable or census.stale == 0:
        return planned

    report = ReencryptReport(current=census.current)
    pks = census.stale_pks
    for start in range(0, len(pks), chunk_size):
        with write_atomic():
            rows = with_raw_secrets(
                PodioConnection.objects.select_for_update().filter(
                    pk__in=pks[start : start + chunk_size]
                )
            )
            for row in rows:
                states = row_states(row)
                stale = [c for c in SECRET_COLUMNS if states[c] is SecretState.STALE]
                report.undecryptable += sum(s is SecretState.UNDECRYPTABLE for s in states.values())
                if stale:
                    connection = PodioConnection.objects.get(pk=row.pk)  # decrypts, any key
                    connection.save(update_fields=stale)  # encrypts under the first key
                    report.reencrypted += len(stale)
    logger.info("Re-encrypted %d secret(s); %d already current", report.reencrypted, census.current)
    auth_event("key_rotation", reencrypted=report.reencrypted, current=census.current)
    return report
