from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DjangoPodioConfig(AppConfig):
    name = "django_podio"
    verbose_name = _("Podio")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .redaction import get_logger, install_on_django_loggers
        from .socialaccount import posted, receivers

        receivers.connect()
        # allauth headless parses a token login's body into its own frames' locals: mask the
        # posted Podio tokens the moment it has parsed them (socialaccount/posted.py).
        posted.install()
        get_logger("django_podio")
        # runserver's access log and django.request's 4xx/5xx lines carry request paths:
        # the OAuth callback's ?code= and hook URLs with their secret. Masked by default.
        install_on_django_loggers()
