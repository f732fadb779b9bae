"""The package's own views (webhook receivers will live here); allauth serves the login."""

app_name = "django_podio"
urlpatterns: list = []
