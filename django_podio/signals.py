"""Signals for host projects.

``token_refreshed(sender=PodioConnection, connection)``: sent after a refresh was committed.
``reauthorization_required(sender=PodioConnection, connection, error)``: Podio refused the
refresh token (``invalid_grant``); the user must log in with Podio again.
"""

from django.dispatch import Signal

token_refreshed = Signal()
reauthorization_required = Signal()
