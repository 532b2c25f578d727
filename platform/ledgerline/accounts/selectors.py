import hashlib

from django.db.models import QuerySet

from ledgerline.accounts.models import ApiToken, Membership, Organisation


def secret_sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_by_secret(*, secret: str) -> ApiToken | None:
    return (
        ApiToken.objects.select_related("membership__user", "membership__organisation")
        .filter(secret_sha256=secret_sha256(secret), revoked_at__isnull=True, membership__user__is_active=True)
        .first()
    )


def organisation_list(*, organisation_ids: list) -> QuerySet[Organisation]:
    return Organisation.objects.filter(id__in=organisation_ids)


def membership_list(*, organisation: Organisation) -> QuerySet[Membership]:
    return Membership.objects.filter(organisation=organisation).select_related("user").order_by("user__username")


def api_token_list(*, membership: Membership) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(membership=membership, revoked_at__isnull=True)
