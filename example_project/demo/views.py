"""The demo's pages: thin views over allauth's account data and django-podio's services.

No view and no template reads a token column: the dashboard shows the connection's state
only, so the page can be screenshotted or shared without leaking anything.
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.models import SocialAccount
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from django_podio import tokens
from django_podio.models import PodioConnection


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/home.html")


def _user_connection(request: HttpRequest) -> PodioConnection | None:
    return (
        request.user.podio_connections.filter(kind=PodioConnection.Kind.USER)
        .order_by("-updated_at")
        .first()
    )


def _expires_in(connection: PodioConnection | None) -> str:
    if connection is None or connection.expires_at is None:
        return ""
    minutes = int((connection.expires_at - timezone.now()).total_seconds() // 60)
    if minutes < 0:
        return f"expired {-minutes} minutes ago"
    return f"expires in {minutes} minutes"


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    account = SocialAccount.objects.filter(user=request.user, provider="podio").first()
    extra: dict[str, Any] = account.extra_data if account else {}
    connection = _user_connection(request)
    context = {
        "account": account,
        "podio_user": extra.get("user") or {},
        "profile": extra.get("profile") or {},
        "connection": connection,
        "expires_in": _expires_in(connection),
    }
    return render(request, "demo/dashboard.html", context)


@login_required
@require_POST
def refresh_now(request: HttpRequest) -> HttpResponse:
    """Force a refresh through the token service, exactly as a worker would on expiry.

    ``margin=10**9`` makes any token "due", so the locked refresh path runs for real.
    """
    connection = _user_connection(request)
    if connection is None:
        messages.error(request, "There is no Podio connection to refresh.")
        return redirect("dashboard")
    result = tokens.refresh_connection(connection, stale_token=None, margin=10**9)
    outcome = result.outcome
    if outcome is tokens.Outcome.REFRESHED:
        messages.success(request, "Refreshed: Podio issued a new access token.")
    elif outcome is tokens.Outcome.REAUTH_REQUIRED:
        messages.error(request, "Podio refused the refresh token: log in with Podio again.")
    elif outcome is tokens.Outcome.FAILED:
        messages.error(request, f"The refresh failed, the old token is kept: {result.error}")
    else:
        messages.info(request, "Nothing to do: another worker refreshed it just now.")
    return redirect("dashboard")
