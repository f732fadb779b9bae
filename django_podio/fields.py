"""Encrypted model fields that cannot lie.

Built on django-encrypted-model-fields (its key parsing and Fernet encryption), fixing the
defects verified in ``shared/notes/encrypted-fields.md``:

* unreadable ciphertext raises :class:`DecryptionError` instead of being returned as if it
  were the token (which would later be sent to Podio, or encrypted a second time on save);
* writes through expressions (``bulk_update()``, ``update(f=Value(...))``) store the
  encrypted value rather than the encrypted text of the expression's ``repr``;
* the keys are read from settings when used, not frozen at import, so rotation and
  ``override_settings`` behave;
* lookups other than ``isnull`` are refused: ciphertext is randomised, so ``filter(token=x)``
  could only ever match nothing, silently.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models
from django.db.models import Value
from encrypted_model_fields import fields as emf

from .exceptions import DecryptionError


def _configured_keys() -> tuple[str, ...]:
    keys = getattr(settings, "FIELD_ENCRYPTION_KEY", None)
    if isinstance(keys, (list, tuple)):
        return tuple(str(k) for k in keys)
    return (str(keys),) if keys is not None else ()


@lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[Fernet, ...]:
    # Reuse the library's parser so a bad key fails with its ImproperlyConfigured message.
    emf.get_crypter()
    return tuple(emf.parse_key(k) for k in keys)


def fernets() -> tuple[Fernet, ...]:
    return _fernets(_configured_keys())


def encrypt(plaintext: str) -> str:
    """Encrypt under the first configured key."""
    return fernets()[0].encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(ciphertext: str) -> str:
    """Decrypt with any configured key; raise ``InvalidToken`` when none can."""
    return MultiFernet(list(fernets())).decrypt(ciphertext.encode("ascii")).decode("utf-8")


def key_index(ciphertext: str) -> int | None:
    """Which configured key reads this value: 0 is current, >0 needs re-encryption, None none."""
    data = ciphertext.encode("ascii", errors="replace")
    for index, fernet in enumerate(fernets()):
        try:
            fernet.decrypt(data)
        except InvalidToken:
            continue
        return index
    return None


def reencrypt(ciphertext: str) -> str:
    """Re-encrypt a stored value under the first key (raises ``InvalidToken`` if unreadable)."""
    return MultiFernet(list(fernets())).rotate(ciphertext.encode("ascii")).decode("ascii")


SEAL_PREFIX = "django_podio.sealed:"


def seal(plaintext: str) -> str:
    """Encrypt a token that must travel through a place we do not control (allauth's session
    copy of a pending sign-up); :func:`unseal` restores it, plain values pass through."""
    if not plaintext or plaintext.startswith(SEAL_PREFIX):
        return plaintext
    return SEAL_PREFIX + encrypt(plaintext)


def unseal(value: str) -> str:
    if value and value.startswith(SEAL_PREFIX):
        try:
            return decrypt(value[len(SEAL_PREFIX) :])
        except InvalidToken:
            raise DecryptionError(
                "A sealed Podio token (pending sign-up) cannot be decrypted with the configured "
                "FIELD_ENCRYPTION_KEY."
            ) from None
    return value


class EncryptedTextField(emf.EncryptedTextField):
    """Text encrypted at rest with ``FIELD_ENCRYPTION_KEY`` (Fernet; a list allows rotation)."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        try:
            return decrypt(value)
        except (InvalidToken, UnicodeError, ValueError):
            model = self.model._meta.label if hasattr(self, "model") else "?"
            raise DecryptionError(
                f"Cannot decrypt {model}.{self.name} with the configured FIELD_ENCRYPTION_KEY "
                "(wrong key, key removed before re-encryption, or corrupt data)."
            ) from None

    def to_python(self, value: Any) -> Any:
        # Form and user input is plaintext: never try to decrypt it.
        return models.TextField.to_python(self, value)

    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        if hasattr(value, "as_sql"):
            # A plain Value("x") compiles as a CharField: encrypt its payload here. A Value whose
            # output field is ours encrypts itself when compiled (bulk_update's CASE branches).
            if (
                isinstance(value, Value)
                and isinstance(value.value, str)
                and not isinstance(value._output_field_or_none, EncryptedTextField)
            ):
                return Value(encrypt(value.value))
            return value
        if value is None:
            return None
        return encrypt(str(value))

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)
