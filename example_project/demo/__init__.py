"""The django-podio example site: "Log in with Podio", then the profile and the connection."""
