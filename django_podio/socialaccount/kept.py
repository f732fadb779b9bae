"""The pair a token login bound, kept until that login has been stored, for the retry.

Binding spends the browser's refresh token: from Podio's answer on, the new pair is the only
way back to the user's Podio session. Whatever can fail after it (allauth refusing, a host's
receiver raising, the database failing while the login is stored) must not throw it away. So
the answer is kept in Django's cache, encrypted with ``FIELD_ENCRYPTION_KEY``, under a keyed
digest of our client id and the spent refresh token, for :data:`KEEP_SECONDS`. The same
request sent again (same tokens) finds it and completes the login without asking Podio; the
receivers forget it once the connection is stored. Holding the browser's tokens was already
enough to sign in until they were spent, so keeping their answer for the retry gives nobody
more than they had.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.cache import cache
from django.utils.crypto import salted_hmac

from .. import fields
from ..api.oauth import TokenResponse
from ..redaction import get_logger
from .posted import PostedTokens

logger = get_logger("django_podio.login")

KEEP_SECONDS = 10 * 60
#: allauth's login state key naming the kept pair, so the receivers can forget it once stored.
STATE_KEY = "podio_kept"
_PREFIX = "django_podio:kept-pair:"


def key_for(client_id: str, browser: PostedTokens) -> str:
    """A keyed digest: the cache never holds, and cannot confirm a guess of, the token."""
    digest = salted_hmac(
        "django_podio.socialaccount.kept", f"{client_id}\0{browser.refresh_token}"
    ).hexdigest()
    return _PREFIX + digest


def keep(key: str, answer: TokenResponse) -> None:
    """Keep a token answer for the retry; a cache that fails only loses that convenience."""
    try:
        cache.set(
            key,
            fields.encrypt(
                json.dumps(
                    {
                        "access_token": answer.access_token,
                        "refresh_token": answer.refresh_token,
                        "expires_at": time.time() + answer.expires_in,
                        "scope": answer.scope,
                        "ref": {"type": answer.ref_type, "id": answer.ref_id},
                    }
                )
            ),
            KEEP_SECONDS,
        )
    except Exception as error:
        logger.warning(
            "The bound Podio token pair could not be kept for a retry (%s)", type(error).__name__
        )


def find(key: str) -> TokenResponse | None:
    """The answer kept under ``key``, if any (unreadable or expired counts as none)."""
    kept = cache.get(key)
    if not isinstance(kept, str):
        return None
    try:
        return _answer(fields.decrypt(kept))
    except Exception as error:
        logger.warning("A kept Podio token pair could not be read (%s)", type(error).__name__)
        return None


def _answer(text: str) -> TokenResponse:
    data: dict[str, Any] = json.loads(text)
    data["expires_in"] = max(1, int(float(data.pop("expires_at")) - time.time()))
    return TokenResponse.from_json(data)


def forget(key: Any) -> None:
    if not isinstance(key, str) or not key.startswith(_PREFIX):
        return
    try:
        cache.delete(key)
    except Exception as error:
        logger.warning("A kept Podio token pair could not be forgotten (%s)", type(error).__name__)
