from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def signing_passphrase_check(**kwargs: Any) -> list[CheckMessage]:
    if settings.SIGNING_KEY_PASSPHRASE:
        return []
    return [
        Warning(
            "SIGNING_KEY_PASSPHRASE is not set: signing keys are encrypted with a passphrase kept beside them "
            "in SIGNING_KEYS_DIR, so a copy of that folder holds usable keys.",
            hint="Pass the passphrase from a secret: SIGNING_KEY_PASSPHRASE_FILE=/run/secrets/...",
            id="ledgerline.W001",
        )
    ]
