"""The fake's OAuth: codes, access and rotating refresh tokens, grants, and rate limits."""

from __future__ import annotations

import hmac
import math
from typing import TYPE_CHECKING, Any

from .records import (
    ACCESS_PREFIX,
    APP_TOKEN_PREFIX,
    CODE_PREFIX,
    CODE_TTL,
    REFRESH_PREFIX,
    REFRESH_TTL,
    AccessToken,
    ApiError,
    AuthCode,
    RefreshToken,
    make_secret,
    pkce_matches,
    rate_limit_error,
)

if TYPE_CHECKING:
    from .shape import StateShape
else:
    StateShape = object


class OAuthState(StateShape):
    """Part of :class:`~.state.PodioState`: credentials the fake issues and checks."""

    client_secret: str  # set by PodioState.__init__; rotate_client_secret replaces it

    # ------------------------------------------------------------------ OAuth
    def _issue(self, client_id: str, ref_type: str, ref_id: int, scope: str) -> dict[str, Any]:
        now = self.now()
        access = AccessToken(
            token=make_secret(ACCESS_PREFIX, 128),
            client_id=client_id,
            ref_type=ref_type,
            ref_id=ref_id,
            scope=scope,
            issued_at=now,
            expires_at=now + self.access_token_ttl,
        )
        refresh = RefreshToken(
            token=make_secret(REFRESH_PREFIX, 64),
            client_id=client_id,
            ref_type=ref_type,
            ref_id=ref_id,
            scope=scope,
            issued_at=now,
            expires_at=now + REFRESH_TTL,
        )
        self.tokens[access.token] = access
        self.refresh_tokens[refresh.token] = refresh
        return {
            "access_token": access.token,
            "token_type": "bearer",
            "expires_in": int(self.access_token_ttl),
            "refresh_token": refresh.token,
            "scope": scope,
            "ref": {"type": ref_type, "id": ref_id},
        }

    def add_client(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        name: str = "Another Podio app",
    ) -> tuple[str, str]:
        """Register another API client (another site's API key): its tokens are not ours.

        It runs the same flows against the same users; the token endpoint refuses a code or
        refresh token that one client presents when another was issued it (RFC 6749 §6).
        """
        with self._lock:
            client_id = client_id or make_secret("fpclient", 24)
            if client_id == self.client_id or client_id in self.other_clients:
                raise ValueError(f"client {client_id!r} exists already")
            secret = client_secret or make_secret("fpsecret", 40)
            self.other_clients[client_id] = (secret, name)
            return client_id, secret

    def _client_secret_of(self, client_id: str) -> str | None:
        if hmac.compare_digest(str(client_id).encode(), self.client_id.encode()):
            return self.client_secret
        found = self.other_clients.get(str(client_id))
        return found[0] if found else None

    def client_name_of(self, client_id: str) -> str:
        found = self.other_clients.get(str(client_id))
        return found[1] if found else self.client_name

    def check_client(self, client_id: str) -> bool:
        return self._client_secret_of(client_id) is not None

    def issue_code(
        self,
        client_id: str,
        redirect_uri: str,
        scope: str | None,
        code_challenge: str | None = None,
        code_challenge_method: str | None = None,
    ) -> str:
        with self._lock:
            now = self.now()
            code = AuthCode(
                code=make_secret(CODE_PREFIX, 40),
                client_id=client_id,
                redirect_uri=redirect_uri,
                user_id=self.current_user.user_id,
                scope=scope or "global:all",
                issued_at=now,
                expires_at=now + CODE_TTL,
                code_challenge=code_challenge or "",
                code_challenge_method=code_challenge_method or "",
            )
            self.codes[code.code] = code
            return code.code

    def issue_implicit(self, client_id: str, scope: str | None) -> dict[str, Any]:
        with self._lock:
            return self._issue(client_id, "user", self.current_user.user_id, scope or "global:all")

    def grant(self, params: dict[str, Any]) -> dict[str, Any]:
        """The token endpoint's decision for one request (form and JSON bodies alike)."""

        def param(name: str) -> str:
            value = params.get(name)
            return "" if value is None else str(value)

        with self._lock:
            # The client the credentials prove; every grant is bound to it.
            client_id = param("client_id")
            secret = self._client_secret_of(client_id)
            if secret is None or not hmac.compare_digest(
                param("client_secret").encode(), secret.encode()
            ):
                raise ApiError(401, "invalid_client", "Invalid client_id or client_secret")
            grant_type = param("grant_type")
            now = self.now()
            if grant_type == "authorization_code":
                code = self.codes.get(param("code"))
                if code is None or code.used or code.client_id != client_id:
                    raise ApiError(400, "invalid_grant", "Invalid or already used code")
                if now >= code.expires_at:
                    raise ApiError(400, "invalid_grant", "The authorization code has expired")
                if param("redirect_uri") != code.redirect_uri:
                    raise ApiError(400, "invalid_grant", "The redirect_uri does not match")
                if code.code_challenge and not pkce_matches(code, param("code_verifier")):
                    raise ApiError(400, "invalid_grant", "The code_verifier does not match")
                code.used = True
                return self._issue(client_id, "user", code.user_id, code.scope)
            if grant_type == "refresh_token":
                token = self.refresh_tokens.get(param("refresh_token"))
                dead = (
                    token is None
                    or token.revoked
                    or (token.used and self.strict_rotation)
                    or now >= token.expires_at
                    or token.client_id != client_id
                )
                if dead or token is None:
                    raise ApiError(400, "invalid_grant", "Invalid refresh_token")
                token.used = True
                self.refresh_grants_used += 1
                return self._issue(client_id, token.ref_type, token.ref_id, token.scope)
            if grant_type == "password":
                user = self.user_by_mail(param("username"))
                if user is None or not hmac.compare_digest(
                    param("password").encode(), user.password.encode()
                ):
                    raise ApiError(400, "invalid_grant", "Invalid user credentials")
                return self._issue(client_id, "user", user.user_id, param("scope") or "global:all")
            if grant_type == "app":
                try:
                    app = self.apps.get(int(param("app_id")))
                except ValueError:
                    app = None
                if app is None or not hmac.compare_digest(
                    param("app_token").encode(), app.app_token.encode()
                ):
                    raise ApiError(400, "invalid_grant", "Invalid app_id or app_token")
                return self._issue(client_id, "app", app.app_id, "global:all")
            raise ApiError(
                400,
                "unsupported_grant_type",
                f"The grant type {grant_type or 'null'!r} is not supported",
            )

    def authenticate(self, token: str | None) -> AccessToken:
        with self._lock:
            if not token:
                raise ApiError(
                    401,
                    "unauthorized",
                    "no access token",
                    headers={"WWW-Authenticate": 'Bearer realm="podio"'},
                )
            record = self.tokens.get(token)
            if record is None or record.revoked:
                raise ApiError(
                    401,
                    "invalid_token",
                    "invalid_token",
                    headers={"WWW-Authenticate": 'Bearer realm="podio", error="invalid_token"'},
                )
            if record.expired or self.now() >= record.expires_at:
                raise ApiError(
                    401,
                    "unauthorized",
                    "expired_token",
                    headers={"WWW-Authenticate": 'Bearer realm="podio", error="expired_token"'},
                )
            return record

    def expire_access_tokens(self) -> None:
        """Every access token issued so far answers 401 expired_token from now on."""
        with self._lock:
            for token in self.tokens.values():
                token.expired = True

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token issued so far answers invalid_grant from now on."""
        with self._lock:
            for token in self.refresh_tokens.values():
                token.revoked = True

    # ------------------------------------------------------------------ rotation
    def rotate_client_secret(self, new_secret: str | None = None) -> str:
        """Issue a new client secret for the fake's API key and return it, as Podio's page
        for the API key (https://podio.com/settings/api) does.

        From then on the token endpoint refuses the old secret (``401 invalid_client``) for
        every grant; every token issued so far keeps working, and refresh tokens refresh with
        the new secret. Podio does not document either side of this: whether the old secret
        keeps working for a while, and whether tokens issued with it survive. The fake takes
        the case ``docs/rotation.rst`` plans for: the old secret is refused at once, the tokens
        live on (a token is bound to the client id, not to a secret).
        """
        with self._lock:
            new: str = new_secret or make_secret("fpsecret", 40)
            old: str = self.client_secret
            if hmac.compare_digest(new.encode(), old.encode()):
                raise ValueError("the new client secret must differ from the current one")
            self.retired_secrets.append(old)
            self.client_secret = new
            return new

    def rotate_app_token(
        self, app_id: int, app_token: str | None = None, *, revoke_tokens: bool = False
    ) -> str:
        """Issue a new app token for an app and return it, as the app's *Developer* settings
        page in Podio does.

        From then on the app grant refuses the old app token (``invalid_grant``). Whether
        Podio also ends the access and refresh tokens issued through the old app token is not
        documented: by default the fake keeps them (an app connection works on until it must
        sign in again); with ``revoke_tokens`` every token issued to the app stops working
        (``invalid_token``, ``invalid_grant``), the other case ``docs/rotation.rst`` plans for.
        """
        with self._lock:
            app = self.apps.get(int(app_id))
            if app is None:
                raise KeyError(f"no app {app_id}")
            new = app_token or make_secret(APP_TOKEN_PREFIX, 32)
            if hmac.compare_digest(new.encode(), app.app_token.encode()):
                raise ValueError("the new app token must differ from the current one")
            self.retired_secrets.append(app.app_token)
            app.app_token = new
            if revoke_tokens:
                for access in self.tokens.values():
                    if (access.ref_type, access.ref_id) == ("app", app.app_id):
                        access.revoked = True
                for refresh in self.refresh_tokens.values():
                    if (refresh.ref_type, refresh.ref_id) == ("app", app.app_id):
                        refresh.revoked = True
            return new

    def issued_secrets(self) -> set[str]:
        """Every credential the fake issued or knows, for leak scans."""
        with self._lock:
            found = {self.client_secret, *self.retired_secrets}
            found.update(secret for secret, _ in self.other_clients.values())
            found.update(self.tokens)
            found.update(self.refresh_tokens)
            found.update(self.codes)
            found.update(app.app_token for app in self.apps.values())
            found.update(self.hook_secrets())
            return {s for s in found if s}

    # ------------------------------------------------------------------ rate limits
    def take_rate_limit(self, key: tuple[Any, ...], pool: str) -> tuple[int, int]:
        """Count one call in its window (``rate_limit_window`` seconds, Podio's hour by
        default); once the pool is spent, a 420 naming the wait until the window ends."""
        limit = {
            "general": self.rate_limit_general,
            "limited": self.rate_limit_limited,
            "login": self.rate_limit_login,
        }[pool]
        with self._lock:
            now = self.now()
            span = float(self.rate_limit_window)
            window = int(now // span)
            counter = (*key, pool, window)
            used = self._rate_counts.get(counter, 0)
            if used >= limit:
                wait = max(1, math.ceil((window + 1) * span - now))
                raise rate_limit_error(wait, limit, 0)
            self._rate_counts[counter] = used + 1
            return limit, max(0, limit - used - 1)
