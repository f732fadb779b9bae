"""allauth imports ``<app>.provider`` of every app; the provider lives in ``socialaccount/``."""

from .socialaccount.provider import PodioProvider, provider_classes

__all__ = ["PodioProvider", "provider_classes"]
