import secrets

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from ledgerline.accounts.models import ApiToken, Membership, Organisation, Role
from ledgerline.accounts.selectors import secret_sha256
from ledgerline.accounts.wallets import wallet_clean
from ledgerline.errors import Conflict
from ledgerline.provenance.services import audit_append

TOKEN_PREFIX = "ll_"


@transaction.atomic
def organisation_create(*, name: str, admin: User, slug: str = "") -> Organisation:
    slug = slug or slugify(name)
    if Organisation.objects.filter(slug=slug).exists():
        raise Conflict(f"An organisation called {slug!r} already exists.")
    organisation = Organisation.objects.create(name=name, slug=slug)
    Membership.objects.create(organisation=organisation, user=admin, role=Role.ADMIN)
    audit_append(
        organisation=organisation,
        actor=admin,
        action="organisation.create",
        obj=organisation,
        data={"name": name, "slug": slug},
    )
    return organisation


@transaction.atomic
def membership_add(*, organisation: Organisation, user: User, role: str, added_by: User | None = None) -> Membership:
    if Membership.objects.filter(organisation=organisation, user=user).exists():
        raise Conflict(f"{user} is already a member of {organisation}.")
    membership = Membership.objects.create(organisation=organisation, user=user, role=role)
    audit_append(
        organisation=organisation,
        actor=added_by,
        action="membership.add",
        obj=membership,
        data={"user": user.get_username(), "role": role},
    )
    return membership


def user_create(*, username: str, password: str, email: str = "") -> User:
    return User.objects.create_user(username=username, password=password, email=email)


@transaction.atomic
def api_token_create(*, membership: Membership, name: str) -> tuple[ApiToken, str]:
    """A new token and its secret. The secret is shown once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        membership=membership, name=name, prefix=secret[:10], secret_sha256=secret_sha256(secret)
    )
    audit_append(
        organisation=membership.organisation,
        actor=membership.user,
        action="api_token.create",
        obj=token,
        data={"name": name, "prefix": token.prefix},
    )
    return token, secret


@transaction.atomic
def api_token_revoke(*, token: ApiToken, revoked_by: User) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        audit_append(
            organisation=token.membership.organisation,
            actor=revoked_by,
            action="api_token.revoke",
            obj=token,
            data={"prefix": token.prefix},
        )
    return token


@transaction.atomic
def organisation_wallet_set(*, organisation: Organisation, wallet: object, updated_by: User) -> Organisation:
    """The address the organisation's on-chain royalties are paid to (and its rights holders'
    that have none); "" or None: none, so they stay with the platform's account, which pays
    them by statement. Splits made from now on use it; minted works keep theirs."""
    organisation.wallet = wallet_clean(wallet)
    organisation.save(update_fields=["wallet", "updated_at"])
    audit_append(
        organisation=organisation,
        actor=updated_by,
        action="organisation.wallet",
        obj=organisation,
        data={"wallet": organisation.wallet or None},
    )
    return organisation
