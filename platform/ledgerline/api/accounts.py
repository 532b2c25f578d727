from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, UserRateThrottle

from ledgerline.accounts import selectors, services
from ledgerline.accounts.models import ApiToken, Membership, Organisation, Role
from ledgerline.api.serializers import Input
from ledgerline.api.views import ApiView, wallet_field


class MembershipOutput(serializers.Serializer[Membership]):
    organisation = serializers.SlugField(source="organisation.slug")
    organisation_name = serializers.CharField(source="organisation.name")
    username = serializers.CharField(source="user.username")
    role = serializers.CharField()


class MeApi(ApiView):
    class OutputSerializer(serializers.Serializer[Any]):
        username = serializers.CharField()
        memberships = MembershipOutput(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        memberships = sorted(self.actor.memberships.values(), key=lambda m: m.organisation.slug)
        return Response(
            self.OutputSerializer({"username": self.actor.user.get_username(), "memberships": memberships}).data
        )


class MemberListApi(ApiView):
    @extend_schema(responses=MembershipOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        membership = next((m for m in self.actor.memberships.values() if m.organisation.slug == slug), None)
        if membership is None:
            raise NotFound()
        return self.paginated(
            request, selectors.membership_list(organisation=membership.organisation), MembershipOutput
        )


class TokenOutput(serializers.Serializer[ApiToken]):
    id = serializers.UUIDField()
    organisation = serializers.SlugField(source="membership.organisation.slug")
    name = serializers.CharField()
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class TokenCreateThrottle(UserRateThrottle):
    scope = "token_create"


class TokenListApi(ApiView):
    def get_throttles(self) -> list[BaseThrottle]:
        return [TokenCreateThrottle()] if self.request.method == "POST" else []

    class InputSerializer(Input):
        organisation = serializers.SlugField(required=False)
        name = serializers.CharField(max_length=100)

    class CreatedSerializer(TokenOutput):
        secret = serializers.CharField(help_text="Shown once; keep it safe.")

    @extend_schema(responses=TokenOutput(many=True))
    def get(self, request: Request) -> Response:
        tokens = ApiToken.objects.none()
        for membership in self.actor.memberships.values():
            tokens |= selectors.api_token_list(membership=membership)
        return self.paginated(request, tokens.select_related("membership__organisation"), TokenOutput)

    @extend_schema(request=InputSerializer, responses={201: CreatedSerializer})
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, ApiToken):
            # A leaked token must not be able to mint others that outlive its revocation.
            raise PermissionDenied("API tokens are created by a signed-in person, not by another token.")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        slug = data.validated_data.get("organisation")
        memberships = [m for m in self.actor.memberships.values() if not slug or m.organisation.slug == slug]
        if not memberships:
            raise NotFound()
        if len(memberships) > 1:
            raise serializers.ValidationError({"organisation": ["You belong to several organisations: name one."]})
        token, secret = services.api_token_create(membership=memberships[0], name=data.validated_data["name"])
        token.secret = secret  # type: ignore[attr-defined]
        return Response(self.CreatedSerializer(token).data, status=201)


class TokenDetailApi(ApiView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, token_id: str) -> Response:
        token = self.visible(
            ApiToken.objects.select_related("membership__organisation", "membership__user").filter(
                membership__organisation_id__in=self.actor.organisation_ids, revoked_at__isnull=True
            ),
            pk=token_id,
        )
        if token.membership.user_id != self.actor.user.pk:
            self.actor.require_role(token.membership.organisation_id, frozenset({Role.ADMIN}))
        services.api_token_revoke(token=token, revoked_by=self.actor.user)
        return Response(status=204)


WalletOutput = inline_serializer(
    "OrganisationWallet",
    {"organisation": serializers.SlugField(), "wallet": serializers.CharField(allow_null=True)},
)


def _wallet_json(organisation: Organisation) -> dict[str, Any]:
    return {"organisation": organisation.slug, "wallet": organisation.wallet or None}


class OrganisationWalletApi(ApiView):
    """Where the organisation's on-chain royalties are paid, and its rights holders' that have no
    wallet; without one they stay with the platform's account, which pays them by statement."""

    def organisation(self, slug: str) -> Organisation:
        organisation = get_object_or_404(Organisation, slug=slug)
        self.actor.require_member(organisation.pk)
        return organisation

    @extend_schema(responses=WalletOutput)
    def get(self, request: Request, slug: str) -> Response:
        return Response(_wallet_json(self.organisation(slug)))

    @extend_schema(
        request=inline_serializer(
            "OrganisationWalletInput", {"wallet": serializers.CharField(allow_null=True, allow_blank=True)}
        ),
        responses=WalletOutput,
    )
    def put(self, request: Request, slug: str) -> Response:
        """Set the wallet ({"wallet": EIP-55 address, or null or "" for none}); splits made from now on pay it."""
        organisation = self.organisation(slug)
        self.actor.require_admin(organisation.pk)
        organisation = services.organisation_wallet_set(
            organisation=organisation, wallet=wallet_field(request), updated_by=self.actor.user
        )
        return Response(_wallet_json(organisation))
