from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from ledgerline.api.views import ApiView, created
from ledgerline.provenance import selectors, services
from ledgerline.provenance.models import AuditEntry, SigningKey


class KeyOutput(serializers.Serializer[SigningKey]):
    key_id = serializers.CharField()
    organisation = serializers.SlugField(source="organisation.slug")
    algorithm = serializers.CharField()
    public_key_pem = serializers.CharField()
    created_at = serializers.DateTimeField()
    retired_at = serializers.DateTimeField(allow_null=True)


class KeyListApi(ApiView):
    """Every organisation's public keys, retired ones included, for anyone verifying a
    signature. Public by design: a verifier needs no account."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(responses=KeyOutput(many=True))
    def get(self, request: Request) -> Response:
        return self.paginated(request, selectors.signing_key_list(), KeyOutput)


class KeyRotateApi(ApiView):
    @extend_schema(request=None, responses={201: KeyOutput})
    def post(self, request: Request, slug: str) -> Response:
        membership = next((m for m in self.actor.memberships.values() if m.organisation.slug == slug), None)
        if membership is None:
            raise NotFound()
        self.actor.require_admin(membership.organisation_id)
        key = services.signing_key_rotate(organisation=membership.organisation, actor=self.actor.user)
        return created(key, KeyOutput)


class AuditEntryOutput(serializers.Serializer[AuditEntry]):
    seq = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    organisation = serializers.SlugField(source="organisation.slug", default=None)
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    details = serializers.JSONField(source="data")
    prev_hash = serializers.CharField()
    entry_hash = serializers.CharField()


class AuditLogApi(ApiView):
    @extend_schema(responses=AuditEntryOutput(many=True))
    def get(self, request: Request) -> Response:
        entries = selectors.audit_entry_list(organisation_ids=self.actor.organisation_ids)
        return self.paginated(request, entries, AuditEntryOutput)
