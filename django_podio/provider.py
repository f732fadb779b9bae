"""allauth imports ``<app>.provider`` for every installed app; the provider lives in ``socialaccount/``."""

from .socialaccount.provider import PodioProvider, provider_classes

__all__ = ["PodioProvider", "provider_classes"]
