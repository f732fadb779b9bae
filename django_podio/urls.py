"""The package's own views: the webhook receiver (allauth serves the login)."""

from django.urls import path, register_converter

from .hooks.receive import hook_view
from .hooks.secret import SecretConverter

register_converter(SecretConverter, "podio_hook_secret")

app_name = "django_podio"
urlpatterns = [
    path("hooks/<podio_hook_secret:secret>/", hook_view, name="hook"),
]
