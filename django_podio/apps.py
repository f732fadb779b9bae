from django.apps import AppConfig


class DjangoPodioConfig(AppConfig):
    name = "django_podio"
    verbose_name = "Podio"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .redaction import get_logger
        from .socialaccount import receivers

        receivers.connect()
        get_logger("django_podio")
