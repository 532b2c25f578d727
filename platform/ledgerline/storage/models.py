from django.db import models

from ledgerline.models import BaseModel


class Pin(BaseModel):
    """A root the embedded node keeps (with everything below it) through garbage collection."""

    cid = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=500, blank=True)
    size = models.PositiveBigIntegerField(help_text="bytes of file content under the root")

    def __str__(self) -> str:
        return self.cid


class SharedFile(BaseModel):
    """A file a host keeps under var/ that other hosts need (an encrypted signing key): its place
    there, and the content every host fetches it by (storage.shared)."""

    name = models.CharField(max_length=500, unique=True, help_text="its path under the folder it belongs to")
    sha256 = models.CharField(max_length=64)
    cid = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class InternalContent(BaseModel):
    """Content the deployment's hosts pass among themselves through the IPFS node (dataset files,
    resume points, encrypted keys): the site's gateway does not serve it, whoever asks."""

    digest = models.CharField(max_length=64, unique=True, help_text="its root block's SHA-256, whatever the CID's form")

    def __str__(self) -> str:
        return self.digest
