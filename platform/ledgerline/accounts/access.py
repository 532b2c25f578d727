"""Who is asking, and what they may do in which organisation.

Every API view builds an Actor from the request. Reads are filtered to the actor's
organisations (an outsider gets 404, never the object); writes also need a role.
A token acts only within the membership it was issued for.
"""

from dataclasses import dataclass
from uuid import UUID

from django.contrib.auth.models import AnonymousUser, User
from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request

from ledgerline.accounts.models import WRITE_ROLES, ApiToken, Membership, Organisation, Role


@dataclass(frozen=True)
class Actor:
    user: User
    memberships: dict[UUID, Membership]

    @property
    def organisation_ids(self) -> list[UUID]:
        return list(self.memberships)

    def role_in(self, organisation_id: UUID) -> str | None:
        membership = self.memberships.get(organisation_id)
        return membership.role if membership else None

    def require_member(self, organisation_id: UUID) -> Membership:
        membership = self.memberships.get(organisation_id)
        if membership is None:
            raise NotFound()
        return membership

    def require_role(self, organisation_id: UUID, roles: frozenset[str]) -> Membership:
        membership = self.require_member(organisation_id)
        if membership.role not in roles:
            allowed = " or ".join(sorted(roles))
            raise PermissionDenied(f"This needs the {allowed} role in {membership.organisation.name}.")
        return membership

    def require_writer(self, organisation_id: UUID) -> Membership:
        return self.require_role(organisation_id, WRITE_ROLES)

    def require_admin(self, organisation_id: UUID) -> Membership:
        return self.require_role(organisation_id, frozenset({Role.ADMIN}))

    def organisation_for_create(self, slug: str | None) -> Organisation:
        """The organisation a new object goes to: the one named, or the only one."""
        if slug:
            for membership in self.memberships.values():
                if membership.organisation.slug == slug:
                    self.require_writer(membership.organisation_id)
                    return membership.organisation
            # Whether it exists is not said: the same 404 as for an object of another organisation.
            raise NotFound(f"You are not a member of an organisation {slug!r}.")
        writable = [m for m in self.memberships.values() if m.role in WRITE_ROLES]
        if len(writable) == 1:
            return writable[0].organisation
        if not writable:
            raise PermissionDenied("Your role lets you read, not create.")
        raise ValidationError({"organisation": ["You belong to several organisations: name one."]})


def actor_from_request(request: Request) -> Actor:
    user = request.user
    if isinstance(user, AnonymousUser) or not user.is_authenticated:
        raise NotAuthenticated()
    memberships = Membership.objects.select_related("organisation").filter(user=user)
    if isinstance(request.auth, ApiToken):
        memberships = memberships.filter(pk=request.auth.membership_id)
    assert isinstance(user, User)
    return Actor(user=user, memberships={m.organisation_id: m for m in memberships})
