"""Ledgerline: provenance and licensing for AI-generated music."""

from ledgerline.celery import app as celery_app

__all__ = ["celery_app"]
