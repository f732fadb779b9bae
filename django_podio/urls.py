"""The package's own views: the webhook receiver (allauth serves the login)."""

from django.urls import path

from .hooks.receive import hook_view

app_name = "django_podio"
urlpatterns = [
    path("hooks/<str:secret>/", hook_view, name="hook"),
]
