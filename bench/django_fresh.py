"""Django for a benchmark: a fresh var folder (its own SQLite, blobs, keys, chain and IPFS), or a
PostgreSQL database emptied first, migrated. The caller puts platform/ and the repo root on sys.path."""

import os
import tempfile
from pathlib import Path


def django_fresh(prefix: str, *, database_url: str = "") -> Path:
    """Set Django up under a new temporary folder; returns the folder."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["LEDGERLINE_VAR_DIR"] = str(folder / "var")
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SIGNING_KEY_PASSPHRASE", "bench passphrase")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerline.settings")
    import django

    django.setup()
    from django.core.management import call_command

    if database_url:
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    return folder
