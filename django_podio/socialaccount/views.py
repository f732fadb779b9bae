"""allauth's OAuth2 adapter for Podio; the code exchange and the profile go through ``api/``."""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.providers.base import ProviderException
from allauth.socialaccount.providers.oauth2.views import (
    OAuth2Adapter,
    OAuth2CallbackView,
    OAuth2LoginView,
)
from allauth.utils import get_request_param
from django.http import HttpRequest, HttpResponse

from .. import conf, fields
from ..api import oauth
from ..api.client import PodioClient
from ..exceptions import PodioError
from ..hidden import HiddenMapping, frames_cut
from ..redaction import get_logger
from ..text import storable_text

logger = get_logger("django_podio.login")

_ERROR_ATTR = "_django_podio_login_error"
#: Answers, not failures: they pass the code exchange's frame cut as they are.
ANSWERS = (ProviderException, PodioError)


class PodioOAuth2Adapter(OAuth2Adapter):
    provider_id = conf.PROVIDER_ID

    @property
    def authorize_url(self) -> str:
        return conf.get("AUTHORIZE_URL")

    @property
    def access_token_url(self) -> str:
        return conf.token_url()

    def get_access_token_data(
        self, request: HttpRequest, app: Any, client: Any, pkce_code_verifier: str | None = None
    ) -> HiddenMapping:
        code = get_request_param(request, "code") or ""
        # The token request's frames hold the client secret and the code in clear: a bug in
        # there is raised again without them (hidden.frames_cut).
        with frames_cut(logger, "Exchanging a Podio authorization code", expected=ANSWERS):
            try:
                token = oauth.exchange_code(
                    code,
                    client.callback_url,
                    code_verifier=pkce_code_verifier,
                    credentials=conf.AppCredentials(client_id=app.client_id, secret=app.secret),
                )
            except PodioError as error:
                setattr(request, _ERROR_ATTR, f"code exchange failed: {error}")
                raise ProviderException("Podio refused the authorization code.") from None
        self.did_fetch_access_token = True
        # allauth holds this in its own frames' locals: a mapping no report prints or walks.
        return HiddenMapping(
            access_token=token.access_token,
            refresh_token=token.refresh_token,
            expires_in=token.expires_in,
            scope=token.scope,
            ref={"type": token.ref_type, "id": token.ref_id},
        )

    def parse_token(self, data: Any) -> Any:
        """allauth's ``SocialToken``, sealed at once: its ``repr`` is the access token, and
        allauth keeps it in its callback's locals until the login is stored."""
        token = super().parse_token(data)
        with frames_cut(logger, "Sealing a Podio login's tokens"):
            token.token = fields.seal(token.token or "")
            token.token_secret = fields.seal(token.token_secret or "")
        return token

    def complete_login(self, request: HttpRequest, app: Any, token: Any, **kwargs: Any) -> Any:
        try:
            with PodioClient(fields.unseal(token.token or "")) as client:
                profile = client.get_user_status()
            login = self.get_provider().sociallogin_from_response(request, profile)
        except (PodioError, KeyError, TypeError, ValueError) as error:
            setattr(request, _ERROR_ATTR, f"profile request failed: {error}")
            raise ProviderException("Could not read the Podio profile.") from None
        # The granted scope (not a secret) rides on the account: extra_data is saved with it
        # and survives the session round trip of a pending sign-up; tokens/ reads it there.
        response = kwargs.get("response") or {}
        scope = response.get("scope")
        login.account.extra_data["scope"] = storable_text(scope) if isinstance(scope, str) else ""
        return login


oauth2_login = OAuth2LoginView.adapter_view(PodioOAuth2Adapter)
_callback = OAuth2CallbackView.adapter_view(PodioOAuth2Adapter)


def oauth2_callback(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """allauth's callback, plus exactly one secret-free log line when the login fails."""
    response = _callback(request, *args, **kwargs)
    if response.status_code >= 400 or "cancelled" in response.get("Location", ""):
        reason = getattr(request, _ERROR_ATTR, None)
        if reason is None:
            if request.GET.get("error"):
                reason = f"Podio returned error={request.GET['error'][:40]!r}"
            elif not request.GET.get("state"):
                reason = "no state in the callback"
            else:
                reason = "state missing, expired, reused or not ours"
        logger.warning("Podio login failed: %s (HTTP %s)", reason, response.status_code)
    return response
