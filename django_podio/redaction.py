"""Masking of secret-shaped text: the one place that decides what looks like a Podio secret.

Podio access tokens, refresh tokens, authorization codes and app tokens are long runs of
letters and digits. Ordinary log text (words, ids, paths) never has 24 such characters in a
row, so masking those runs is safe and needs no list of known secrets.
"""

from __future__ import annotations

import logging
import re

_SECRETISH = re.compile(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{24,}(?![A-Za-z0-9_\-])")
# A long lower-case word (``sociallogin_from_response``, ``django-podio-hooks``) is a name in a
# traceback or a slug, not a secret: a random token of 24 characters has no upper-case letter
# and no digit once in about 10**9 draws.
_WORDISH = re.compile(r"[a-z_\-]+")
_FERNET = re.compile(r"gAAAAA[A-Za-z0-9_\-=]+")
_AUTH_HEADER = re.compile(r"((?:OAuth2|Bearer)\s+)\S+", re.IGNORECASE)
# Query and form parameters that carry a credential whatever its length (an authorization
# code may be short): ``?code=…`` on the OAuth callback, tokens in a fragment or a form.
_SECRET_PARAM = re.compile(
    r"(?<![A-Za-z0-9_])((?:code|access_token|refresh_token|client_secret|app_token|token)=)"
    r"[^&#\s\"'<>]+"
)

__all__ = ["MASK", "RedactingFilter", "redact"]

#: What a masked secret is replaced with.
MASK = "[redacted]"
#: The loggers Django itself writes request paths to: ``runserver``'s access log and the
#: 4xx/5xx reports (also the admins' mail subject). ``AppConfig.ready()`` filters both.
DJANGO_LOGGERS = ("django.server", "django.request")


def redact(text: str) -> str:
    """Return ``text`` with anything shaped like a token, code, secret or ciphertext masked."""
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
    text = _SECRET_PARAM.sub(lambda m: m.group(1) + MASK, text)
    text = _FERNET.sub(MASK, text)
    return _SECRETISH.sub(_mask_unless_a_word, text)


def _mask_unless_a_word(match: re.Match[str]) -> str:
    return match.group(0) if _WORDISH.fullmatch(match.group(0)) else MASK


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in a record's final message and traceback text.

    django-podio installs it on its own ``django_podio`` loggers and, from
    ``AppConfig.ready()``, on Django's ``django.server`` and ``django.request``. Host projects
    can add it to any handler (``"()": "django_podio.redaction.RedactingFilter"``) to cover
    other libraries too (allauth, urllib3).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters print the traceback from ``exc_text`` when it is set: an exception
            # message quoting a URL or a token is masked like the message. Set only when
            # something was masked, so a handler's own traceback formatting stays otherwise.
            try:
                text = logging.Formatter().formatException(record.exc_info)
            except Exception:
                return True
            masked = redact(text)
            if masked != text:
                record.exc_text = masked
        return True


def get_logger(name: str) -> logging.Logger:
    """A package logger with the redacting filter attached.

    Logger filters are not inherited by child loggers, so each of ours gets its own.
    """
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger


def install_on_django_loggers() -> None:
    """Filter Django's request loggers (idempotent: ``ready()`` may run more than once).

    Only a filter is added to each logger: the host's handlers, levels and propagation are
    left as its ``LOGGING`` made them. A filter on a logger acts on the records logged there
    before any handler (or a parent's handler) sees them.
    """
    for name in DJANGO_LOGGERS:
        get_logger(name)
