from django.db import models

from ledgerline.models import BaseModel


class Pin(BaseModel):
    """A root the embedded node keeps (with everything below it) through garbage collection."""

    cid = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=500, blank=True)
    size = models.PositiveBigIntegerField(help_text="bytes of file content under the root")

    def __str__(self) -> str:
        return self.cid
