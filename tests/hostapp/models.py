from django.db import models
from encrypted_model_fields import fields as emf

from django_podio.fields import EncryptedTextField


class Secret(models.Model):
    name = models.CharField(max_length=50, blank=True, default="")
    #: django-podio's field, public for host models.
    ours = EncryptedTextField(null=True, blank=True)
    #: django-encrypted-model-fields' own fields.
    theirs = emf.EncryptedTextField(null=True, blank=True)
    theirs_char = emf.EncryptedCharField(max_length=50, null=True, blank=True)

    def __str__(self) -> str:
        return self.name


def swap_ciphertext(connection, pk: int) -> None:
    """Swap the stored ciphertext of ``ours`` and ``theirs`` in one row, bypassing both fields:
    afterwards each field reads what the other wrote."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT ours, theirs FROM hostapp_secret WHERE id = %s", [pk])
        ours, theirs = cursor.fetchone()
        cursor.execute(
            "UPDATE hostapp_secret SET ours = %s, theirs = %s WHERE id = %s", [theirs, ours, pk]
        )
