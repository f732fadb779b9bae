"""The token service: the only code that writes Podio tokens.

* :mod:`.capture` — tokens of a login or connect, encrypted into ``PodioConnection``.
* :mod:`.refresh` — the one place that spends a refresh token, under a lease
  (``django_podio.db``): no transaction is open while Podio answers.
* :mod:`.cron` — refresh everything due, from one host or many.
* :mod:`.app_auth` — an app's own identity.
* :mod:`.rotation` — re-encryption under a new key.
* :mod:`.client` — ``get_client``: which connection, and a token that stays fresh.
"""

from .app_auth import store_app_connection
from .capture import seal_login, store_from_login
from .client import find_connection, get_client, usable_token
from .cron import RefreshReport, due_connections, refresh_due
from .refresh import Outcome, RefreshResult, refresh_connection
from .rotation import ReencryptReport, reencrypt_all

__all__ = [
    "Outcome",
    "ReencryptReport",
    "RefreshReport",
    "RefreshResult",
    "due_connections",
    "find_connection",
    "get_client",
    "reencrypt_all",
    "refresh_connection",
    "refresh_due",
    "seal_login",
    "store_app_connection",
    "store_from_login",
    "usable_token",
]
