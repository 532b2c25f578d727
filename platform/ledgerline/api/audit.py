"""Verification: public (no account needed, rate-limited), the full lineage for members of the
work's organisation. A verdict is kept under an unguessable id, with a report to save."""

import json
import re
from typing import Any
from uuid import UUID

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from ledgerline.accounts.models import ApiToken, Membership
from ledgerline.api.serializers import FlagField, Input
from ledgerline.audit import reports, services
from ledgerline.audit.models import Verification
from ledgerline_verify.checks import Subject

HEX64 = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
TOKEN_ID_MAX = 2**256 - 1  # an ERC-721 token id is a uint256


def _one_of(*variants: dict[str, Any]) -> dict[str, Any]:
    """A request schema that names exactly what VerifyApi accepts: one subject, nothing else."""
    return {
        "oneOf": [
            {
                "type": "object",
                "required": sorted(set(v) - {"regenerate"}),
                "properties": v,
                "additionalProperties": False,
            }
            for v in variants
        ]
    }


_TOKEN = {"type": "integer", "minimum": 1, "maximum": TOKEN_ID_MAX}
_REGENERATE = {"type": "boolean", "description": "Also regenerate the work from its signed model and compare."}
_HASH = {"type": "string", "pattern": HEX64.pattern}
VERIFY_REQUEST = {
    "application/json": _one_of(
        {"token_id": _TOKEN, "regenerate": _REGENERATE},
        {"content_sha256": _HASH, "regenerate": _REGENERATE},
        {"manifest": {"anyOf": [{"type": "object"}, {"type": "string", "minLength": 1}]}, "regenerate": _REGENERATE},
    ),
    "multipart/form-data": _one_of(
        {"file": {"type": "string", "format": "binary", "minLength": 1}, "regenerate": _REGENERATE},
        {"file": {"type": "string", "format": "binary", "minLength": 1}, "token_id": _TOKEN, "regenerate": _REGENERATE},
        {"token_id": _TOKEN, "regenerate": _REGENERATE},
        {"content_sha256": _HASH, "regenerate": _REGENERATE},
        {"manifest": {"type": "string", "minLength": 1}, "regenerate": _REGENERATE},
    ),
}


class AnonVerifyThrottle(AnonRateThrottle):
    scope = "verify_anon"


class UserVerifyThrottle(UserRateThrottle):
    scope = "verify_user"


def member_of(request: Request) -> list[UUID]:
    """The organisations of whoever asks (none for the public; a token's own one only)."""
    if not request.user or not request.user.is_authenticated:
        return []
    memberships = Membership.objects.filter(user_id=request.user.pk)
    if isinstance(request.auth, ApiToken):
        memberships = memberships.filter(pk=request.auth.membership_id)
    return list(memberships.values_list("organisation_id", flat=True))


class ManifestField(serializers.Field):
    """A signed manifest: its JSON text or the object. Whether it is a manifest is the verdict's to say."""

    def to_internal_value(self, data: Any) -> str | dict[str, Any]:
        if isinstance(data, dict) or (isinstance(data, str) and data):
            return data
        raise ValidationError("a manifest is a JSON object or its text")


class PublicApi(APIView):
    permission_classes = [AllowAny]


class VerifyApi(PublicApi):
    """Hand in a file (multipart `file`), a `token_id`, a `content_sha256` or a signed `manifest`;
    get the verdict on every link of its chain of custody."""

    throttle_classes = [AnonVerifyThrottle, UserVerifyThrottle]

    class InputSerializer(Input):
        file = serializers.FileField(required=False)
        token_id = serializers.IntegerField(required=False, min_value=1, max_value=TOKEN_ID_MAX)
        content_sha256 = serializers.CharField(required=False)
        manifest = ManifestField(required=False)
        regenerate = FlagField(required=False, default=False)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:
                raise ValidationError({unknown[0]: [f"not a field here; the fields are {', '.join(self.fields)}"]})
            if "file" in self.initial_data and attrs.get("file") is None:
                raise ValidationError({"file": ["attach the file as a file part (with a filename)"]})
            return attrs

    @extend_schema(request=VERIFY_REQUEST, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subject, kind = _subject(data.validated_data)
        organisations = member_of(request)
        verification = services.verification_create(
            subject=subject,
            kind=kind,
            user=request.user if request.user.is_authenticated else None,
            regenerate=data.validated_data["regenerate"],
            member_of=organisations,
        )
        return Response(_view(verification, organisations), status=201)


def _subject(values: dict[str, Any]) -> tuple[Subject, str]:
    given = [name for name in ("file", "token_id", "content_sha256", "manifest") if values.get(name) is not None]
    if not given or (len(given) > 1 and set(given) != {"file", "token_id"}):
        raise ValidationError(
            {
                "non_field_errors": [
                    "Hand in one of: a file, a token_id, a content_sha256 or a manifest (a MIDI file may come with the "
                    "token_id of its work)."
                ]
            }
        )
    if values.get("content_sha256") is not None:
        if not HEX64.match(values["content_sha256"]):
            raise ValidationError({"content_sha256": ["must be a SHA-256: 64 hexadecimal digits"]})
        return Subject(content_sha256=values["content_sha256"].lower().removeprefix("0x")), "hash"
    if values.get("manifest") is not None:
        manifest = values["manifest"]
        raw = manifest.encode() if isinstance(manifest, str) else json.dumps(manifest).encode()
        return Subject(manifest=raw), "manifest"
    if values.get("file") is not None:
        upload = values["file"]
        data = services.verification_file_read(upload)
        return Subject(data=data, token_id=values.get("token_id"), name=upload.name or ""), "file"
    return Subject(token_id=values["token_id"]), "token"


def _view(verification: Verification, organisations: list[UUID]) -> dict[str, Any]:
    view = services.verification_view(verification, member_of=organisations)
    base = f"/api/v1/verifications/{verification.pk}"
    view["links"] = {"self": f"{base}/", "html": f"{base}/report.html", "pdf": f"{base}/report.pdf"}
    return view


class VerificationApi(PublicApi):
    """A verdict by its id: the public part for anyone, all of it for the work's organisation."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, verification_id: UUID) -> Response:
        verification = get_object_or_404(Verification, pk=verification_id)
        return Response(_view(verification, member_of(request)))


class VerificationReportApi(PublicApi):
    """The report to save: a self-contained HTML page, or a PDF."""

    @extend_schema(
        parameters=[OpenApiParameter("suffix", str, OpenApiParameter.PATH, enum=["html", "pdf"])],
        responses={(200, "text/html"): bytes, (200, "application/pdf"): bytes},
    )
    def get(self, request: Request, verification_id: UUID, suffix: str) -> HttpResponse:
        if suffix not in ("html", "pdf"):
            raise NotFound("A report is .html or .pdf.")
        verification = get_object_or_404(Verification, pk=verification_id)
        view = _view(verification, member_of(request))
        if suffix == "pdf":
            response = HttpResponse(reports.report_pdf(view), content_type="application/pdf")
        else:
            response = HttpResponse(
                render_to_string("audit/report.html", {"report": view}), content_type="text/html; charset=utf-8"
            )
        response["Content-Disposition"] = f'attachment; filename="ledgerline-verification-{verification.pk}.{suffix}"'
        return response
