"""Leases: who works on what, across processes and hosts, with nothing shared but the database."""

from django.db import models


class Lease(models.Model):
    """One thing worked on by one holder at a time (``key``: "training-run:<id>", ...) until
    ``expires_at``, a time of the database's clock. Each taking raises ``token`` by one: a writer
    whose token is no longer the row's has lost the lease and may not record a result."""

    key = models.CharField(max_length=200, primary_key=True)
    holder = models.CharField(max_length=100)
    token = models.PositiveBigIntegerField(default=0)
    expires_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key} (token {self.token})"
