"""Key rotation: re-encrypt every stored secret under the first key of FIELD_ENCRYPTION_KEY.

Every column of :class:`~django_podio.fields.EncryptedTextField` in any installed model (the
tokens here, and the host's own models that use the field), and on request the host's
django-encrypted-model-fields columns (that package has no rotation command).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import connections, router, transaction

from .. import fields
from ..census import (
    EncryptedColumns,
    SecretState,
    encrypted_columns,
    state_of,
    take_census,
    with_raw_secrets,
)
from ..events import auth_event
from ..redaction import get_logger

logger = get_logger("django_podio.tokens")

#: Times a row is read again after a concurrent write changed it under us; a row still
#: changing after that (a host that still encrypts under the old key) is left for a later run.
MAX_ATTEMPTS = 5


@dataclass
class ModelReport:
    """One model's counts in a :class:`ReencryptReport`."""

    current: int = 0  # already under the first key
    reencrypted: int = 0  # (or, in a dry run, would be)
    undecryptable: int = 0
    stale: int = 0  # under an older key when counted (before any write)


@dataclass
class ReencryptReport:
    current: int = 0  # already under the first key
    reencrypted: int = 0  # (or, in a dry run, would be)
    undecryptable: int = 0
    #: Values under an older key when counted, before any write.
    stale: int = 0
    #: Rows read again because another writer (a token refresh) changed them meanwhile.
    retried: int = 0
    #: Rows that kept changing under an older key, so were not re-encrypted (run again).
    conflicts: int = 0
    dry_run: bool = False
    #: The same counts per model, by label (``app_label.Model``).
    models: dict[str, ModelReport] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.undecryptable == 0 and self.conflicts == 0

    def add(self, label: str, **counts: int) -> None:
        per_model = self.models.setdefault(label, ModelReport())
        for name, value in counts.items():
            setattr(per_model, name, getattr(per_model, name) + value)
            setattr(self, name, getattr(self, name) + value)


def reencrypt_all(
    *,
    dry_run: bool = False,
    include_encrypted_model_fields: bool = False,
    chunk_size: int = 500,
) -> ReencryptReport:
    """Re-encrypt every stored secret under the first key of ``FIELD_ENCRYPTION_KEY``.

    A first pass only reads (the census): if any value cannot be decrypted, nothing is
    written at all (the operator has dropped a key too early and must put it back). Then each
    stale value is rotated from its ciphertext (``MultiFernet.rotate``: never through a model
    field, so no field's save logic runs) and written with a compare-and-set on the
    ciphertext just read (``UPDATE … WHERE pk = … AND column = <that ciphertext>``). A row
    that a token refresh wrote meanwhile matches nothing; it is read again and, when still
    stale, tried again: a newer token is never overwritten with an older one, and no lock is
    held while anything else happens.
    """
    targets = encrypted_columns(include_encrypted_model_fields=include_encrypted_model_fields)
    planned = ReencryptReport(dry_run=dry_run)
    for target in targets:
        census = take_census(
            target.model._base_manager.using(router.db_for_write(target.model)),
            columns=target.names,
            chunk_size=chunk_size,
        )
        planned.add(
            target.label,
            current=census.current,
            reencrypted=census.stale if dry_run else 0,
            undecryptable=census.undecryptable,
            stale=census.stale,
        )
    if dry_run or planned.undecryptable or planned.stale == 0:
        return planned

    report = ReencryptReport()
    for target in targets:
        report.add(target.label, stale=planned.models[target.label].stale)
        _rotate_model(target, report, chunk_size)
    logger.info(
        "Re-encrypted %d secret(s); %d already current; %d row(s) re-read after a concurrent write",
        report.reencrypted,
        report.current,
        report.retried,
    )
    auth_event("key_rotation", reencrypted=report.reencrypted, current=report.current)
    return report


def _rotate_model(target: EncryptedColumns, report: ReencryptReport, chunk_size: int) -> None:
    """Every row of the model, a chunk at a time in primary-key order."""
    alias = router.db_for_write(target.model)
    rows = target.model._base_manager.using(alias).order_by("pk")
    last = None
    while True:
        chunk = _raw_rows(target, (rows if last is None else rows.filter(pk__gt=last))[:chunk_size])
        if not chunk:
            return
        last = chunk[-1][0]
        _rotate_rows(target, alias, chunk, report)


def _rotate_rows(
    target: EncryptedColumns,
    alias: str,
    rows: list[tuple[Any, dict[str, str | None]]],
    report: ReencryptReport,
) -> None:
    """Rotate the stale values of these rows, each row fenced on the ciphertext read.

    Counts describe what each row held when last read: a value a refresh re-encrypted
    meanwhile counts as current, not as re-encrypted by us.
    """
    for _attempt in range(MAX_ATTEMPTS):
        plans: list[tuple[Any, dict[str, str], int]] = []
        for pk, raw in rows:
            states = {name: state_of(value) for name, value in raw.items()}
            counts = {state: list(states.values()).count(state) for state in SecretState}
            if counts[SecretState.UNDECRYPTABLE]:
                # Written meanwhile under a key no longer listed: never touched.
                report.add(target.label, undecryptable=counts[SecretState.UNDECRYPTABLE])
                continue
            stale = {
                name: str(raw[name]) for name, state in states.items() if state is SecretState.STALE
            }
            if stale:
                plans.append((pk, stale, counts[SecretState.CURRENT]))
            else:
                report.add(target.label, current=counts[SecretState.CURRENT])
        changed = []
        # The transaction's first statement is a write (the rows were read before it), which
        # on SQLite waits for the write lock instead of failing on a stale snapshot; no read
        # in it, so a row read again below is always read fresh.
        with transaction.atomic(using=alias):
            for pk, old, current in plans:
                new = {name: fields.reencrypt(value) for name, value in old.items()}
                if _compare_and_set(target, alias, pk, old, new):
                    report.add(target.label, reencrypted=len(new), current=current)
                else:
                    changed.append(pk)
        if not changed:
            return
        report.retried += len(changed)
        rows = _raw_rows(target, target.model._base_manager.using(alias).filter(pk__in=changed))
    report.conflicts += len(rows)


def _raw_rows(target: EncryptedColumns, queryset: Any) -> list[tuple[Any, dict[str, str | None]]]:
    """``(pk, {field name: stored ciphertext})`` for the rows of ``queryset``."""
    names = target.names
    values = with_raw_secrets(queryset, names).values("pk", *(f"raw_{name}" for name in names))
    return [(row["pk"], {name: row[f"raw_{name}"] for name in names}) for row in values]


def _compare_and_set(
    target: EncryptedColumns,
    alias: str,
    pk: Any,
    old: dict[str, str],
    new: dict[str, str],
) -> bool:
    """``UPDATE … SET column = new WHERE pk = … AND column = old``: whether the row matched."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    meta = target.model._meta
    columns = {f.name: f.column for f in target.fields}
    sets = ", ".join(f"{quote(columns[name])} = %s" for name in new)
    fences = " AND ".join(f"{quote(columns[name])} = %s" for name in old)
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {sets} "  # noqa: S608 - quoted names, values as params  # nosec B608
        f"WHERE {quote(meta.pk.column)} = %s AND {fences}"
    )
    params = [*new.values(), meta.pk.get_db_prep_value(pk, connection), *old.values()]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount == 1
