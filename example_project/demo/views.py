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

from django_podio import get_client, items, tokens
from django_podio.exceptions import PodioError
from django_podio.models import PodioConnection

PER_PAGE = 25


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
    if connection is not None and connection.is_active:
        context.update(_items_context(request))
    return render(request, "demo/dashboard.html", context)


def _first_app_id(request: HttpRequest) -> int | None:
    """The first app the user can see (orgs, then spaces, then apps), remembered per session."""
    if "demo_app_id" not in request.session:
        client = get_client(request.user)
        for org in client.get("/org/") or []:
            for space in org.get("spaces") or []:
                apps = client.get(f"/app/space/{space['space_id']}/") or []
                if apps:
                    request.session["demo_app_id"] = apps[0]["app_id"]
                    return apps[0]["app_id"]
        return None
    return request.session["demo_app_id"]


class LivePage:
    """Just enough of Django's Page for the template, over one filter call to Podio."""

    def __init__(self, rows: list[dict[str, Any]], number: int, total: int) -> None:
        self.object_list = rows
        self.number = number
        self.num_pages = max(1, -(-total // PER_PAGE))
        self.count = total

    def has_previous(self) -> bool:
        return self.number > 1

    def has_next(self) -> bool:
        return self.number < self.num_pages

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1


def _items_context(request: HttpRequest) -> dict[str, Any]:
    """The items of the user's first app: from the local cache when it has them, else live."""
    try:
        app_id = int(request.GET.get("app") or 0) or _first_app_id(request)
        if app_id is None:
            return {"items_error": "Your Podio account has no app to list."}
        if items.has_cached_items(app_id):
            page = items.page_of_items(app_id, request.GET.get("page", 1), PER_PAGE)
            rows = [
                {
                    "app_item_id": i.app_item_id,
                    "title": i.title,
                    "revision": i.revision,
                    "last_event_on": i.last_event_on,
                }
                for i in page.object_list
            ]
            return {
                "app_id": app_id,
                "items_page": page,
                "item_rows": rows,
                "items_total": page.paginator.count,
                "items_pages": page.paginator.num_pages,
                "items_source": "the local cache (PodioItem)",
            }
        number = max(1, int(request.GET.get("page", 1) or 1))
        result = get_client(request.user).filter_items(
            app_id,
            {
                "limit": PER_PAGE,
                "offset": (number - 1) * PER_PAGE,
                "sort_by": "item_id",
                "sort_desc": True,
            },
        )
        rows = [
            {
                "app_item_id": i.get("app_item_id"),
                "title": i.get("title"),
                "revision": i.get("revision"),
                "last_event_on": i.get("last_event_on"),
            }
            for i in result.get("items") or []
        ]
        page = LivePage(rows, number, int(result.get("filtered") or 0))
        return {
            "app_id": app_id,
            "items_page": page,
            "item_rows": rows,
            "items_total": page.count,
            "items_pages": page.num_pages,
            "items_source": "Podio, live (nothing cached yet)",
        }
    except (PodioError, ValueError) as error:
        return {"items_error": f"Could not list items: {error}"}


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
