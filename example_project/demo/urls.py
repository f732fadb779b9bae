from django.contrib import admin
from django.urls import include, path

from . import live_edit, new_item, spa, views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("podio/", include("django_podio.urls")),
    path("_allauth/", include("allauth.headless.urls")),
    path("spa/", spa.spa, name="spa"),
    path("spa/podio-profile/", spa.spa_podio_profile, name="spa_podio_profile"),
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/refresh/", views.refresh_now, name="refresh_now"),
    path("dashboard/edit-in-podio/", live_edit.edit_in_podio, name="edit_in_podio"),
    path("items/new/", new_item.new_item, name="new_item"),
]
