"""Encrypted model fields that cannot lie, on django-encrypted-model-fields.

The key setting, the key parsing and the cipher are django-encrypted-model-fields': its
``get_crypter()`` reads ``FIELD_ENCRYPTION_KEY`` (one Fernet key, or a list ``[new, old, …]``
while rotating) into a ``MultiFernet``, and the ciphertext is the same, so values written by
its fields and by ours read each other. What that package does unsoundly (verified in the
project's notes on it) the fields here do differently:

* its module builds a crypter when it is imported, so importing it at the top of this module
  would make every ``manage.py`` command (``help``, ``check``, ``makemigrations``,
  ``collectstatic`` in a Docker build stage) crash without a key. It is imported when a secret
  is first read or written instead, after the setting has been checked: a missing or
  malformed key is system check ``django_podio.E008`` and an ``ImproperlyConfigured`` at first
  use. Its crypter is asked for again whenever the setting changes, so rotation and
  ``override_settings`` behave (its own module-level crypter is never used);
* unreadable ciphertext raises :class:`DecryptionError` instead of being returned as if it
  were the token (which would later be sent to Podio, or encrypted a second time on save);
* writes through expressions (``bulk_update()``, ``update(f=Value(...))``) store the
  encrypted value rather than the encrypted text of the expression's ``repr``;
* lookups other than ``isnull`` are refused: ciphertext is randomised, so ``filter(token=x)``
  could only ever match nothing, silently.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import Value

from .exceptions import DecryptionError

__all__ = ["EncryptedTextField"]

KEY_HINT = (
    'Make a key with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())" and set FIELD_ENCRYPTION_KEY from the environment '
    "(a list [new, old] while rotating keys)."
)


def key_problem() -> str | None:
    """What is wrong with ``FIELD_ENCRYPTION_KEY`` (never quoting a key), or None.

    Shared by system check E008 and the first read or write of a secret.
    """
    if not hasattr(settings, "FIELD_ENCRYPTION_KEY"):
        return "FIELD_ENCRYPTION_KEY is not set."
    keys: Any = settings.FIELD_ENCRYPTION_KEY  # a host's: str, bytes, a list of them, or junk
    if isinstance(keys, (list, tuple)):
        if not keys:
            return "FIELD_ENCRYPTION_KEY is an empty list."
        for position, key in enumerate(keys, start=1):
            if not _is_fernet_key(key):
                return (
                    f"FIELD_ENCRYPTION_KEY[{position - 1}] (key {position} of {len(keys)}) is not "
                    "a Fernet key (32 url-safe base64-encoded bytes)."
                )
        return None
    if keys is None or keys == "" or keys == b"":
        return "FIELD_ENCRYPTION_KEY is empty."
    if not _is_fernet_key(keys):
        return "FIELD_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64-encoded bytes)."
    return None


def _is_fernet_key(key: Any) -> bool:
    if not isinstance(key, (str, bytes)):
        return False
    try:
        Fernet(key)
    except (ValueError, TypeError, binascii.Error):
        return False
    return True


def _configured_keys() -> tuple[str | bytes, ...]:
    keys = getattr(settings, "FIELD_ENCRYPTION_KEY", None)
    if isinstance(keys, (list, tuple)):
        return tuple(keys)
    return (keys,) if keys is not None else ()


def encrypted_model_fields() -> Any:
    """django-encrypted-model-fields' ``fields`` module, imported at first use.

    Importing it builds its module-level crypter from ``FIELD_ENCRYPTION_KEY``, so it is only
    imported once the setting is known to be usable (:func:`key_problem`).
    """
    return import_module("encrypted_model_fields.fields")


@dataclass(frozen=True)
class Keys:
    """The configured keys as django-encrypted-model-fields parses them."""

    #: Its ``get_crypter()``: encrypts under the first key, decrypts with any.
    crypter: MultiFernet
    #: Its ``parse_key()`` of each key, first one current: which key reads a value.
    fernets: tuple[Fernet, ...]


_KEYS: dict[tuple[Any, ...], Keys] = {}


def keys() -> Keys:
    """The configured keys, parsed once per value of the setting.

    ``ImproperlyConfigured`` (naming no key) when the setting is missing or malformed.
    """
    configured = _configured_keys()
    try:
        cached = _KEYS.get(configured)
    except TypeError:  # unhashable junk in the setting: report it, do not cache it
        junk = key_problem() or "FIELD_ENCRYPTION_KEY is not a key or a list of keys."
        raise ImproperlyConfigured(f"{junk} {KEY_HINT}") from None
    if cached is not None:
        return cached
    problem = key_problem()
    if problem:
        raise ImproperlyConfigured(f"{problem} {KEY_HINT}")
    library = encrypted_model_fields()
    parsed = Keys(library.get_crypter(), tuple(library.parse_key(key) for key in configured))
    if _configured_keys() != configured:
        # The setting changed while it was read twice (override_settings in another thread):
        # never remember a crypter under keys it was not built from.
        return keys()
    if len(_KEYS) >= 8:  # a process sees one or two values; tests see a few more
        _KEYS.clear()
    _KEYS[configured] = parsed
    return parsed


def fernets() -> tuple[Fernet, ...]:
    """The configured keys, first one current; ``ImproperlyConfigured`` when unusable."""
    return keys().fernets


def encrypt(plaintext: str) -> str:
    """Encrypt under the first configured key."""
    return keys().crypter.encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(ciphertext: str) -> str:
    """Decrypt with any configured key; raise ``InvalidToken`` when none can."""
    return keys().crypter.decrypt(ciphertext.encode("ascii")).decode("utf-8")


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
    return keys().crypter.rotate(ciphertext.encode("ascii")).decode("ascii")


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


class EncryptedTextField(models.TextField):
    """Text encrypted at rest with ``FIELD_ENCRYPTION_KEY`` (Fernet; a list allows rotation).

    ``to_python`` is TextField's: form and user input is plaintext and is never decrypted.
    """

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

    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        if hasattr(value, "as_sql"):
            # A plain Value("x") compiles as a CharField: encrypt its payload here. A Value whose
            # output field is ours encrypts itself when compiled (bulk_update's CASE branches).
            if (
                isinstance(value, Value)
                and isinstance(value.value, str)
                and not isinstance(value._output_field_or_none, EncryptedTextField)  # type: ignore[attr-defined]
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

    def deconstruct(self) -> Any:
        # The column is text whatever the plaintext's length; max_length only validates forms.
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("max_length", None)
        return name, path, args, kwargs
