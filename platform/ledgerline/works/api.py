from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ledgerline.api.views import ApiView, created
from ledgerline.training.selectors import model_artifact_list
from ledgerline.works import selectors, services
from ledgerline.works.models import Work, WorkOutput


class OutputFileSerializer(serializers.Serializer[WorkOutput]):
    kind = serializers.CharField()
    media_type = serializers.CharField()
    sha256 = serializers.CharField(source="blob.sha256")
    size = serializers.IntegerField(source="blob.size")


class WorkOutputSerializer(serializers.Serializer[Work]):
    id = serializers.UUIDField()
    organisation = serializers.SlugField(source="organisation.slug")
    title = serializers.CharField()
    model = serializers.UUIDField(source="model_id")
    model_sha256 = serializers.CharField(source="model.blob.sha256")
    status = serializers.CharField()
    seed = serializers.IntegerField()
    parameters = serializers.JSONField()
    outputs = OutputFileSerializer(many=True)
    manifest = serializers.JSONField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()


class WorkListApi(ApiView):
    class InputSerializer(serializers.Serializer[Any]):
        organisation = serializers.SlugField(required=False)
        title = serializers.CharField(max_length=200)
        model = serializers.UUIDField()
        seed = serializers.IntegerField(required=False, min_value=0, max_value=services.MAX_SEED)
        parameters = serializers.DictField(required=False, default=dict)

    @extend_schema(responses=WorkOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return self.paginated(request, selectors.work_list(organisation_ids=self.actor.organisation_ids),
                              WorkOutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: WorkOutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        organisation = self.actor.organisation_for_create(data.validated_data.get("organisation"))
        model = model_artifact_list(organisation_ids=[organisation.pk]).filter(pk=data.validated_data["model"]).first()
        if model is None:
            raise serializers.ValidationError({"model": ["No such model in this organisation."]})
        work = services.work_request(organisation=organisation, title=data.validated_data["title"], model=model,
                                     parameters=data.validated_data["parameters"],
                                     seed=data.validated_data.get("seed"), created_by=self.actor.user)
        return created(work, WorkOutputSerializer)


class WorkDetailApi(ApiView):
    @extend_schema(responses=WorkOutputSerializer)
    def get(self, request: Request, work_id: str) -> Response:
        works = selectors.work_list(organisation_ids=self.actor.organisation_ids)
        return Response(WorkOutputSerializer(self.visible(works, pk=work_id)).data)
