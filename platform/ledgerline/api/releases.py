"""Releases and their DDEX ERN messages. Members of the owning organisation read them (others get a
404, as for every object); the artist and admin roles create them."""

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ledgerline.api.schema import Error
from ledgerline.api.serializers import Input
from ledgerline.api.views import ApiView, created
from ledgerline.errors import LedgerlineError
from ledgerline.royalties import releases
from ledgerline.royalties.ern import release_ern
from ledgerline.royalties.models import Release, ReleaseTrack


class TrackOutput(serializers.Serializer[ReleaseTrack]):
    sequence = serializers.IntegerField()
    work = serializers.UUIDField(source="work_id")
    title = serializers.CharField(source="work.title")
    isrc = serializers.CharField(source="work.isrc.code")


class ReleaseOutput(serializers.Serializer[Release]):
    id = serializers.UUIDField()
    organisation = serializers.SlugField(source="organisation.slug")
    title = serializers.CharField()
    label_name = serializers.CharField()
    icpn = serializers.CharField()
    release_date = serializers.DateField(allow_null=True)
    sender_dpid = serializers.CharField()
    tracks = serializers.SerializerMethodField()
    ern = serializers.SerializerMethodField(help_text="where its DDEX ERN 4.3 message is")
    created_at = serializers.DateTimeField()

    def get_tracks(self, release: Release) -> list[dict[str, Any]]:
        return [dict(TrackOutput(track).data) for track in release.tracks.all()]

    def get_ern(self, release: Release) -> str:
        return f"/api/v1/releases/{release.pk}/ern.xml"


class ReleaseListApi(ApiView):
    class InputSerializer(Input):
        organisation = serializers.SlugField(required=False)
        title = serializers.CharField(max_length=200)
        works = serializers.ListField(
            child=serializers.UUIDField(), max_length=releases.MAX_TRACKS, help_text="the works in order"
        )
        label_name = serializers.CharField(
            max_length=200, required=False, default="", allow_blank=True, help_text="left out: the organisation's name"
        )
        icpn = serializers.RegexField(
            r"^[0-9 -]*$",
            max_length=20,
            required=False,
            default="",
            allow_blank=True,
            help_text="its UPC (12 digits) or EAN (13)",
            error_messages={"invalid": "a UPC or EAN is 12 or 13 digits"},
        )
        release_date = serializers.DateField(required=False, allow_null=True, default=None)
        sender_dpid = serializers.RegexField(
            f"^$|{releases.DPID.pattern}",
            max_length=40,
            required=False,
            default="",
            allow_blank=True,
            help_text="the DDEX Party ID it is sent under",
            error_messages={"invalid": "a DDEX Party ID: PADPIDA followed by letters and digits"},
        )

    @extend_schema(responses=ReleaseOutput(many=True))
    def get(self, request: Request) -> Response:
        return self.paginated(
            request, releases.release_list(organisation_ids=self.actor.organisation_ids), ReleaseOutput
        )

    @extend_schema(request=InputSerializer, responses={201: ReleaseOutput})
    def post(self, request: Request) -> Response:
        """A release of the organisation's minted works that have an ISRC, in the order given."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        organisation = self.actor.organisation_for_create(fields.get("organisation"))
        release = releases.release_create(
            organisation=organisation,
            created_by=self.actor.user,
            title=fields["title"],
            works=fields["works"],
            label_name=fields["label_name"],
            icpn=fields["icpn"],
            release_date=fields["release_date"],
            sender_dpid=fields["sender_dpid"],
        )
        return created(release, ReleaseOutput)


class ReleaseDetailApi(ApiView):
    def get_release(self, release_id: str) -> Release:
        return self.visible(releases.release_list(organisation_ids=self.actor.organisation_ids), pk=release_id)

    @extend_schema(responses=ReleaseOutput)
    def get(self, request: Request, release_id: str) -> Response:
        return Response(ReleaseOutput(self.get_release(release_id)).data)


class ReleaseErnApi(ReleaseDetailApi):
    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        """An ERN message is XML whatever Accept asks for (a client that sends Accept:
        application/xml gets it, not a 406); the errors stay JSON."""
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "recipient",
                str,
                pattern=releases.DPID.pattern,
                description="the DDEX Party ID it is addressed to; left out, its sender",
            )
        ],
        responses={(200, "application/xml"): bytes, 409: Error},
    )
    def get(self, request: Request, release_id: str) -> HttpResponse:  # type: ignore[override]
        """The release as a DDEX ERN 4.3 NewReleaseMessage, with each work's AI disclosure (a 409
        while the release has no sender DPID)."""
        release = self.get_release(release_id)
        recipient = request.query_params.get("recipient", "")
        if recipient and not releases.DPID.match(recipient):
            raise LedgerlineError(
                "recipient is a DDEX Party ID: PADPIDA followed by letters and digits.",
                fields={"recipient": ["PADPIDA..."]},
            )
        response = HttpResponse(release_ern(release, recipient=recipient), content_type="application/xml")
        response["Content-Disposition"] = f'attachment; filename="release-{release.pk}-ern.xml"'
        return response
