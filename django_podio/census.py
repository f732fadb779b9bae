"""The secret census: which key each stored secret is under, read without decrypting rows.

One place answers "can we read every token with the configured keys?" for the system check
(E007/W003), key rotation (``podio_reencrypt``) and the admin. It looks at the stored
ciphertext (cast to text in the query, so the encrypted field never tries to decrypt) and
asks each configured key in turn.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

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


def with_raw_secrets(queryset: Any) -> Any:
    """Annotate ``raw_<column>`` with the stored ciphertext and defer the decrypting columns."""
    from django.db.models import TextField
    from django.db.models.functions import Cast

    return queryset.annotate(**{f"raw_{c}": Cast(c, TextField()) for c in SECRET_COLUMNS}).defer(
        *SECRET_COLUMNS
    )


def row_states(row: Any) -> dict[str, SecretState]:
    """Per-column state of a row loaded through :func:`with_raw_secrets` (or a values dict)."""
    get = row.get if isinstance(row, dict) else lambda key: getattr(row, key, None)
    return {column: state_of(get(f"raw_{column}")) for column in SECRET_COLUMNS}


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


def take_census(queryset: Any = None, *, limit: int | None = None, chunk_size: int = 500) -> Census:
    """Count stored secrets by state; ``limit`` samples the most recently written rows."""
    from .models import PodioConnection

    if queryset is None:
        queryset = PodioConnection.objects.all()
    columns = [f"raw_{c}" for c in SECRET_COLUMNS]
    if limit is not None:
        rows = with_raw_secrets(queryset.order_by("-updated_at")).values("pk", *columns)[:limit]
    else:
        rows = with_raw_secrets(queryset.order_by("pk")).values("pk", *columns)
        rows = rows.iterator(chunk_size=chunk_size)
    census = Census()
    for row in rows:
        census.count(row["pk"], row_states(row))
    return census
