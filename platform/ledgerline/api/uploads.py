"""Resumable uploads over tus 1.0 (tus.io/protocols/resumable-upload), so that existing clients
work: creation, creation-with-upload, termination, checksum (sha256) and expiration.

This module speaks the protocol (headers in, headers out); datasets.resumable keeps the bytes.
Bodies are never parsed or buffered: a PATCH's bytes go from the socket to the part file.
"""

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import QuerySet
from django.utils.http import http_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from ledgerline.api.views import WHOLE_NUMBER, ApiView, RequestBody
from ledgerline.datasets import resumable, selectors
from ledgerline.datasets.models import Upload
from ledgerline.errors import ChecksumMismatch, LedgerlineError

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
OCTETS = "application/offset+octet-stream"
ALGORITHMS = ",".join(resumable.CHECKSUM_ALGORITHMS)
_KEY = re.compile(r"[!-+\--~]+")  # printable ASCII without space or comma


class PreconditionFailed(LedgerlineError):
    status = 412
    code = "unsupported_version"


class UnsupportedMediaType(LedgerlineError):
    status = 415
    code = "unsupported_media_type"


def _number(request: Request, header: str) -> int:
    value = request.headers.get(header)
    if value is None or not WHOLE_NUMBER.fullmatch(value):
        raise LedgerlineError(f"{header} must be a whole number of bytes (0 or more).")
    return int(value)


def metadata_parse(value: str) -> dict[str, str]:
    """Upload-Metadata: comma-separated pairs of a key and its value in base64 (tus 1.0)."""
    metadata: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in value.split(","))):
        key, _, encoded = pair.partition(" ")
        if not _KEY.fullmatch(key) or key in metadata:
            raise LedgerlineError(f"Upload-Metadata: {key[:50]!r} is not a key, or is given twice.")
        try:
            metadata[key] = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise LedgerlineError(f"Upload-Metadata: the value of {key!r} is not UTF-8 text in base64.") from None
    return metadata


def _checksum(request: Request) -> resumable.Checksum | None:
    value = request.headers.get("Upload-Checksum")
    if value is None:
        return None
    algorithm, _, encoded = value.strip().partition(" ")
    algorithm = algorithm.lower()
    if algorithm not in resumable.CHECKSUM_ALGORITHMS:
        raise LedgerlineError(f"Upload-Checksum: the algorithm is one of {ALGORITHMS} (Tus-Checksum-Algorithm).")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != resumable.CHECKSUM_ALGORITHMS[algorithm]:
        raise LedgerlineError(f"Upload-Checksum: '{algorithm} ' and the base64 of the bytes' {algorithm} digest.")
    return resumable.Checksum(algorithm, digest)


def _body(request: Request) -> tuple[Callable[[memoryview], int], int]:
    """The request's bytes as they arrive (0 once the client goes away) and how many it says."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not WHOLE_NUMBER.fullmatch(declared):
        raise LedgerlineError("Content-Length must be a whole number of bytes.")
    size = int(declared)
    if size and request.content_type != OCTETS:
        raise UnsupportedMediaType(f"Send the bytes as Content-Type: {OCTETS}.")
    return RequestBody(request).readinto, size


class UploadOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    dataset = serializers.UUIDField(source="dataset_id")
    filename = serializers.CharField()
    path = serializers.CharField()
    length = serializers.IntegerField()
    offset = serializers.IntegerField()
    state = serializers.CharField()
    file = serializers.UUIDField(source="file_id", allow_null=True)
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


_TUS = OpenApiParameter("Tus-Resumable", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, enum=[TUS_VERSION])


class TusView(ApiView):
    parser_classes: list[Any] = []  # the body is the file's bytes: read as they arrive, never parsed
    # Beside the API's own: tus's answers (an upload gone, a version not spoken, a request writing
    # already, a checksum that does not match), for the OpenAPI schema (api.schema).
    protocol_statuses = {
        "POST": [412],
        "HEAD": [410, 412],
        "PATCH": [410, 412, 423, 460],
        "DELETE": [412, 423],
    }

    def get_permissions(self) -> Sequence[Any]:
        if self.request.method == "OPTIONS":
            return [AllowAny()]  # what the server supports is no secret (and CORS asks without credentials)
        return super().get_permissions()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        speaks_tus = request.method in self.protocol_statuses and hasattr(self, request.method.lower())
        if speaks_tus and request.headers.get("Tus-Resumable") != TUS_VERSION:
            raise PreconditionFailed(f"This endpoint speaks tus {TUS_VERSION}: send Tus-Resumable: {TUS_VERSION}.")

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Tus-Resumable"] = TUS_VERSION
        if response.status_code == 412:
            response["Tus-Version"] = TUS_VERSION
        response["Cache-Control"] = "no-store"
        return response

    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        return Response(
            status=204,
            headers={
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": EXTENSIONS,
                "Tus-Max-Size": str(settings.LEDGERLINE_MAX_UPLOAD_BYTES),
                "Tus-Checksum-Algorithm": ALGORITHMS,
            },
        )

    def own_uploads(self) -> QuerySet[Upload]:
        """The asker's own uploads, into datasets of the organisations it acts for."""
        organisations = self.actor.organisation_ids
        return Upload.objects.filter(created_by=self.actor.user, dataset__organisation_id__in=organisations)

    def upload_headers(self, upload: Upload) -> dict[str, str]:
        headers = {"Upload-Offset": str(upload.offset), "Upload-Expires": http_date(upload.expires_at.timestamp())}
        if upload.file_id:
            headers["Ledgerline-Dataset-File"] = str(upload.file_id)
        return headers


class UploadListApi(TusView):
    @extend_schema(responses=UploadOutput(many=True))
    def get(self, request: Request) -> Response:
        return self.paginated(request, self.own_uploads().order_by("-created_at"), UploadOutput)

    @extend_schema(
        parameters=[
            _TUS,
            OpenApiParameter("Upload-Length", OpenApiTypes.INT, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(
                "Upload-Metadata",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="tus metadata: 'dataset <base64 id>,filename <base64 name>'; also path, tags, caption",
            ),
        ],
        request={OCTETS: OpenApiTypes.BINARY},
        responses={201: OpenApiResponse(description="created; Location names it, Upload-Offset says how far it is")},
    )
    def post(self, request: Request) -> Response:
        length = _number(request, "Upload-Length")
        metadata = metadata_parse(request.headers.get("Upload-Metadata", ""))
        try:
            dataset_id = UUID(metadata.get("dataset", ""))
        except ValueError:
            raise LedgerlineError("Upload-Metadata: 'dataset' must be the id of one of your datasets.") from None
        datasets = selectors.dataset_list(organisation_ids=self.actor.organisation_ids)
        dataset = self.visible(datasets, pk=dataset_id)
        self.actor.require_writer(dataset.organisation_id)
        readinto, size = _body(request)
        checksum = _checksum(request)
        upload = resumable.upload_create(dataset=dataset, user=self.actor.user, length=length, metadata=metadata)
        if size or length == 0:
            # On a checksum mismatch it is created all the same, at offset 0: the client sends those bytes again.
            with suppress(ChecksumMismatch):
                upload = resumable.upload_append(
                    upload=upload, offset=0, readinto=readinto, size=size, checksum=checksum
                )
        location = request.build_absolute_uri(f"/api/v1/uploads/{upload.pk}/")
        return Response(status=201, headers={"Location": location, **self.upload_headers(upload)})


class UploadDetailApi(TusView):
    def get_upload(self, upload_id: UUID) -> Upload:
        upload: Upload = self.visible(self.own_uploads().select_related("dataset"), pk=upload_id)
        return upload

    @extend_schema(responses=UploadOutput)
    def get(self, request: Request, upload_id: UUID) -> Response:
        return Response(UploadOutput(self.get_upload(upload_id)).data)

    @extend_schema(parameters=[_TUS], responses={200: OpenApiResponse(description="Upload-Offset: how far it is")})
    def head(self, request: Request, upload_id: UUID) -> Response:
        upload = self.get_upload(upload_id)
        if upload.state == Upload.State.RECEIVING:
            upload = resumable.upload_offset(upload)
        elif upload.state == Upload.State.COMPLETE:
            upload.offset = upload.length
        else:
            return Response(status=410)
        headers = {**self.upload_headers(upload), "Upload-Length": str(upload.length)}
        return Response(status=200, headers=headers)

    @extend_schema(
        parameters=[
            _TUS,
            OpenApiParameter("Upload-Offset", OpenApiTypes.INT, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(
                "Upload-Checksum", OpenApiTypes.STR, OpenApiParameter.HEADER, description="sha1|sha256 <base64>"
            ),
        ],
        request={OCTETS: OpenApiTypes.BINARY},
        responses={204: OpenApiResponse(description="kept; Upload-Offset says how far it is")},
    )
    def patch(self, request: Request, upload_id: UUID) -> Response:
        upload = self.get_upload(upload_id)
        self.actor.require_writer(upload.dataset.organisation_id)
        offset = _number(request, "Upload-Offset")
        checksum = _checksum(request)
        readinto, size = _body(request)
        if request.content_type != OCTETS:
            raise UnsupportedMediaType(f"Send the bytes as Content-Type: {OCTETS}.")
        upload = resumable.upload_append(upload=upload, offset=offset, readinto=readinto, size=size, checksum=checksum)
        return Response(status=204, headers=self.upload_headers(upload))

    @extend_schema(parameters=[_TUS], responses={204: None})
    def delete(self, request: Request, upload_id: UUID) -> Response:
        resumable.upload_terminate(self.get_upload(upload_id))
        return Response(status=204)
