from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ledgerline.api.serializers import Input
from ledgerline.api.views import ApiView, created
from ledgerline.errors import Missing
from ledgerline.pipeline import requests as pipeline
from ledgerline.training.models import ModelArtifact
from ledgerline.training.selectors import model_artifact_list
from ledgerline.works import requests, selectors
from ledgerline.works.models import Generation, Work, WorkOutput


class OutputFileSerializer(serializers.Serializer[WorkOutput]):
    kind = serializers.CharField()
    media_type = serializers.CharField()
    sha256 = serializers.CharField(source="blob.sha256")
    size = serializers.IntegerField(source="blob.size")


class TokenSerializer(serializers.Serializer[Any]):
    chain_id = serializers.IntegerField()
    contract = serializers.CharField()
    token_id = serializers.IntegerField()


class WorkOutputSerializer(serializers.Serializer[Work]):
    id = serializers.UUIDField()
    organisation = serializers.SlugField(source="organisation.slug")
    generation = serializers.UUIDField(source="generation_id", allow_null=True)
    index = serializers.IntegerField()
    title = serializers.CharField()
    model = serializers.UUIDField(source="model_id")
    model_sha256 = serializers.CharField(source="model.blob.sha256")
    status = serializers.CharField()
    seed = serializers.IntegerField()
    parameters = serializers.JSONField()
    outputs = OutputFileSerializer(many=True)
    originality = serializers.JSONField()
    content_sha256 = serializers.CharField()
    manifest = serializers.JSONField()
    cid = serializers.CharField()
    token = TokenSerializer(allow_null=True)
    error = serializers.CharField()
    created_at = serializers.DateTimeField()


class GenerationOutput(serializers.Serializer[Generation]):
    id = serializers.UUIDField()
    organisation = serializers.SlugField(source="organisation.slug")
    title = serializers.CharField()
    model = serializers.UUIDField(source="model_id")
    count = serializers.IntegerField()
    seed = serializers.IntegerField()
    parameters = serializers.JSONField()
    progress = serializers.SerializerMethodField(help_text="works per status")
    works = WorkOutputSerializer(many=True)
    created_at = serializers.DateTimeField()

    def get_progress(self, generation: Generation) -> dict[str, int]:
        return selectors.generation_progress(generation)


class GenerationInput(Input):
    organisation = serializers.SlugField(required=False)
    title = serializers.CharField(max_length=200)
    model = serializers.UUIDField()
    seed = serializers.IntegerField(
        required=False, min_value=0, max_value=requests.MAX_SEED, help_text="left out: drawn at random and recorded"
    )
    parameters = serializers.DictField(
        required=False,
        default=dict,
        help_text="length, temperature, top_k, top_p, beams (0 samples; 1-16: beam search), style; "
        "originality_max_run; licence (SPDX)",
    )


def _model(organisation: Any, model_id: Any) -> ModelArtifact:
    model = model_artifact_list(organisation_ids=[organisation.pk]).filter(pk=model_id).first()
    if model is None:
        raise Missing("No such model in this organisation.", fields={"model": ["not found"]})
    return model


class GenerationListApi(ApiView):
    class InputSerializer(GenerationInput):
        count = serializers.IntegerField(min_value=1, max_value=requests.MAX_COUNT, default=1)

    @extend_schema(responses=GenerationOutput(many=True))
    def get(self, request: Request) -> Response:
        return self.paginated(
            request, selectors.generation_list(organisation_ids=self.actor.organisation_ids), GenerationOutput
        )

    @extend_schema(request=InputSerializer, responses={201: GenerationOutput})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        organisation = self.actor.organisation_for_create(data.validated_data.get("organisation"))
        generation = pipeline.generation_request(
            organisation=organisation,
            title=data.validated_data["title"],
            model=_model(organisation, data.validated_data["model"]),
            parameters=data.validated_data["parameters"],
            count=data.validated_data["count"],
            seed=data.validated_data.get("seed"),
            created_by=self.actor.user,
        )
        return created(
            selectors.generation_list(organisation_ids=[organisation.pk]).get(pk=generation.pk), GenerationOutput
        )


class GenerationDetailApi(ApiView):
    @extend_schema(responses=GenerationOutput)
    def get(self, request: Request, generation_id: str) -> Response:
        generations = selectors.generation_list(organisation_ids=self.actor.organisation_ids)
        return Response(GenerationOutput(self.visible(generations, pk=generation_id)).data)


class WorkListApi(ApiView):
    InputSerializer = GenerationInput

    @extend_schema(responses=WorkOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return self.paginated(
            request, selectors.work_list(organisation_ids=self.actor.organisation_ids), WorkOutputSerializer
        )

    @extend_schema(request=InputSerializer, responses={201: WorkOutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        organisation = self.actor.organisation_for_create(data.validated_data.get("organisation"))
        work = pipeline.work_request(
            organisation=organisation,
            title=data.validated_data["title"],
            model=_model(organisation, data.validated_data["model"]),
            parameters=data.validated_data["parameters"],
            seed=data.validated_data.get("seed"),
            created_by=self.actor.user,
        )
        return created(work, WorkOutputSerializer)


class WorkDetailApi(ApiView):
    @extend_schema(responses=WorkOutputSerializer)
    def get(self, request: Request, work_id: str) -> Response:
        works = selectors.work_list(organisation_ids=self.actor.organisation_ids)
        return Response(WorkOutputSerializer(self.visible(works, pk=work_id)).data)
