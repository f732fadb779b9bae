"""Settings of the example site, written as a host project would write them.

With ``PODIO_CLIENT_ID`` and ``PODIO_CLIENT_SECRET`` in the environment the site talks to the
real Podio; otherwise it talks to the built-in fake Podio (``make demo`` starts it), so a
newcomer can click through the whole flow offline.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# Demo only: a real site reads its secret key from the environment and never commits it.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-insecure-secret-key")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    # First, so its account/ templates give allauth's pages the demo's look.
    "demo",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # runserver serves the admin's CSS and JS from here (DEBUG on): the admin is styled.
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    # allauth's headless API: the single-page screen (/spa/) signs in through it.
    "allauth.headless",
    "django_podio",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ROOT_URLCONF = "demo.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DATABASE") or BASE_DIR / "db.sqlite3",
        # WAL and a busy timeout: a refresh takes SQLite's write lock while others read.
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"

# Podio ------------------------------------------------------------------------------------

_client_id = os.environ.get("PODIO_CLIENT_ID", "")
_client_secret = os.environ.get("PODIO_CLIENT_SECRET", "")
USE_REAL_PODIO = bool(_client_id and _client_secret)

if USE_REAL_PODIO:
    PODIO = {}  # every key has a default: the real Podio
else:
    # The built-in fake Podio (``python -m django_podio.testing``), started by ``make demo``.
    _client_id, _client_secret = "demo-client-id", "demo-client-secret"
    _fake = os.environ.get("PODIO_FAKE_URL", "http://127.0.0.1:8001").rstrip("/")
    PODIO = {
        "API_URL": _fake,
        "AUTHORIZE_URL": f"{_fake}/oauth/authorize",
        "TOKEN_URL": f"{_fake}/oauth/token",
        # Where the fake Podio posts webhooks: this site (scripts/demo.py says where it runs).
        "WEBHOOK_BASE_URL": os.environ.get("DEMO_SITE_URL", "http://127.0.0.1:8000"),
    }

SOCIALACCOUNT_PROVIDERS = {
    "podio": {
        "APP": {"client_id": _client_id, "secret": _client_secret},
        # Headless token login for the single-page screen (Podio's client-side flow).
        "TOKEN_AUTH": True,
    }
}

# Encrypts the stored Podio tokens. The fallback is a fixed key FOR THE DEMO ONLY: anyone who
# reads this file can decrypt a database encrypted with it. Real sites set the environment
# variable (``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key())"``).
FIELD_ENCRYPTION_KEY = os.environ.get(
    "FIELD_ENCRYPTION_KEY", "ZGVtby1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5ISE="
)

# allauth ----------------------------------------------------------------------------------

ACCOUNT_EMAIL_VERIFICATION = "none"
# Mail (a password reset, a sign-up's welcome) goes to the terminal: the demo has no SMTP.
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# The login starts with a POST (CSRF-protected); a GET only shows allauth's confirmation page.
SOCIALACCOUNT_LOGIN_ON_GET = False
LOGIN_URL = "/"
LOGIN_REDIRECT_URL = "/dashboard/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"

# django.server's access log prints the OAuth callback's ``?code=…``: the redacting filter
# masks it (and anything else secret-shaped) before it reaches the terminal.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "django_podio.redaction.RedactingFilter"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact"],
        },
    },
    "loggers": {
        "django_podio": {"handlers": ["console"], "level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}
