from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

from django_podio.admin import PodioStatusAdmin
from django_podio.models import PodioStatus

from . import views

#: A host's own admin site: the status page works there when registered (tests/test_status.py).
custom_site = admin.AdminSite(name="custom_admin")
custom_site.register(PodioStatus, PodioStatusAdmin)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("custom-admin/", custom_site.urls),
    path("accounts/", include("allauth.urls")),
    path("_allauth/", include("allauth.headless.urls")),
    path("podio/", include("django_podio.urls")),
    path("test/refresh-then-fail/", views.refresh_then_fail),
    path("test/items/<int:app_id>/new/", views.new_item),
    path("test/items/<int:app_id>/<int:item_id>/", views.edit_item),
    path("", lambda request: HttpResponse(f"home {request.user}")),
]
