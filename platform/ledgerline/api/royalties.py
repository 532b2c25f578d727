"""The royalty API: policies, ISRCs, licence checks, usage reports and statements.

Who sees what: members of a label (any role) see its works' royalties, usage and every payee's
statement; members of the organisation a rights holder is linked to (`account`) see that
holder's statements only; staff see the platform's. Writes need the artist or admin role; the
policy, the registrant code and holder links need admin.
"""

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, UnsupportedMediaType
from rest_framework.request import Request
from rest_framework.response import Response

from ledgerline.accounts.models import Organisation, Role
from ledgerline.api.parsers import spooled_body, spooled_body_parsers
from ledgerline.api.serializers import Input, flag
from ledgerline.api.views import ApiView, body_fields, wallet_field
from ledgerline.datasets import services as datasets
from ledgerline.datasets.models import DatasetVersion, RightsHolder
from ledgerline.errors import Conflict, LedgerlineError
from ledgerline.royalties import services, statements, usage
from ledgerline.royalties.isrc import ISRC_PATTERN
from ledgerline.royalties.models import MICROS, Registrant, UsageEvent
from ledgerline.royalties.splits import PLATFORM, decimal_text, policy_of
from ledgerline.royalties.usage_dsr import lines_dsr
from ledgerline.training.selectors import model_artifact_list
from ledgerline.works.licence import work_conditions
from ledgerline.works.models import Work
from ledgerline.works.parameters import generation_parameters_clean
from ledgerline.works.royalty_receivers import payee_destinations
from ledgerline.works.selectors import work_list

JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines", "application/jsonlines")
CSV_TYPES = ("text/csv", "application/csv")
DSR_TYPES = ("text/tab-separated-values",)  # a DDEX DSR flat file (Basic Audio Profile): usage_dsr
UsageFileParsers = spooled_body_parsers(CSV_TYPES + JSONL_TYPES + DSR_TYPES)


class PolicySerializer(serializers.Serializer[Any]):
    data_share = serializers.DecimalField(max_digits=13, decimal_places=12, coerce_to_string=True)
    platform_share = serializers.DecimalField(max_digits=13, decimal_places=12, coerce_to_string=True)
    resale_bps = serializers.IntegerField()
    updated_at = serializers.DateTimeField()


class RoyaltyPolicyApi(ApiView):
    def organisation(self, slug: str) -> Organisation:
        organisation = get_object_or_404(Organisation, slug=slug)
        self.actor.require_member(organisation.pk)
        return organisation

    @extend_schema(responses=PolicySerializer)
    def get(self, request: Request, slug: str) -> Response:
        return Response(PolicySerializer(policy_of(self.organisation(slug))).data)

    @extend_schema(
        request=inline_serializer(
            "PolicyInput",
            {
                "data_share": serializers.DecimalField(max_digits=13, decimal_places=12, required=False),
                "platform_share": serializers.DecimalField(max_digits=13, decimal_places=12, required=False),
                "resale_bps": serializers.IntegerField(min_value=0, max_value=10_000, required=False),
            },
        ),
        responses=PolicySerializer,
    )
    def put(self, request: Request, slug: str) -> Response:
        organisation = self.organisation(slug)
        self.actor.require_admin(organisation.pk)
        fields = body_fields(request)
        policy = services.policy_update(
            organisation=organisation,
            updated_by=self.actor.user,
            data_share=fields.get("data_share"),
            platform_share=fields.get("platform_share"),
            resale_bps=fields.get("resale_bps"),
        )
        return Response(PolicySerializer(policy).data)


class RegistrantSerializer(Input):
    country = serializers.CharField(max_length=2)
    code = serializers.CharField(max_length=3)
    year = serializers.IntegerField(read_only=True)
    last_designation = serializers.IntegerField(read_only=True)


class RegistrantApi(RoyaltyPolicyApi):
    @extend_schema(responses=RegistrantSerializer)
    def get(self, request: Request, slug: str) -> Response:
        registrant = get_object_or_404(Registrant, organisation=self.organisation(slug))
        return Response(RegistrantSerializer(registrant).data)

    @extend_schema(request=RegistrantSerializer, responses=RegistrantSerializer)
    def put(self, request: Request, slug: str) -> Response:
        organisation = self.organisation(slug)
        self.actor.require_admin(organisation.pk)
        data = RegistrantSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        registrant = services.registrant_set(
            organisation=organisation,
            updated_by=self.actor.user,
            country=data.validated_data["country"],
            code=data.validated_data["code"],
        )
        return Response(RegistrantSerializer(registrant).data)


def _work_royalties(work: Work) -> dict[str, Any]:
    isrc = getattr(work, "isrc", None)
    manifest = work.manifest.get("manifest", {})
    return {
        "work": str(work.pk),
        "title": work.title,
        "status": work.status,
        "isrc": isrc.code if isrc else None,
        "token_id": work.token.token_id if work.token else None,
        "content_sha256": work.content_sha256,
        "licence": work.parameters.get("licence", "LicenseRef-All-Rights-Reserved"),
        "licence_conditions": manifest.get("licence_conditions"),
        "split": statements.work_payees(work),
        "split_signed": "royalties" in manifest,
    }


PERIOD_PATTERN = statements.PERIOD.pattern
PERIOD_PARAMETER = OpenApiParameter(
    "period", str, pattern=PERIOD_PATTERN, description="A month (2026-10), a quarter (2026-Q4) or a year (2026)."
)


class WorkRoyaltiesApi(ApiView):
    def get_work(self, work_id: str) -> Work:
        return self.visible(work_list(organisation_ids=self.actor.organisation_ids).select_related("isrc"), pk=work_id)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, work_id: str) -> Response:
        return Response(_work_royalties(self.get_work(work_id)))


class WorkIsrcApi(WorkRoyaltiesApi):
    class InputSerializer(Input):
        isrc = serializers.RegexField(
            f"^$|{ISRC_PATTERN}",
            required=False,
            allow_blank=True,
            help_text="An ISRC assigned elsewhere; left out or empty, the next one.",
            error_messages={
                "invalid": "not an ISRC: 12 characters, CC-XXX-YY-NNNNN (country, registrant, year, designation)"
            },
        )

    @extend_schema(
        request=InputSerializer,
        responses={
            201: inline_serializer("IsrcOutput", {"work": serializers.UUIDField(), "isrc": serializers.CharField()})
        },
    )
    def post(self, request: Request, work_id: str) -> Response:
        """Assign the work's ISRC: the one given ({"isrc": ...}) or the next of the registrant code."""
        work = self.get_work(work_id)
        self.actor.require_writer(work.organisation_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        code = data.validated_data.get("isrc") or None
        isrc = services.isrc_assign(work=work, code=code, assigned_by=self.actor.user)
        return Response({"work": str(work.pk), "isrc": isrc.code}, status=201)


class LicenceCheckApi(ApiView):
    class InputSerializer(Input):
        model = serializers.UUIDField()
        parameters = serializers.DictField(default=dict, help_text="licence (SPDX), licence_conditions")

    @extend_schema(request=InputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        """Whether works of a model may carry a licence; each blocking dataset condition named."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = self.visible(
            model_artifact_list(organisation_ids=self.actor.organisation_ids), pk=data.validated_data["model"]
        )
        parameters = generation_parameters_clean(
            {k: v for k, v in data.validated_data["parameters"].items() if k in ("licence", "licence_conditions")},
            model=model,
        )
        blocks = services.licence_check(run=model.run, parameters=parameters)
        return Response(
            {
                "allowed": not blocks,
                "licence": parameters["licence"],
                "conditions": work_conditions(parameters).to_json(),
                "blocks": [block.__dict__ for block in blocks],
            }
        )


class VersionConditionsApi(ApiView):
    @extend_schema(
        request=inline_serializer("ConditionsInput", {"licence_conditions": serializers.JSONField()}),
        responses=OpenApiTypes.OBJECT,
    )
    def put(self, request: Request, version_id: str) -> Response:
        """Spell out the licence conditions of a frozen version that has none Ledgerline can read."""
        version = self.visible(
            DatasetVersion.objects.filter(dataset__organisation_id__in=self.actor.organisation_ids), pk=version_id
        )
        self.actor.require_admin(version.dataset.organisation_id)
        version = services.version_conditions_set(
            version=version, conditions=body_fields(request).get("licence_conditions"), updated_by=self.actor.user
        )
        return Response({"dataset_version": str(version.pk), "licence_conditions": version.licence_conditions})


class HolderAccountApi(ApiView):
    @extend_schema(
        request=inline_serializer("HolderAccountInput", {"organisation": serializers.SlugField(allow_null=True)}),
        responses=OpenApiTypes.OBJECT,
    )
    def put(self, request: Request, holder_id: str) -> Response:
        """Link a rights holder to the organisation that speaks for it ({"organisation": slug or null})."""
        holder = self.visible(
            RightsHolder.objects.filter(organisation_id__in=self.actor.organisation_ids), pk=holder_id
        )
        self.actor.require_admin(holder.organisation_id)
        slug = body_fields(request).get("organisation")
        account = None
        if slug:
            account = Organisation.objects.filter(slug=slug).first()
            if account is None:
                raise LedgerlineError(f"There is no organisation {slug!r}.", fields={"organisation": ["unknown"]})
        holder = services.holder_account_set(holder=holder, account=account, updated_by=self.actor.user)
        return Response(_holder_json(holder))


def _holder_json(holder: RightsHolder) -> dict[str, Any]:
    destination = payee_destinations([f"holder:{holder.pk}"])[f"holder:{holder.pk}"]
    return {
        "holder": str(holder.pk),
        "name": holder.name,
        "organisation": holder.organisation.slug,
        "account": holder.account.slug if holder.account else None,
        "wallet": holder.wallet or None,
        "accrues_to": destination.accrues_to,
    }


class HolderWalletApi(ApiView):
    """A rights holder's wallet, where its on-chain royalties are paid: the admins of the
    organisation that holds its rights set it, or those of the organisation that speaks for it
    (`account`); members of either read it."""

    def get_holder(self, holder_id: str) -> RightsHolder:
        ids = self.actor.organisation_ids
        return self.visible(
            RightsHolder.objects.filter(Q(organisation_id__in=ids) | Q(account_id__in=ids)).select_related(
                "organisation", "account"
            ),
            pk=holder_id,
        )

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, holder_id: str) -> Response:
        return Response(_holder_json(self.get_holder(holder_id)))

    @extend_schema(
        request=inline_serializer("WalletInput", {"wallet": serializers.CharField(allow_null=True, allow_blank=True)}),
        responses=OpenApiTypes.OBJECT,
    )
    def put(self, request: Request, holder_id: str) -> Response:
        """Set the wallet ({"wallet": EIP-55 address, or null or "" for none}); splits made from now on pay it."""
        holder = self.get_holder(holder_id)
        speaks_for = [o for o in (holder.organisation_id, holder.account_id) if o in self.actor.memberships]
        if not any(self.actor.role_in(o) == Role.ADMIN for o in speaks_for):
            self.actor.require_admin(speaks_for[0])
        holder = datasets.holder_wallet_set(holder=holder, wallet=wallet_field(request), updated_by=self.actor.user)
        return Response(_holder_json(holder))


class UsageEventSerializer(serializers.ModelSerializer[UsageEvent]):
    work = serializers.UUIDField(source="work_id")
    original = serializers.CharField(source="original.event_id", allow_null=True, default=None)
    revenue = serializers.SerializerMethodField()
    amount = serializers.SerializerMethodField()

    class Meta:
        model = UsageEvent
        fields = [
            "event_id",
            "work",
            "kind",
            "original",
            "service",
            "territory",
            "usage_type",
            "units",
            "revenue",
            "amount",
            "currency",
            "period_start",
            "period_end",
            "reported_at",
        ]

    def get_revenue(self, event: UsageEvent) -> str:
        return _money(event.revenue_micros)

    def get_amount(self, event: UsageEvent) -> str:
        return _money(event.amount_micros)


def _money(micros: int) -> str:
    return decimal_text(Decimal(micros) / MICROS)


class UsageEventListApi(ApiView):
    @extend_schema(
        parameters=[OpenApiParameter("work", OpenApiTypes.UUID), PERIOD_PARAMETER],
        responses=UsageEventSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        """The usage reported for the actor's organisations' works (`work`, `period` to filter)."""
        events = UsageEvent.objects.filter(organisation_id__in=self.actor.organisation_ids).select_related("original")
        if "work" in request.query_params:
            try:
                events = events.filter(work_id=uuid.UUID(request.query_params["work"]))
            except ValueError:
                raise LedgerlineError("work must be a work's id.", fields={"work": ["not an id"]}) from None
        if "period" in request.query_params:
            period = statements.period_parse(request.query_params["period"])
            events = events.filter(period_start__gte=period.start, period_start__lt=period.end)
        return self.paginated(request, events, UsageEventSerializer)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: UsageEventSerializer, 200: UsageEventSerializer})
    def post(self, request: Request) -> Response:
        """One usage event (a JSON object): 201 when recorded, 200 when it was already."""
        fields = body_fields(request)
        organisation = self.actor.organisation_for_create(fields.get("organisation"))
        values = usage.line_clean({k: v for k, v in fields.items() if k != "organisation"})
        if isinstance(values, str):
            raise LedgerlineError(values)
        unknown = sorted(set(values) - set(usage.FIELDS))
        if unknown:
            raise LedgerlineError(
                f"{unknown[0]} is not a usage field; the fields are {', '.join(usage.FIELDS)}.",
                fields={unknown[0]: ["unknown"]},
            )
        result = usage.usage_import(organisation=organisation, lines=[(1, values)], reported_by=self.actor.user)
        if result.refused:
            reason = result.rejected[0]["reason"]
            error = Conflict if "already reported with other values" in reason else LedgerlineError
            raise error(reason)
        event = UsageEvent.objects.select_related("original").get(
            organisation=organisation, event_id=str(values["event_id"]).strip()
        )
        return Response(
            {**UsageEventSerializer(event).data, "duplicate": bool(result.duplicates)},
            status=200 if result.duplicates else 201,
        )


def _chunks(body: IO[bytes]) -> Iterator[bytes]:
    while chunk := body.read(1 << 20):
        yield chunk


class UsageImportApi(ApiView):
    parser_classes = UsageFileParsers

    @extend_schema(
        parameters=[
            OpenApiParameter("organisation", str, description="The organisation's slug, if you belong to several."),
            OpenApiParameter("skip_invalid", bool, description="Import the valid lines, report the others."),
        ],
        request={
            "text/csv": OpenApiTypes.STR,
            "application/x-ndjson": OpenApiTypes.STR,
            "text/tab-separated-values": OpenApiTypes.STR,
        },  # and their aliases
        responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        """A usage report file: CSV (text/csv, header row), JSON lines (application/x-ndjson) or a
        DDEX DSR flat file, Basic Audio Profile (text/tab-separated-values; see README, "DSR files").
        Bad lines refuse it whole (400, each line's number and reason), unless ?skip_invalid=true."""
        organisation = self.actor.organisation_for_create(request.query_params.get("organisation"))
        media_type = (request.content_type or "").split(";")[0].strip().lower()
        if media_type not in CSV_TYPES + JSONL_TYPES + DSR_TYPES:
            raise UnsupportedMediaType(
                media_type,
                detail="Send text/csv, application/x-ndjson or text/tab-separated-values (a DSR file), "
                f"not {media_type or 'no Content-Type'}.",
            )
        skip = flag(request.query_params.get("skip_invalid", "false"))
        if skip is None:
            raise LedgerlineError("skip_invalid is true or false.", fields={"skip_invalid": ["true or false"]})
        # The parser spooled the body to a file: read whole before the import takes its lock.
        with spooled_body(request) as body:
            if media_type in CSV_TYPES:
                lines = usage.lines_csv(_chunks(body))
            elif media_type in DSR_TYPES:
                lines = lines_dsr(_chunks(body))
            else:
                lines = usage.lines_jsonl(usage.bytes_lines(_chunks(body)))
            result = usage.usage_import(
                organisation=organisation, lines=lines, reported_by=self.actor.user, skip_invalid=skip
            )
        if result.refused and not skip:
            first = result.rejected[0]
            return Response(
                {
                    "error": {
                        "code": "invalid_lines",
                        "message": f"{result.rejected_count} of {result.lines} lines are not valid, so nothing was "
                        f"imported; line {first['line']}: {first['reason']}.",
                        "fields": {"lines": result.rejected},
                    },
                    **result.to_json(),
                },
                status=400,
            )
        return Response(result.to_json(), status=201 if result.accepted else 200)


def _statement_scope(actor: Any, payee: str) -> tuple[str, list[Organisation]]:
    """The payee's name and the organisations whose works its statement covers, if the actor
    may see it; 404 otherwise (never a hint that it exists). The platform's statement covers
    every organisation for staff, and the works of their own organisations for members, as the
    list shows it."""
    if payee == PLATFORM:
        if actor.user.is_staff:
            return "Ledgerline", list(Organisation.objects.all())
        if not actor.memberships:
            raise NotFound()
        return "Ledgerline", sorted((m.organisation for m in actor.memberships.values()), key=lambda o: o.slug)
    kind, _, key = payee.partition(":")
    try:
        pk = uuid.UUID(key)
    except ValueError:
        raise NotFound() from None
    if kind == "organisation" and pk in actor.memberships:
        organisation = actor.memberships[pk].organisation
        return organisation.name, [organisation]
    holder = RightsHolder.objects.filter(pk=pk).select_related("organisation").first() if kind == "holder" else None
    if holder is not None and (holder.organisation_id in actor.memberships or holder.account_id in actor.memberships):
        return holder.name, [holder.organisation]
    raise NotFound()


def statement_for(actor: Any, payee: str, period: statements.Period) -> tuple[statements.Statement, str]:
    """The payee's statement over every organisation it covers, and their names."""
    name, organisations = _statement_scope(actor, payee)
    merged = statements.Statement(payee, name, period)
    for organisation in organisations:
        found = statements.statements_compute(organisation_id=organisation.pk, period=period).get(payee)
        if found is not None:
            merged.lines += found.lines
            for currency, amount in found.totals.items():  # each organisation's works paid as its statement says
                merged.totals[currency] = merged.totals.get(currency, Decimal(0)) + amount
    return merged, ", ".join(o.name for o in organisations)


class StatementListApi(ApiView):
    @extend_schema(
        parameters=[OpenApiParameter("period", str, required=True, pattern=PERIOD_PATTERN)],
        responses=OpenApiTypes.OBJECT,
        operation_id="v1_statements_list",
    )
    def get(self, request: Request) -> Response:
        """Every statement of ``period`` the actor may see, with its totals."""
        period = statements.period_parse(request.query_params.get("period", ""))
        found = [
            {**_summary(statement), "organisation": organisation.slug}
            for statement, organisation in statements.statements_visible(
                organisations=[m.organisation for m in self.actor.memberships.values()], period=period
            )
        ]
        return Response({"period": period.label, "count": len(found), "results": found})


def _summary(statement: statements.Statement) -> dict[str, Any]:
    data = statement.to_json()
    return {
        "payee": data["payee"],
        "name": data["name"],
        "period": data["period"],
        "totals": data["totals"],
        "works": len({line.work for line in statement.lines}),
    }


class StatementDetailApi(ApiView):
    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, OpenApiParameter.PATH, pattern=PERIOD_PATTERN),
            OpenApiParameter("suffix", str, OpenApiParameter.PATH, enum=["json", "csv", "pdf"]),
        ],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "application/pdf"): OpenApiTypes.BINARY,
        },
    )
    def get(self, request: Request, period: str, payee: str, suffix: str = "json") -> Response | HttpResponse:
        """One payee's statement: JSON, .csv or .pdf."""
        if suffix not in ("json", "csv", "pdf"):
            raise NotFound()
        statement, organisations = statement_for(self.actor, payee, statements.period_parse(period))
        filename = f"statement-{statement.period.label}-{payee.replace(':', '-')}"
        if suffix == "csv":
            response = HttpResponse(statements.statement_csv(statement), content_type="text/csv; charset=utf-8")
        elif suffix == "pdf":
            response = HttpResponse(
                statements.statement_pdf(statement, organisation=organisations), content_type="application/pdf"
            )
        else:
            return Response(statement.to_json())
        response["Content-Disposition"] = f'attachment; filename="{filename}.{suffix}"'
        return response
