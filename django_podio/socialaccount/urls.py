from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from .provider import PodioProvider

urlpatterns = default_urlpatterns(PodioProvider)
