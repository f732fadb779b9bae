"""Masking of secret-shaped text: the one place that decides what looks like a Podio secret.

Podio access tokens, refresh tokens, authorization codes and app tokens are long runs of
letters and digits. Ordinary log text (words, ids, paths) never has 24 such characters in a
row, so masking those runs is safe and needs no list of known secrets.
"""

from __future__ import annotations

import logging
import re

_SECRETISH = re.compile(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{24,}(?![A-Za-z0-9_\-])")
_FERNET = re.compile(r"gAAAAA[A-Za-z0-9_\-=]+")
_AUTH_HEADER = re.compile(r"((?:OAuth2|Bearer)\s+)\S+", re.IGNORECASE)
__all__ = ["MASK", "RedactingFilter", "redact"]

#: What a masked secret is replaced with.
MASK = "[redacted]"


def redact(text: str) -> str:
    """Return ``text`` with anything shaped like a token, code, secret or ciphertext masked."""
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
    text = _FERNET.sub(MASK, text)
    return _SECRETISH.sub(MASK, text)


class MaskedDict(dict):
    """A dict whose ``repr`` masks every value: for token answers handed to code we do not own.

    Django's error reports print each frame's local variables with ``repr``; allauth keeps the
    token answer in a local while it completes the login, so a failure there (a host's
    receiver raising, a database error) would print the tokens. The keys stay visible.
    """

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{key!r}: {MASK!r}" for key in self) + "}"

    __str__ = __repr__


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in a record's final message.

    django-podio installs it on its own ``django_podio`` logger; host projects can add it to
    any handler (``"()": "django_podio.redaction.RedactingFilter"``) to cover allauth, urllib3
    and ``django.server`` (whose access log contains ``?code=`` on the OAuth callback).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def get_logger(name: str) -> logging.Logger:
    """A package logger with the redacting filter attached.

    Logger filters are not inherited by child loggers, so each of ours gets its own.
    """
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger
