import base64
import binascii
import json
from pathlib import Path
from typing import Any, BinaryIO, cast

from django.conf import settings
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from ledgerline.api.serializers import Input
from ledgerline.api.views import WHOLE_NUMBER, ApiView, RequestBody, body_fields, created
from ledgerline.datasets import blobs, selectors, services
from ledgerline.datasets.croissant import croissant_export
from ledgerline.datasets.models import DatasetFile
from ledgerline.datasets.uploads import HashedUpload
from ledgerline.errors import LedgerlineError, TooLarge
from ledgerline.sites import site_url
from ledgerline_verify import bounded_json


class RightsShareSerializer(Input):
    name = serializers.CharField(max_length=200)
    identifier = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    share = serializers.DecimalField(max_digits=9, decimal_places=8)


class RightsShareOutput(serializers.Serializer[Any]):
    name = serializers.CharField(source="holder.name")
    identifier = serializers.CharField(source="holder.identifier")
    share = serializers.DecimalField(max_digits=9, decimal_places=8)


def _rights(raw: Any) -> list[services.RightsShareInput] | None:
    """Rights holders from a request, validated whole (never as a partial update)."""
    if raw is None:
        return None
    parsed = RightsShareSerializer(data=raw, many=True)
    if not parsed.is_valid():
        raise ValidationError({"rights_holders": parsed.errors})
    return [
        services.RightsShareInput(name=r["name"], identifier=r["identifier"], share=r["share"])
        for r in parsed.validated_data
    ]


class DatasetOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    organisation = serializers.SlugField(source="organisation.slug")
    name = serializers.CharField()
    description = serializers.CharField()
    licence_spdx = serializers.CharField()
    licence_terms = serializers.CharField()
    licence_conditions = serializers.JSONField()
    consent = serializers.JSONField()
    rights_holders = RightsShareOutput(source="shares.all", many=True)
    file_count = serializers.IntegerField(required=False)
    total_bytes = serializers.IntegerField(required=False, allow_null=True)
    created_at = serializers.DateTimeField()


class DatasetListApi(ApiView):
    class InputSerializer(Input):
        organisation = serializers.SlugField(required=False)
        name = serializers.CharField(max_length=200)
        description = serializers.CharField(required=False, allow_blank=True, default="")
        licence_spdx = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
        licence_terms = serializers.CharField(required=False, allow_blank=True, default="")
        licence_conditions = serializers.JSONField(
            required=False, default=dict, help_text="commercial_use, derivatives, ... (datasets.terms)"
        )
        consent = serializers.JSONField(required=False, default=dict)
        rights_holders = serializers.ListField(
            child=serializers.DictField(), required=False, default=list, help_text="[{name, identifier, share}]"
        )

    @extend_schema(responses=DatasetOutput(many=True))
    def get(self, request: Request) -> Response:
        datasets = selectors.dataset_list(organisation_ids=self.actor.organisation_ids)
        return self.paginated(request, datasets, DatasetOutput)

    @extend_schema(request=InputSerializer, responses={201: DatasetOutput})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = services.dataset_create(
            organisation=self.actor.organisation_for_create(data.validated_data.get("organisation")),
            name=data.validated_data["name"],
            description=data.validated_data["description"],
            licence=services.Licence(data.validated_data["licence_spdx"], data.validated_data["licence_terms"]),
            consent=data.validated_data["consent"],
            rights=_rights(data.validated_data["rights_holders"]) or [],
            created_by=self.actor.user,
            licence_conditions=data.validated_data["licence_conditions"],
        )
        return created(
            selectors.dataset_list(organisation_ids=[dataset.organisation_id]).get(pk=dataset.pk), DatasetOutput
        )


class DatasetDetailApi(ApiView):
    class InputSerializer(Input):
        name = serializers.CharField(max_length=200, required=False)
        description = serializers.CharField(required=False, allow_blank=True)
        licence_spdx = serializers.CharField(max_length=200, required=False, allow_blank=True)
        licence_terms = serializers.CharField(required=False, allow_blank=True)
        licence_conditions = serializers.JSONField(required=False)
        consent = serializers.JSONField(required=False)
        rights_holders = serializers.ListField(
            child=serializers.DictField(), required=False, help_text="[{name, identifier, share}]"
        )

    def get_dataset(self, dataset_id: str) -> Any:
        return self.visible(selectors.dataset_list(organisation_ids=self.actor.organisation_ids), pk=dataset_id)

    @extend_schema(responses=DatasetOutput)
    def get(self, request: Request, dataset_id: str) -> Response:
        return Response(DatasetOutput(self.get_dataset(dataset_id)).data)

    @extend_schema(request=InputSerializer, responses=DatasetOutput)
    def patch(self, request: Request, dataset_id: str) -> Response:
        dataset = self.get_dataset(dataset_id)
        self.actor.require_writer(dataset.organisation_id)
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        licence = None
        if "licence_spdx" in values or "licence_terms" in values:
            licence = services.Licence(
                values.get("licence_spdx", dataset.licence_spdx), values.get("licence_terms", dataset.licence_terms)
            )
        services.dataset_update(
            dataset=dataset,
            updated_by=self.actor.user,
            name=values.get("name"),
            description=values.get("description"),
            licence=licence,
            consent=values.get("consent"),
            rights=_rights(values.get("rights_holders")),
            licence_conditions=values.get("licence_conditions"),
        )
        return Response(DatasetOutput(self.get_dataset(dataset_id)).data)


class FileOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    dataset = serializers.UUIDField(source="dataset_id")
    path = serializers.CharField()
    sha256 = serializers.CharField(source="blob.sha256")
    size = serializers.IntegerField(source="blob.size")
    media_type = serializers.CharField()
    duration_seconds = serializers.FloatField()
    details = serializers.JSONField()
    tags = serializers.ListField(child=serializers.CharField())
    caption = serializers.CharField()
    licence_spdx = serializers.CharField()
    licence_terms = serializers.CharField()
    consent = serializers.JSONField()
    rights_holders = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_rights_holders(self, file: DatasetFile) -> list[dict[str, Any]]:
        return list(RightsShareOutput(selectors.rights_of(file=file), many=True).data)


def _json_field(request: Request, name: str) -> Any:
    raw = body_fields(request).get(name)
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        return raw
    try:
        return bounded_json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationError({name: [f"must be JSON: {exc.msg} at character {exc.pos}"]}) from None
    except bounded_json.TooDeep as exc:
        raise ValidationError({name: [str(exc)]}) from None


def _tags_field(request: Request) -> Any:
    """``tags`` as a JSON list, or as words separated by spaces or commas."""
    raw = body_fields(request).get("tags")
    if isinstance(raw, str) and raw.lstrip().startswith("["):
        return _json_field(request, "tags")
    return None if raw == "" else raw


class DatasetFileListApi(ApiView):
    @extend_schema(responses=FileOutput(many=True))
    def get(self, request: Request, dataset_id: str) -> Response:
        dataset = self.visible(selectors.dataset_list(organisation_ids=self.actor.organisation_ids), pk=dataset_id)
        files = selectors.dataset_file_list(organisation_ids=self.actor.organisation_ids).filter(dataset=dataset)
        return self.paginated(request, files, FileOutput)

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "path": {"type": "string", "description": "path in the dataset (one file only); default: its name"},
                    "licence_spdx": {"type": "string"},
                    "licence_terms": {"type": "string"},
                    "consent": {"type": "string", "description": "JSON, as cawg.training-mining entries"},
                    "rights_holders": {"type": "string", "description": "JSON list of {name, identifier, share}"},
                    "tags": {"type": "string", "description": "words for every file sent: 'organ, chorale'"},
                    "caption": {"type": "string", "description": "one line describing the files"},
                },
            }
        },
        responses={201: FileOutput(many=True)},
    )
    def post(self, request: Request, dataset_id: str) -> Response:
        dataset = self.visible(selectors.dataset_list(organisation_ids=self.actor.organisation_ids), pk=dataset_id)
        self.actor.require_writer(dataset.organisation_id)
        uploads: list[HashedUpload] = request.FILES.getlist("file")
        if not uploads:
            raise ValidationError({"file": ["Attach one or more files as multipart 'file' parts."]})
        path = request.data.get("path")
        if path and len(uploads) > 1:
            raise ValidationError({"path": ["'path' names one file; leave it out when uploading several."]})
        rights_data = _rights(_json_field(request, "rights_holders"))
        description = services.description_validate(
            tags=_tags_field(request), caption=body_fields(request).get("caption")
        )
        licence = None
        if request.data.get("licence_spdx") or request.data.get("licence_terms"):
            licence = services.Licence(request.data.get("licence_spdx", ""), request.data.get("licence_terms", ""))
        staged = [
            services.StagedFile(
                name=path or upload.name or "upload",
                temp_path=Path(upload.temporary_file_path()),
                sha256=upload.sha256,
                size=upload.size or 0,
                description=description,
            )
            for upload in uploads
        ]
        files = services.dataset_files_add(
            dataset=dataset,
            files=staged,
            added_by=self.actor.user,
            licence=licence,
            consent=_json_field(request, "consent"),
            rights=rights_data,
        )
        return Response(FileOutput(files, many=True).data, status=201)


class LengthRequired(LedgerlineError):
    status = 411
    code = "length_required"


def _content_length(request: Request) -> int:
    """The body's declared size: required, so a body is never read without knowing where it ends."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if not WHOLE_NUMBER.fullmatch(declared):
        raise LengthRequired(
            "Send the file's size as Content-Length (curl -T does); a body of unknown length is refused."
        )
    size = int(declared)
    if size > settings.LEDGERLINE_MAX_UPLOAD_BYTES:
        raise TooLarge(f"The file is larger than the {settings.LEDGERLINE_MAX_UPLOAD_BYTES:,} bytes allowed per file.")
    return size


def _content_digest(request: Request) -> str | None:
    """The SHA-256 (hex) a Content-Digest header (RFC 9530) gives for the body, if it gives one;
    digests in other algorithms are ignored, as the RFC allows."""
    for member in request.headers.get("Content-Digest", "").split(","):
        key, _, value = member.partition("=")
        if key.strip().lower() != "sha-256":
            continue
        encoded = value.split(";")[0].strip()
        try:
            digest = base64.b64decode(encoded[1:-1], validate=True) if encoded[:1] == encoded[-1:] == ":" else b""
        except binascii.Error:
            digest = b""
        if len(digest) != 32:
            raise LedgerlineError("Content-Digest: write sha-256=:<base64 of the body's 32-byte SHA-256>: (RFC 9530).")
        return digest.hex()
    return None


class DatasetFileContentApi(ApiView):
    """One file whose bytes are the request body, for scripts: ``curl -T take.wav .../files/take.wav``."""

    parser_classes: list[Any] = []  # the body is the file: streamed to the staging area, never parsed

    @extend_schema(
        operation_id="api_v1_datasets_files_put",
        request={"application/octet-stream": {"type": "string", "format": "binary"}},
        parameters=[
            OpenApiParameter("path", str, OpenApiParameter.PATH, description="the file's path in the dataset"),
            OpenApiParameter("tags", str, description="words describing the file: 'organ, chorale'"),
            OpenApiParameter("caption", str, description="one line describing the file"),
            OpenApiParameter(
                "Content-Digest",
                str,
                OpenApiParameter.HEADER,
                description="sha-256=:<base64>: (RFC 9530); the file is refused if its bytes differ",
            ),
        ],
        responses={201: FileOutput},
    )
    def put(self, request: Request, dataset_id: str, path: str) -> Response:
        dataset = self.visible(selectors.dataset_list(organisation_ids=self.actor.organisation_ids), pk=dataset_id)
        self.actor.require_writer(dataset.organisation_id)
        description = services.description_validate(
            tags=request.query_params.get("tags") or None, caption=request.query_params.get("caption")
        )
        size, digest = _content_length(request), _content_digest(request)
        temp_path, sha256, received = blobs.blob_stage(cast(BinaryIO, RequestBody(request)), expected=size, direct=True)
        try:
            if received != size:
                raise LedgerlineError(
                    f"The upload was cut short: {received:,} of {size:,} bytes arrived. Nothing was kept; "
                    "please upload again."
                )
            if digest is not None and digest != sha256:
                raise LedgerlineError("The bytes received do not match Content-Digest. Nothing was kept.")
            staged = services.StagedFile(
                name=path, temp_path=temp_path, sha256=sha256, size=received, description=description
            )
            [file] = services.dataset_files_add(dataset=dataset, files=[staged], added_by=self.actor.user)
        finally:
            temp_path.unlink(missing_ok=True)  # already moved into the store on success
        return created(file, FileOutput)


class DatasetFileDetailApi(ApiView):
    def get_file(self, file_id: str) -> DatasetFile:
        files = selectors.dataset_file_list(organisation_ids=self.actor.organisation_ids)
        file: DatasetFile = self.visible(files, pk=file_id)
        return file

    @extend_schema(responses=FileOutput)
    def get(self, request: Request, file_id: str) -> Response:
        return Response(FileOutput(self.get_file(file_id)).data)

    class DescriptionInput(Input):
        tags = serializers.JSONField(required=False, help_text="a list of words, or words in one string")
        caption = serializers.CharField(max_length=500, required=False, allow_blank=True)

    @extend_schema(request=DescriptionInput, responses=FileOutput)
    def patch(self, request: Request, file_id: str) -> Response:
        """A file's tags and caption; versions frozen before keep theirs."""
        file = self.get_file(file_id)
        self.actor.require_writer(file.dataset.organisation_id)
        data = self.DescriptionInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        description = services.description_validate(
            tags=values.get("tags", file.tags), caption=values.get("caption", file.caption)
        )
        file = services.dataset_file_describe(file=file, description=description, updated_by=self.actor.user)
        return Response(FileOutput(file).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, file_id: str) -> Response:
        file = self.get_file(file_id)
        self.actor.require_writer(file.dataset.organisation_id)
        services.dataset_file_remove(file=file, removed_by=self.actor.user)
        return Response(status=204)


class DatasetFileConsentApi(DatasetFileDetailApi):
    """A file's training consent: a rights holder's withdrawal is recorded on chain."""

    http_method_names = ["put", "options"]

    class InputSerializer(Input):
        consent = serializers.JSONField()

    @extend_schema(request=InputSerializer, responses=FileOutput)
    def put(self, request: Request, file_id: str) -> Response:
        file = self.get_file(file_id)
        self.actor.require_writer(file.dataset.organisation_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        file = services.dataset_file_consent_set(
            file=file, consent=data.validated_data["consent"], updated_by=self.actor.user
        )
        return Response(FileOutput(file).data)


class BlobContentApi(ApiView):
    """The bytes of a file the actor's organisations hold."""

    @extend_schema(responses={(200, "*/*"): OpenApiTypes.BINARY})
    def get(self, request: Request, sha256: str) -> FileResponse:
        held = selectors.blob_held(organisation_ids=self.actor.organisation_ids, sha256=sha256)
        if held is None:
            raise NotFound()
        path, media_type = held
        content = open(blobs.blob_file(sha256), "rb")  # noqa: SIM115 (FileResponse closes it)
        response = FileResponse(content, content_type=media_type, as_attachment=True, filename=path.rsplit("/", 1)[-1])
        response["Digest"] = f"sha-256={sha256}"
        return response


class VersionOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    dataset = serializers.UUIDField(source="dataset_id")
    number = serializers.IntegerField()
    merkle_root = serializers.CharField()
    licence_spdx = serializers.CharField()
    licence_terms = serializers.CharField()
    licence_conditions = serializers.JSONField()
    consent = serializers.JSONField()
    rights_holders = serializers.JSONField(source="rights")
    file_count = serializers.IntegerField()
    total_bytes = serializers.IntegerField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class VersionDetailOutput(VersionOutput):
    entries = serializers.SerializerMethodField()

    def get_entries(self, version: Any) -> list[dict[str, Any]]:
        return [
            {
                "leaf_index": e.leaf_index,
                "path": e.path,
                "sha256": e.sha256,
                "size": e.size,
                "media_type": e.media_type,
                "tags": e.tags,
                "caption": e.caption,
            }
            for e in version.entries.all()
        ]


class DatasetVersionListApi(ApiView):
    class InputSerializer(Input):
        note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    @extend_schema(responses=VersionOutput(many=True))
    def get(self, request: Request, dataset_id: str) -> Response:
        dataset = self.visible(selectors.dataset_list(organisation_ids=self.actor.organisation_ids), pk=dataset_id)
        versions = selectors.dataset_version_list(organisation_ids=self.actor.organisation_ids).filter(dataset=dataset)
        return self.paginated(request, versions, VersionOutput)

    @extend_schema(request=InputSerializer, responses={201: VersionOutput})
    def post(self, request: Request, dataset_id: str) -> Response:
        dataset = self.visible(selectors.dataset_list(organisation_ids=self.actor.organisation_ids), pk=dataset_id)
        self.actor.require_writer(dataset.organisation_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.dataset_version_create(
            dataset=dataset, created_by=self.actor.user, note=data.validated_data["note"]
        )
        return created(version, VersionOutput)


class DatasetVersionDetailApi(ApiView):
    @extend_schema(responses=VersionDetailOutput)
    def get(self, request: Request, version_id: str) -> Response:
        versions = selectors.dataset_version_list(organisation_ids=self.actor.organisation_ids)
        return Response(VersionDetailOutput(self.visible(versions, pk=version_id)).data)


class DatasetVersionProofApi(ApiView):
    @extend_schema(
        parameters=[
            OpenApiParameter("path", str, description="The file's path in the version (or sha256)."),
            OpenApiParameter("sha256", str, pattern="^[0-9a-fA-F]{64}$"),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, version_id: str) -> Response:
        versions = selectors.dataset_version_list(organisation_ids=self.actor.organisation_ids)
        version = self.visible(versions, pk=version_id)
        path, sha256 = request.query_params.get("path"), request.query_params.get("sha256")
        if not path and not sha256:
            raise ValidationError({"path": ["Name the file by ?path= or ?sha256=."]})
        proof = selectors.version_file_proof(version=version, path=path, sha256=sha256)
        return Response(proof.as_dict())


class DatasetVersionCroissantApi(ApiView):
    @extend_schema(responses={(200, "application/json"): OpenApiTypes.OBJECT})
    def get(self, request: Request, version_id: str) -> Response:
        versions = selectors.dataset_version_list(organisation_ids=self.actor.organisation_ids)
        return Response(croissant_export(version=self.visible(versions, pk=version_id), site=site_url(request)))
