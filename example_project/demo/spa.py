"""The single-page screen: Podio's client-side flow, then allauth headless' token login.

The page is static HTML and plain JavaScript (no build step). Everything it does after
loading goes through allauth's headless API (``/_allauth/browser/v1/…``): its session, its
config (our Podio client id), the token login and connect. The one extra endpoint,
``spa_podio_profile``, asks Podio *from the server* with the stored connection, to show that
the tokens the backend kept work; it returns profile fields only, never a token.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from django_podio import conf, get_client
from django_podio.exceptions import ConnectionNotFound, PodioError


@ensure_csrf_cookie  # the page's script sends it back in X-CSRFToken on headless POSTs
@require_GET
def spa(request: HttpRequest) -> HttpResponse:
    response = render(request, "demo/spa.html", {"authorize_url": conf.get("AUTHORIZE_URL")})
    # The tokens arrive in this page's URL fragment: no referrer may ever carry the URL on.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def spa_podio_profile(request: HttpRequest) -> JsonResponse:
    """The signed-in user's Podio profile, read by the server with the stored connection."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "not signed in"}, status=401)
    try:
        status = get_client(request.user).get_user_status()
    except ConnectionNotFound:
        return JsonResponse({"error": "no Podio connection"}, status=404)
    except PodioError as error:
        return JsonResponse({"error": f"Podio: {type(error).__name__}"}, status=502)
    user = status.get("user") or {}
    profile = status.get("profile") or {}
    return JsonResponse(
        {"name": profile.get("name"), "mail": user.get("mail"), "user_id": user.get("user_id")}
    )
