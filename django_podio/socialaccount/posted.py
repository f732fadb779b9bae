"""The tokens a front end posts to allauth's token login, taken out before allauth reads them.

allauth headless parses the request body into a dict and keeps it, and the token inside it, in
the local variables of its own frames (``RESTView.handle_input``'s ``data``,
``ProviderTokenInput.clean``'s ``token`` and ``access_token``). Whatever fails there before or
after our ``verify_token`` runs (the ``SocialApp`` row cannot be read, the rate-limit cache is
down, a host's receiver raises) becomes a 500 whose DEBUG page, HTML error mail and error
tracker event print those variables. Masking them where they are is impossible: a string
cannot be changed in place, and allauth needs a non-empty string for ``access_token``.

So, for ``"provider": "podio"`` only, the parsed body is masked the moment allauth has parsed
it: every token value becomes :data:`PLACEHOLDER`, the request's raw body is replaced by the
masked JSON (a tracker that attaches the body reads that), and the real values wait on the
request in a :class:`PostedTokens` (a ``repr`` that shows nothing). ``verify_token`` takes them
from there and nothing else ever sees them. The hook into allauth is one override of
``ProviderTokenView._parse_json``, installed from ``AppConfig.ready()``; tests fail loudly if a
new allauth stops calling it, and without it ``verify_token`` still takes the tokens out of the
dict it is given (the earlier, weaker protection).
"""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

from django.http import HttpRequest

from ..conf import PROVIDER_ID

PLACEHOLDER = "********"
TOKEN_KEYS = ("access_token", "refresh_token", "id_token")
ATTRIBUTE = "_django_podio_posted_tokens"
_INSTALLED = "_django_podio_masks_tokens"


class PostedTokens:
    """The browser's tokens, out of every frame's locals; ``process`` is not secret."""

    __slots__ = ("access_token", "process", "refresh_token")

    def __init__(self, access_token: str, refresh_token: str, process: str = "") -> None:
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.process = process

    def __repr__(self) -> str:
        return f"PostedTokens(access_token={PLACEHOLDER}, refresh_token={PLACEHOLDER})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("posted tokens are not pickled")


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def take(request: HttpRequest, data: Any) -> None:
    """Mask a parsed token-login body in place; keep the real tokens on the request."""
    if not isinstance(data, dict) or data.get("provider") != PROVIDER_ID:
        return
    token = data.get("token")
    if not isinstance(token, dict):
        return
    found = {key: token.get(key) for key in TOKEN_KEYS}
    for key, value in found.items():
        # Only non-empty strings: allauth's own answers to missing or odd values stay as they
        # were (``token_required``), and a placeholder never stands for nothing.
        if isinstance(value, str) and value:
            token[key] = PLACEHOLDER
    process = data.get("process")
    setattr(
        request,
        ATTRIBUTE,
        PostedTokens(
            _text(found["access_token"]),
            _text(found["refresh_token"]),
            process if isinstance(process, str) else "",
        ),
    )
    masked = json.dumps(data).encode()
    request._body = masked  # what request.body returns from now on
    request._stream = BytesIO(masked)


def tokens_for(request: HttpRequest, token: dict[str, Any]) -> PostedTokens:
    """The browser's tokens: from the request when :func:`take` ran, else out of ``token``."""
    posted = getattr(request, ATTRIBUTE, None)
    if isinstance(posted, PostedTokens):
        return posted
    # Not through allauth's view (a direct call, or an allauth that no longer calls
    # ``_parse_json``): take them out of the dict, leaving the placeholder in their place.
    values = {key: token.get(key) for key in ("access_token", "refresh_token")}
    for key in values:
        if key in token:
            token[key] = PLACEHOLDER
    process = ""
    try:
        parsed = json.loads(request.body or b"{}")
        process = parsed.get("process", "") if isinstance(parsed, dict) else ""
    except Exception:  # noqa: S110 - no body to read (already streamed, not JSON): no process
        pass
    posted = PostedTokens(
        _text(values["access_token"]),
        _text(values["refresh_token"]),
        process if isinstance(process, str) else "",
    )
    setattr(request, ATTRIBUTE, posted)
    return posted


def install() -> bool:
    """Mask token-login bodies in allauth headless' ``ProviderTokenView`` (idempotent).

    Returns whether the hook is in place (``False`` without ``allauth.headless``).
    """
    from django.apps import apps

    if not apps.is_installed("allauth.headless"):
        return False
    from allauth.headless.socialaccount.views import ProviderTokenView

    parse = getattr(ProviderTokenView, "_parse_json", None)
    if parse is None:
        return False
    if getattr(parse, _INSTALLED, False):
        return True

    def _parse_json(self: Any, request: HttpRequest) -> Any:
        data = parse(self, request)
        take(request, data)
        return data

    setattr(_parse_json, _INSTALLED, True)
    _parse_json.__doc__ = "allauth's body parsing, then django-podio's masking of the tokens."
    ProviderTokenView._parse_json = _parse_json  # type: ignore[method-assign,unused-ignore]
    return True


def installed() -> bool:
    """Whether allauth's token-login view masks Podio's tokens (for the system check)."""
    from django.apps import apps

    if not apps.is_installed("allauth.headless"):
        return True  # nothing to mask: there is no token login
    from allauth.headless.socialaccount.views import ProviderTokenView

    return bool(getattr(getattr(ProviderTokenView, "_parse_json", None), _INSTALLED, False))
