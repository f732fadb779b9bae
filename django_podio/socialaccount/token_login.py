"""Token login for allauth headless: Podio's client-side flow, bound to our client first.

A single-page or mobile front end runs Podio's client-side flow (``response_type=token``) and
posts the tokens from the URL fragment to allauth's ``…/auth/provider/token`` endpoint. Podio
has no endpoint that says which client a token was issued to, so an access token alone
could have been obtained by *any* Podio API client and replayed here to sign in as its user.
The refresh token is the proof: the token endpoint refuses a refresh token presented by a
client it was not issued to (RFC 6749 §6), so spending it with our client id and secret
succeeds only for tokens issued to us. That happens before anything else is trusted; the new
pair it returns is what we keep (the browser's refresh token is spent by it), and the profile
is read with the new access token.

Off unless ``SOCIALACCOUNT_PROVIDERS["podio"]["TOKEN_AUTH"]`` is ``True``.
"""

from __future__ import annotations

import traceback
from typing import Any

from allauth.core import ratelimit
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialLogin, SocialToken
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from ..api import oauth
from ..api.client import PodioClient
from ..conf import AppCredentials
from ..exceptions import PodioAPIError, PodioError
from ..redaction import get_logger

logger = get_logger("django_podio.login")

SETTING = "TOKEN_AUTH"
#: allauth's state key saying how the login arrived; the receivers put it on the auth event.
FLOW_STATE_KEY = "podio_flow"
FLOW = "client_side"

MISSING_REFRESH_MESSAGE = (
    "A Podio token login needs the refresh_token that Podio's client-side flow returned: "
    "without it the token cannot be bound to this site's Podio client."
)


def enabled(provider: Any) -> bool:
    """``TOKEN_AUTH`` is on only when it is exactly ``True`` (a typo stays off)."""
    return provider.get_settings().get(SETTING, False) is True


def refused(reason: str) -> ValidationError:
    """allauth's own ``invalid_token`` error (the 400 its headless API answers with)."""
    # The reason is for operators: error kinds and ids, never a token.
    logger.warning("Podio token login refused: %s", reason)
    return get_adapter().validation_error("invalid_token")


MASK = "********"


class BrowserTokens:
    """The tokens the front end posted, taken out of allauth's request data.

    Django's DEBUG page and the admins' error mail print every frame's local variables, and
    allauth's frames hold the parsed request body. Taking the tokens out of it (a mask left in
    their place) and keeping them here, behind a masked ``repr``, keeps them off both.
    """

    __slots__ = ("access_token", "refresh_token")

    def __init__(self, token: dict[str, Any]) -> None:
        self.access_token = _take(token, "access_token")
        self.refresh_token = _take(token, "refresh_token")

    def __repr__(self) -> str:
        return f"BrowserTokens(access_token={MASK}, refresh_token={MASK})"


def _take(token: dict[str, Any], key: str) -> str:
    value = token.get(key)
    if key in token:
        token[key] = MASK
    return value.strip() if isinstance(value, str) else ""


def _describe(error: PodioError) -> str:
    if isinstance(error, PodioAPIError):
        return f"HTTP {error.status} {error.error or 'error'}"
    return type(error).__name__


def bind_to_our_client(refresh_token: str, app: Any) -> oauth.TokenResponse:
    """Spend the browser's refresh token with our credentials; Podio refuses another client's.

    A 200 answer proves the token was issued to our client and hands us a new pair; the
    browser's refresh token is dead from then on. An answer without an access token (it still
    carries a refresh token, see ``TokenResponse``) is spent once more to get one.
    """
    credentials = AppCredentials(client_id=app.client_id, secret=app.secret)
    try:
        answer = oauth.refresh(refresh_token, credentials=credentials)
        if not answer.access_token and answer.refresh_token:
            answer = oauth.refresh(answer.refresh_token, credentials=credentials)
    except PodioError as error:
        raise refused(
            f"Podio did not refresh the token for our client ({_describe(error)})"
        ) from None
    if not answer.access_token:
        raise refused("Podio's refresh answer had no access token")
    return answer


def verify_token(provider: Any, request: HttpRequest, token: dict[str, Any]) -> SocialLogin:
    """allauth's ``Provider.verify_token`` for Podio: an unsaved login, or ``invalid_token``."""
    if not enabled(provider):
        # allauth checks ``supports_token_authentication`` first; never rely on it alone.
        raise refused("token login is off (TOKEN_AUTH)")
    app = provider.app
    if token.get("client_id") != app.client_id:
        # allauth compares a non-empty client_id only; an empty one would pass its check.
        raise refused("the request's client_id is not ours")
    browser = BrowserTokens(token)
    if not browser.refresh_token:
        logger.warning("Podio token login refused: no refresh_token in the request")
        raise ValidationError(MISSING_REFRESH_MESSAGE, code="invalid_token")
    # Each attempt from here on costs a request to Podio's token endpoint with our client's
    # credentials, and Podio rate-limits those per client: allauth's per-IP login limit
    # (ACCOUNT_RATE_LIMITS["login"]) keeps junk tokens from spending that budget.
    too_many = ratelimit.consume_or_429(request, action="login")
    if too_many is not None:
        logger.warning("Podio token login refused: rate limit (ACCOUNT_RATE_LIMITS['login'])")
        raise ImmediateHttpResponse(too_many)
    try:
        return _bound_login(provider, request, app, browser)
    except ValidationError:
        raise
    except Exception as error:
        # A bug in here (a host's adapter, say) must not become a 500: Django's error reports
        # print every frame's locals, and allauth's frames hold the access token the browser
        # posted. The traceback is logged (its message redacted), the login refused.
        logger.error(
            "Podio token login failed unexpectedly and was refused:\n%s",
            "".join(traceback.format_exception(error)),
        )
        raise get_adapter().validation_error("invalid_token") from None


def _bound_login(provider: Any, request: HttpRequest, app: Any, browser: BrowserTokens) -> Any:
    """Bind, then read the profile with the new pair and build allauth's login from it."""
    # The access token the browser sent is never used: the binding's answer replaces it.
    answer = bind_to_our_client(browser.refresh_token, app)
    if answer.ref_type not in ("", "user"):
        raise refused(f"the token belongs to a Podio {answer.ref_type}, not a user")
    try:
        with PodioClient(answer.access_token) as client:
            profile = client.get_user_status()
        login = provider.sociallogin_from_response(request, profile)
    except PodioError as error:
        raise refused(f"profile request failed ({_describe(error)})") from None
    except (KeyError, TypeError, ValueError) as error:
        raise refused(f"Podio's profile had an odd shape ({type(error).__name__})") from None
    if answer.ref_id is not None and str(answer.ref_id) != login.account.uid:
        raise refused("the refreshed token's user is not the profile's user")
    # As the redirect flow does: the granted scope (not a secret) rides on the account.
    login.account.extra_data["scope"] = answer.scope
    login.state[FLOW_STATE_KEY] = FLOW
    login.token = SocialToken(
        token=answer.access_token,
        token_secret=answer.refresh_token,
        expires_at=answer.expires_at(),
        # A settings-only app has no row: a FK to it would crash allauth (its issue #3599).
        app=app if app.pk else None,
    )
    return login
