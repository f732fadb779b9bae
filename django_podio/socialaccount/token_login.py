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

Spending is the one step that cannot be undone, so everything that can refuse the login
without knowing who signs in is decided first: token login on, our ``client_id``, a refresh
token, the app's credentials, a signed-in user for ``connect`` (and allauth's
reauthentication), the rate limit, and whether sign-up is open. When sign-up may be closed for
this request, the browser's access token is used once, to read who the tokens claim to be, so
that a new user is refused before anything is spent (who signs in is still decided by the
bound pair alone). What can only fail after the spend keeps the new pair for the retry
(:mod:`.kept`).

Off unless ``SOCIALACCOUNT_PROVIDERS["podio"]["TOKEN_AUTH"]`` is ``True``.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.core import ratelimit
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialAccount, SocialLogin, SocialToken
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .. import conf, fields
from ..api import oauth
from ..api.client import PodioClient
from ..conf import AppCredentials
from ..exceptions import PodioAPIError, PodioConfigurationError, PodioError
from ..hidden import frames_cut
from ..redaction import get_logger
from ..text import storable_text
from . import kept, posted

logger = get_logger("django_podio.login")

SETTING = "TOKEN_AUTH"
#: allauth's state key saying how the login arrived; the receivers put it on the auth event.
FLOW_STATE_KEY = "podio_flow"
FLOW = "client_side"
CONNECT = "connect"

MISSING_REFRESH_MESSAGE = _(
    "A Podio token login needs the refresh_token that Podio's client-side flow returned: "
    "without it the token cannot be bound to this site's Podio client."
)
#: Exceptions that are answers, not failures: they pass the spend's frame cut as they are.
ANSWERS = (ValidationError, ImmediateHttpResponse, PermissionDenied, PodioError)


def enabled(provider: Any) -> bool:
    """``TOKEN_AUTH`` is on only when it is exactly ``True`` (a typo stays off)."""
    return provider.get_settings().get(SETTING, False) is True


def refused(reason: str) -> ValidationError:
    """allauth's own ``invalid_token`` error (the 400 its headless API answers with)."""
    # The reason is for operators: error kinds and ids, never a token.
    logger.warning("Podio token login refused: %s", reason)
    return get_adapter().validation_error("invalid_token")


def _describe(error: PodioError) -> str:
    if isinstance(error, PodioAPIError):
        return f"HTTP {error.status} {error.error or 'error'}"
    return type(error).__name__


def _credentials(app: Any) -> AppCredentials:
    """The app's credentials, or a configuration error before anything is spent."""
    if not (isinstance(app.client_id, str) and app.client_id and isinstance(app.secret, str)):
        raise PodioConfigurationError("The Podio app has no client id or secret.")
    if not app.secret:
        raise PodioConfigurationError(
            "The Podio app has no secret: token login cannot bind tokens to it."
        )
    conf.token_url()  # a broken PODIO setting fails here, not after the spend
    return AppCredentials(client_id=app.client_id, secret=app.secret)


def bind_to_our_client(
    browser: posted.PostedTokens,
    app: Any,
    key: str,
    earlier: oauth.TokenResponse | None = None,
) -> oauth.TokenResponse:
    """Spend the browser's refresh token with our credentials; Podio refuses another client's.

    A 200 answer proves the token was issued to our client and hands us a new pair; the
    browser's refresh token is dead from then on, so each answer is kept (:mod:`.kept`) before
    anything else can fail. An answer without an access token (it still carries a refresh
    token, see ``TokenResponse``) is spent once more to get one, also when it is the
    ``earlier`` answer an attempt before this one kept.
    """
    credentials = _credentials(app)
    with frames_cut(logger, "Binding a Podio token login", expected=ANSWERS):
        try:
            answer = earlier
            if answer is None:
                answer = oauth.refresh(browser.refresh_token, credentials=credentials)
                kept.keep(key, answer)
            if not answer.access_token and answer.refresh_token:
                answer = oauth.refresh(answer.refresh_token, credentials=credentials)
                kept.keep(key, answer)
        except PodioError as error:
            raise refused(
                f"Podio did not refresh the token for our client ({_describe(error)})"
            ) from None
    if not answer.access_token:
        raise refused("Podio's refresh answer had no access token")
    return answer


def verify_token(provider: Any, request: HttpRequest, token: dict[str, Any]) -> SocialLogin:
    """allauth's ``Provider.verify_token`` for Podio: an unsaved login, or a refusal."""
    if not enabled(provider):
        # allauth checks ``supports_token_authentication`` first; never rely on it alone.
        raise refused("token login is off (TOKEN_AUTH)")
    app = provider.app
    if token.get("client_id") != app.client_id:
        # allauth compares a non-empty client_id only; an empty one would pass its check.
        raise refused("the request's client_id is not ours")
    browser = posted.tokens_for(request, token)
    if not browser.refresh_token:
        logger.warning("Podio token login refused: no refresh_token in the request")
        raise ValidationError(MISSING_REFRESH_MESSAGE, code="invalid_token")
    _credentials(app)
    connect = browser.process == CONNECT
    if connect:
        _may_connect(request)
    # Each attempt from here on may cost requests to Podio with our client's credentials,
    # and Podio rate-limits those per client: allauth's per-IP login limit
    # (ACCOUNT_RATE_LIMITS["login"]) keeps junk tokens from spending that budget.
    too_many = ratelimit.consume_or_429(request, action="login")
    if too_many is not None:
        logger.warning("Podio token login refused: rate limit (ACCOUNT_RATE_LIMITS['login'])")
        raise ImmediateHttpResponse(too_many)
    key = kept.key_for(app.client_id, browser)
    answer = kept.find(key)
    claimed = None
    if not connect and answer is None and not _open_to_anyone(request, provider):
        claimed = _claimed_login(provider, request, browser)
        if claimed is not None:
            _refuse_if_sign_up_closed(request, claimed)
    if answer is None or not answer.access_token:
        answer = bind_to_our_client(browser, app, key, earlier=answer)
    login = _bound_login(provider, request, app, answer)
    if claimed is not None and claimed.account.uid != login.account.uid:
        # The access token and the refresh token belong to different Podio users: decide
        # for the one the bound pair proves (the pair is kept for a retry).
        _refuse_if_sign_up_closed(request, login)
    login.state[kept.STATE_KEY] = key
    return login


def _may_connect(request: HttpRequest) -> None:
    """allauth's ``connect`` refusals that need no Podio account, decided before the spend."""
    if not request.user.is_authenticated:
        # allauth's connect flow raises the same for an anonymous user (Django's 403).
        logger.warning("Podio token login refused: connect without a signed-in user")
        raise PermissionDenied()
    from allauth.account.internal.flows.reauthentication import (
        raise_if_reauthentication_required,
    )

    raise_if_reauthentication_required(request, app="allauth.socialaccount")


def _open_to_anyone(request: HttpRequest, provider: Any) -> bool:
    """Whether sign-up is open before we know who signs in (allauth's adapter, asked early).

    Asked for a login that carries no Podio user yet: an adapter that says yes to it is taken
    at its word; one that says no, or cannot answer, makes us find out who the user is.
    """
    login = SocialLogin(
        user=get_account_adapter(request).new_user(request),
        account=SocialAccount(provider=provider.sub_id),
        email_addresses=[],
    )
    try:
        return bool(get_adapter(request).is_open_for_signup(request, login))
    except Exception:
        return False


def _claimed_login(
    provider: Any, request: HttpRequest, browser: posted.PostedTokens
) -> SocialLogin | None:
    """Who the posted access token belongs to, read before anything is spent; ``None`` when
    Podio cannot tell (no access token, it expired, Podio failed): decided after the spend.

    Only ever used to refuse: the login that signs in is built from the bound pair.
    """
    if not browser.access_token:
        return None
    try:
        with PodioClient(browser.access_token) as client:
            profile = client.get_user_status()
        return provider.sociallogin_from_response(request, profile)  # type: ignore[no-any-return,unused-ignore]
    except PodioError as error:
        logger.info("Podio token login: who the tokens belong to is not known yet (%s)", error)
        return None
    except (KeyError, TypeError, ValueError):
        return None


def _refuse_if_sign_up_closed(request: HttpRequest, login: SocialLogin) -> None:
    """allauth's answer to a closed sign-up (403), for a user who has no account here."""
    uid = login.account.uid
    if SocialAccount.objects.filter(provider=login.account.provider, uid=uid).exists():
        return  # a returning user signs in; sign-up does not matter
    adapter = get_adapter(request)
    if adapter.authenticate_by_email(login):
        return  # allauth's e-mail authentication signs an existing user in
    if adapter.is_open_for_signup(request, login):
        return
    from allauth.headless.base.response import ForbiddenResponse

    logger.warning("Podio token login refused: sign-up is closed for this Podio user")
    raise ImmediateHttpResponse(ForbiddenResponse(request))


def _bound_login(provider: Any, request: HttpRequest, app: Any, answer: Any) -> SocialLogin:
    """Read the profile with the bound pair and build allauth's login from it."""
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
    login.account.extra_data["scope"] = storable_text(answer.scope)
    login.state[FLOW_STATE_KEY] = FLOW
    with frames_cut(logger, "Sealing a Podio token login's tokens"):
        # Sealed at once: allauth's objects (and the session copy of a pending sign-up) never
        # hold the pair in clear; the token service unseals it when it stores the connection.
        login.token = SocialToken(
            token=fields.seal(answer.access_token),
            token_secret=fields.seal(answer.refresh_token),
            expires_at=answer.expires_at(),
            # A settings-only app has no row: a FK to it would crash allauth (its issue #3599).
            app=app if app.pk else None,
        )
    return login
