"""The only layer that speaks HTTP to Podio."""

from .client import PodioClient

__all__ = ["PodioClient"]
