"""A host project's own app: models with encrypted columns of their own.

``Secret`` uses django-podio's public :class:`django_podio.fields.EncryptedTextField` and
django-encrypted-model-fields' own fields side by side, as a host that adopted either would:
the interoperability tests and ``podio_reencrypt``'s host-model tests run on it. Importing
django-encrypted-model-fields' fields needs ``FIELD_ENCRYPTION_KEY`` (that package builds its
crypter at import), so a test project without a key leaves this app out.
"""
