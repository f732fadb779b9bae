"""The package's own views: the webhook receiver (allauth serves the login)."""

from django.urls import path, register_converter

from .hooks.secret import SecretConverter
from .views import hook_view

register_converter(SecretConverter, "podio_hook_secret")

app_name = "django_podio"
urlpatterns = [
    path("hooks/<podio_hook_secret:secret>/", hook_view, name="hook"),
]
