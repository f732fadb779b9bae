"""The secret census: which key each stored secret is under, read without decrypting rows.

One place answers "can we read every token with the configured keys?" for the system check
(E007/W003), key rotation (``podio_reencrypt``) and the admin. It looks at the stored
ciphertext (cast to text in the query, so the encrypted field never tries to decrypt) and
asks each configured key in turn. It also finds the encrypted columns of every installed
model (:func:`encrypted_columns`), for rotating the host's own secrets.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import models

from . import fields

SECRET_COLUMNS = ("access_token", "refresh_token", "app_token")


class SecretState(enum.StrEnum):
    EMPTY = "empty"
    CURRENT = "current"  # readable with the first key
    STALE = "stale"  # readable with an older key only: rotation pending
    UNDECRYPTABLE = "undecryptable"  # no configured key reads it


def state_of(ciphertext: str | None) -> SecretState:
    if not ciphertext:
        return SecretState.EMPTY
    index = fields.key_index(ciphertext)
    if index is None:
        return SecretState.UNDECRYPTABLE
    return SecretState.CURRENT if index == 0 else SecretState.STALE


def with_raw_secrets(queryset: Any, columns: Sequence[str] = SECRET_COLUMNS) -> Any:
    """Annotate ``raw_<column>`` with the stored ciphertext and defer the decrypting columns."""
    from django.db.models import TextField
    from django.db.models.functions import Cast

    return queryset.annotate(**{f"raw_{c}": Cast(c, TextField()) for c in columns}).defer(*columns)


def row_states(row: Any, columns: Sequence[str] = SECRET_COLUMNS) -> dict[str, SecretState]:
    """Per-column state of a row loaded through :func:`with_raw_secrets` (or a values dict)."""
    get = row.get if isinstance(row, dict) else lambda key: getattr(row, key, None)
    return {column: state_of(get(f"raw_{column}")) for column in columns}


@dataclass
class Census:
    current: int = 0
    stale: int = 0
    undecryptable: int = 0
    undecryptable_pks: list[int] = field(default_factory=list)
    stale_pks: list[int] = field(default_factory=list)

    @property
    def readable(self) -> bool:
        return self.undecryptable == 0

    def count(self, pk: int, states: dict[str, SecretState]) -> None:
        values = list(states.values())
        self.current += values.count(SecretState.CURRENT)
        self.stale += values.count(SecretState.STALE)
        self.undecryptable += values.count(SecretState.UNDECRYPTABLE)
        if SecretState.UNDECRYPTABLE in values:
            self.undecryptable_pks.append(pk)
        if SecretState.STALE in values:
            self.stale_pks.append(pk)


def take_census(
    queryset: Any = None,
    *,
    columns: Sequence[str] = SECRET_COLUMNS,
    limit: int | None = None,
    chunk_size: int = 500,
) -> Census:
    """Count stored secrets by state (``PodioConnection``'s by default, or ``columns`` of
    ``queryset``'s model); ``limit`` samples the most recently written connections."""
    from .models import PodioConnection

    if queryset is None:
        queryset = PodioConnection.objects.all()
    raw = [f"raw_{c}" for c in columns]
    if limit is not None:
        rows = with_raw_secrets(queryset.order_by("-updated_at"), columns).values("pk", *raw)
        rows = rows[:limit]
    else:
        rows = with_raw_secrets(queryset.order_by("pk"), columns).values("pk", *raw)
        rows = rows.iterator(chunk_size=chunk_size)
    census = Census()
    for row in rows:
        census.count(row["pk"], row_states(row, columns))
    return census


@dataclass(frozen=True)
class EncryptedColumns:
    """The encrypted fields a model declares (its own table's, not an inherited parent's)."""

    model: type[models.Model]
    fields: tuple[models.Field, ...]

    @property
    def label(self) -> str:
        return self.model._meta.label

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def encrypted_columns(*, include_encrypted_model_fields: bool = False) -> list[EncryptedColumns]:
    """Every installed model's columns of :class:`~django_podio.fields.EncryptedTextField`
    (django-podio's and the host's), and with ``include_encrypted_model_fields`` those of
    django-encrypted-model-fields' own fields (any type: they all store Fernet text).

    Proxy and unmanaged models are left out (a proxy shares its model's table; an unmanaged
    one's table is not Django's to write). django-encrypted-model-fields is looked up only
    when a model has imported it: no import here builds its crypter.
    """
    kinds: tuple[type, ...] = (fields.EncryptedTextField,)
    library = sys.modules.get("encrypted_model_fields.fields")
    if include_encrypted_model_fields and library is not None:
        kinds += (library.EncryptedMixin,)
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        columns = tuple(f for f in model._meta.local_concrete_fields if isinstance(f, kinds))
        if columns:
            found.append(EncryptedColumns(model, columns))
    return found
