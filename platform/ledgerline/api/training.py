from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ledgerline.api.serializers import Input
from ledgerline.api.views import ApiView, created
from ledgerline.datasets.selectors import dataset_version_list
from ledgerline.errors import Missing
from ledgerline.training import selectors, services
from ledgerline.training.models import ConsentPolicy, ModelArtifact, TrainingRun


class ArtifactOutput(serializers.Serializer[ModelArtifact]):
    id = serializers.UUIDField()
    name = serializers.CharField()
    sha256 = serializers.CharField(source="blob.sha256")
    size = serializers.IntegerField(source="blob.size")
    signature = serializers.JSONField()
    key_id = serializers.CharField()
    cid = serializers.CharField()
    anchored_at = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class RunOutput(serializers.Serializer[TrainingRun]):
    id = serializers.UUIDField()
    organisation = serializers.SlugField(source="organisation.slug")
    name = serializers.CharField()
    status = serializers.CharField()
    config = serializers.JSONField()
    code_version = serializers.CharField()
    dataset_versions = serializers.SerializerMethodField()
    base_model = serializers.SerializerMethodField()
    inherited_dataset_versions = serializers.SerializerMethodField()
    consent_policy = serializers.CharField()
    excluded = serializers.JSONField()
    metrics = serializers.JSONField()
    progress = serializers.JSONField()
    error = serializers.CharField()
    artifacts = ArtifactOutput(many=True)
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()

    def get_dataset_versions(self, run: TrainingRun) -> list[dict[str, Any]]:
        return [
            {"id": str(v.pk), "dataset": str(v.dataset_id), "number": v.number, "merkle_root": v.merkle_root}
            for v in run.dataset_versions.all()
        ]

    def get_base_model(self, run: TrainingRun) -> dict[str, Any] | None:
        base = run.base_model
        if base is None:
            return None
        return {"id": str(base.pk), "name": base.name, "sha256": base.blob.sha256, "run": str(base.run_id)}

    def get_inherited_dataset_versions(self, run: TrainingRun) -> list[dict[str, Any]]:
        """The dataset versions its model carries from the pretrained model it continues."""
        if run.base_model_id is None:
            return []
        return [
            {
                "id": str(line.version.pk),
                "dataset": str(line.version.dataset_id),
                "number": line.version.number,
                "merkle_root": line.version.merkle_root,
                "via": str(line.via.pk),
            }
            for line in selectors.lineage_versions(run)
            if line.via is not None
        ]


class TrainingRunListApi(ApiView):
    class InputSerializer(Input):
        organisation = serializers.SlugField(required=False)
        name = serializers.CharField(max_length=200)
        config = serializers.DictField(required=False, default=dict)
        dataset_versions = serializers.ListField(child=serializers.UUIDField(), min_length=1)
        base_model = serializers.UUIDField(
            required=False, allow_null=True, help_text="a sound model of the organisation to continue (pretrained)"
        )
        consent_policy = serializers.ChoiceField(
            choices=ConsentPolicy.choices,
            default=ConsentPolicy.EXCLUDE,
            help_text="exclude: train without the files whose consent forbids it (recorded); refuse: refuse the run",
        )

    @extend_schema(responses=RunOutput(many=True))
    def get(self, request: Request) -> Response:
        return self.paginated(
            request, selectors.training_run_list(organisation_ids=self.actor.organisation_ids), RunOutput
        )

    @extend_schema(request=InputSerializer, responses={201: RunOutput})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        organisation = self.actor.organisation_for_create(data.validated_data.get("organisation"))
        wanted = set(data.validated_data["dataset_versions"])
        versions = list(dataset_version_list(organisation_ids=[organisation.pk]).filter(pk__in=wanted))
        if len(versions) != len(wanted):
            raise Missing(
                "Some dataset versions do not exist in this organisation.", fields={"dataset_versions": ["not found"]}
            )
        base_model = None
        if data.validated_data.get("base_model"):
            base_model = (
                selectors.model_artifact_list(organisation_ids=[organisation.pk])
                .filter(pk=data.validated_data["base_model"])
                .first()
            )
            if base_model is None:
                raise Missing("No such model in this organisation.", fields={"base_model": ["not found"]})
        run = services.training_run_create(
            organisation=organisation,
            name=data.validated_data["name"],
            config=data.validated_data["config"],
            dataset_versions=versions,
            consent_policy=data.validated_data["consent_policy"],
            created_by=self.actor.user,
            base_model=base_model,
        )
        return created(run, RunOutput)


class TrainingRunDetailApi(ApiView):
    @extend_schema(responses=RunOutput)
    def get(self, request: Request, run_id: str) -> Response:
        runs = selectors.training_run_list(organisation_ids=self.actor.organisation_ids)
        return Response(RunOutput(self.visible(runs, pk=run_id)).data)
