"""Server-rendered pages for labels, artists and auditors. Every page that shows an object
reads it through the member's organisations: another organisation's work is a 404."""

import json
from typing import Any, cast
from uuid import UUID

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from generation.families import FAMILIES
from generation.family import Family
from ledgerline.accounts.models import WRITE_ROLES, Membership, Role
from ledgerline.accounts.services import membership_add
from ledgerline.api.audit import AnonVerifyThrottle, UserVerifyThrottle
from ledgerline.api.errors import api_server_error
from ledgerline.audit import services as audit
from ledgerline.audit.models import Verification
from ledgerline.datasets.blobs import blob_file
from ledgerline.datasets.consent import training_use
from ledgerline.datasets.models import DatasetFile
from ledgerline.datasets.selectors import dataset_list, dataset_version_list
from ledgerline.errors import LedgerlineError
from ledgerline.portal import pictures, sounds
from ledgerline.provenance.models import SigningKey
from ledgerline.provenance.selectors import audit_entry_list
from ledgerline.royalties.statements import period_parse, statements_visible
from ledgerline.training.checkpoints import model_load
from ledgerline.training.config import family_of
from ledgerline.training.selectors import lineage_versions, model_artifact_list, training_run_list
from ledgerline.works.models import Work
from ledgerline.works.selectors import work_list
from ledgerline_verify.checks import Subject

WORKS_PER_PAGE = 50


def _organisations(request: HttpRequest) -> list[UUID]:
    user = cast(User, request.user)
    if not user.is_authenticated:
        return []
    return list(Membership.objects.filter(user=user).values_list("organisation_id", flat=True))


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)  # login_required: never anonymous here
    memberships = Membership.objects.filter(user=user).select_related("organisation")
    organisation_ids = [m.organisation_id for m in memberships]
    return render(
        request,
        "portal/home.html",
        {
            "memberships": memberships,
            "datasets": dataset_list(organisation_ids=organisation_ids)[:50],
            "entries": audit_entry_list(organisation_ids=organisation_ids)[:20],
        },
    )


@login_required
def datasets(request: HttpRequest) -> HttpResponse:
    organisations = _organisations(request)
    return render(
        request,
        "portal/datasets.html",
        {
            "datasets": dataset_list(organisation_ids=organisations)[:200],
            "can_write": _writes_in(request, organisations),
        },
    )


@login_required
def dataset(request: HttpRequest, dataset_id: UUID) -> HttpResponse:
    organisations = _organisations(request)
    item = get_object_or_404(dataset_list(organisation_ids=organisations), pk=dataset_id)
    files = item.files.select_related("blob").order_by("path")[:1000]
    versions = item.versions.order_by("-number")
    return render(
        request,
        "portal/dataset.html",
        {
            "dataset": item,
            "files": [(f, training_use(f.consent)) for f in files],
            "versions": versions,
            "can_write": _writes_in(request, [item.organisation_id]),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def dataset_sounds(request: HttpRequest, dataset_id: UUID) -> HttpResponse:
    """Sound design on a dataset: synthesise (POST), record from the microphone and upload (the
    files API, from the page's script), and the views of its sounds, filtered by group."""
    from generation.audio.synth import SynthError

    organisations = _organisations(request)
    item = get_object_or_404(dataset_list(organisation_ids=organisations), pk=dataset_id)
    can_write = _writes_in(request, [item.organisation_id])
    error = ""
    if request.method == "POST":
        if not can_write:
            return HttpResponse("Your role lets you read, not create.", status=403)
        try:
            sounds.synth_add(
                dataset=item, description=_synth_description(request.POST), added_by=cast(User, request.user)
            )
        except (SynthError, ValueError, LedgerlineError) as exc:
            error = getattr(exc, "message", str(exc))
        else:
            return redirect("portal:dataset_sounds", dataset_id=item.pk)
    group = request.GET.get("group", "")
    return render(
        request,
        "portal/sounds.html",
        {
            "dataset": item,
            "can_write": can_write,
            "error": error,
            "group": group,
            "plot": sounds.PLOT,
            "views": sounds.dataset_views(item, group=group),
            "all_groups": sorted(
                {
                    sounds.group_of(p)
                    for p in item.files.filter(media_type__in=sounds.AUDIO_TYPES).values_list("path", flat=True)
                }
            ),
        },
        status=400 if error else 200,
    )


def _synth_description(form: Any) -> dict[str, Any]:
    """generation.audio.synth.Synth's fields from the form (the envelope's four as a dict)."""
    envelope = {name: form[name] for name in ("attack", "decay", "sustain", "release") if form.get(name)}
    numbers = ("freq", "amplitude", "mod_freq", "mod_depth", "ratio", "index", "harmonics", "rolloff", "low", "high")
    description: dict[str, Any] = {
        "kind": form.get("kind", ""),
        "group": form.get("group", "").strip() or "synth",
        **{name: form[name] for name in numbers if form.get(name)},
    }
    if envelope:
        description["envelope"] = envelope
    return description


@login_required
def training_runs(request: HttpRequest) -> HttpResponse:
    organisations = _organisations(request)
    return render(
        request,
        "portal/training_runs.html",
        {
            "runs": training_run_list(organisation_ids=organisations)[:100],
            "versions": dataset_version_list(organisation_ids=organisations).select_related("dataset")[:200],
            "families": FAMILIES,
            "more": {name: _more_settings(family) for name, family in FAMILIES.items()},
            # Published models a run may continue, of the families whose models can be.
            "bases": model_artifact_list(organisation_ids=organisations)
            .filter(
                run__config__model__in=[n for n, f in FAMILIES.items() if f.shape is not None],
                anchored_at__isnull=False,
            )
            .order_by("-created_at")[:100],
            "can_write": _writes_in(request, organisations),
        },
    )


# The settings the run form's own controls set (sliders, the tiny box, the tokenizer it picks);
# a family's other settings are offered under "More settings", each as its declaration says.
FORM_CONTROLS = {"tokenizer", "tiny", "max_steps", "epochs", "eval_every", "batch_size", "lr", "latent", "channels"}


def _more_settings(family: Family) -> list[dict[str, Any]]:
    """A field for each of the family's settings the form has no control of its own for."""
    return [
        {
            "name": s.name,
            "label": s.label or s.name,
            "kind": s.kind.__name__,
            "low": f"{s.low:g}",
            "high": f"{s.high:g}",
            "choices": s.choices,
            "default": s.default,
        }
        for s in family.settings
        if s.name not in FORM_CONTROLS
    ]


@login_required
def training_run(request: HttpRequest, run_id: UUID) -> HttpResponse:
    organisations = _organisations(request)
    run = get_object_or_404(training_run_list(organisation_ids=organisations), pk=run_id)
    artifacts = list(run.artifacts.select_related("blob", "run"))
    context: dict[str, Any] = {
        "run": run,
        "artifacts": artifacts,
        "can_write": _writes_in(request, organisations),
        "inherited": [line for line in lineage_versions(run) if line.via is not None] if run.base_model_id else [],
        "primers": _files_of(run.organisation_id, ("audio/midi",)),
        "recordings": _files_of(run.organisation_id, sounds.AUDIO_TYPES),
        "vocabulary": (run.metrics or {}).get("vocabulary", []),
    }
    try:
        context["family"] = family = family_of(run.config)
    except LedgerlineError as exc:  # a family since removed from the registry: the run, without its model
        return render(request, "portal/training_run.html", {**context, "artifacts": [], "family_error": exc.message})
    if family.design and artifacts and artifacts[0].anchored_at:
        context["latent"] = _latent_map(artifacts[0])
    return render(request, "portal/training_run.html", context)


def _files_of(organisation_id: Any, media_types: tuple[str, ...]) -> list[DatasetFile]:
    """The organisation's files of these types a generation may name (a primer, a variation's
    source), by dataset and path, the first 200."""
    files = DatasetFile.objects.filter(dataset__organisation_id=organisation_id, media_type__in=media_types)
    return list(files.select_related("blob", "dataset").order_by("dataset__name", "path")[:200])


def _latent_map(artifact: Any) -> dict[str, Any]:
    """A sound model's training clips on its latent space's two principal axes, placed on the
    page's map, to pick the two sounds a work interpolates between."""
    try:
        design = model_load(artifact)
    except LedgerlineError as exc:
        return {"error": exc.message, "points": []}
    points = design.model.latent_map(design.sounds)["points"]
    listened = _reconstructions(design)
    xs, ys = [p["x"] for p in points], [p["y"] for p in points]

    def place(value: float, values: list[float], size: float) -> float:
        low, high = min(values), max(values)
        return 20 + (size - 40) * ((value - low) / ((high - low) or 1))

    return {
        "points": [
            {"name": p["name"], "group": p["group"], "x": place(p["x"], xs, 600), "y": 300 - place(p["y"], ys, 300)}
            for p in points
        ],
        "listened": listened,
    }


LISTENED = 6  # training clips shown with their reconstructions


def _reconstructions(design: Any) -> list[dict[str, Any]]:
    """The first training clips beside what the model makes of them: to listen to, and their
    waveforms overlaid (16 kHz, as the model hears them)."""
    import base64

    clips = design.sounds.audio[:LISTENED]
    made = design.model.decode(design.model.encode(clips))
    shown = []
    for clip, original, rebuilt in zip(design.sounds.clips, clips, made, strict=False):
        wavs = [sounds.wav_bytes(samples) for samples in (original, rebuilt)]
        shown.append(
            {
                "name": clip.name,
                "original": base64.b64encode(wavs[0]).decode(),
                "rebuilt": base64.b64encode(wavs[1]).decode(),
                "overlay": [_outline(pictures.waveform(wav, columns=200)) for wav in wavs],
            }
        )
    return shown


def _outline(columns: list[tuple[float, float]]) -> str:
    """A waveform's upper outline as polyline points on a 200 x 60 box."""
    return " ".join(f"{i},{30 - 28 * high:.1f}" for i, (_, high) in enumerate(columns))


def _writes_in(request: HttpRequest, organisations: list[UUID]) -> bool:
    return Membership.objects.filter(
        user=cast(User, request.user), organisation_id__in=organisations, role__in=WRITE_ROLES
    ).exists()


@login_required
def royalties(request: HttpRequest) -> HttpResponse:
    """Statements of a period (this month by default), payee by payee, and each work's revenue."""
    label = request.GET.get("period") or timezone.now().strftime("%Y-%m")
    try:
        period = period_parse(label)
    except LedgerlineError as exc:
        return render(request, "portal/royalties.html", {"error": exc.message, "period": label}, status=400)
    memberships = Membership.objects.filter(user=cast(User, request.user)).select_related("organisation")
    visible = statements_visible(organisations=[m.organisation for m in memberships], period=period)
    revenue: dict[tuple[str, str], dict[str, Any]] = {}
    for statement, _ in visible:
        for line in statement.lines:
            revenue[(line.work, line.currency)] = {
                "title": line.title,
                "token_id": line.token_id,
                "isrc": line.isrc,
                "currency": line.currency,
                "revenue": line.revenue,
            }
    largest = max((amount for s, _ in visible for amount in s.totals.values()), default=0) or 1
    rows = [
        {"statement": s, "organisation": o, "bars": [(c, a, float(a / largest)) for c, a in s.totals.items()]}
        for s, o in visible
    ]
    return render(
        request,
        "portal/royalties.html",
        {
            "period": period.label,
            "rows": rows,
            "works": sorted(revenue.values(), key=lambda w: (w["currency"], -w["revenue"])),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def organisation(request: HttpRequest, slug: str) -> HttpResponse:
    """Members and signing keys; admins add members (existing accounts) and rotate the key."""
    user = cast(User, request.user)
    membership = Membership.objects.filter(user=user, organisation__slug=slug).select_related("organisation").first()
    if membership is None:
        raise Http404("No such organisation.")
    org, error = membership.organisation, ""
    if request.method == "POST":
        if membership.role != Role.ADMIN:
            return HttpResponse("Only an admin adds members.", status=403)
        username, role = request.POST.get("username", "").strip(), request.POST.get("role", "")
        added = User.objects.filter(username=username).first()
        if role not in Role.values:
            error = f"Choose a role: {', '.join(Role.values)}."
        elif added is None:
            error = f"There is no account {username!r}: its owner signs up first."
        else:
            try:
                membership_add(organisation=org, user=added, role=role, added_by=user)
            except LedgerlineError as exc:
                error = exc.message
            else:
                return redirect("portal:organisation", slug=slug)
    return render(
        request,
        "portal/organisation.html",
        {
            "organisation": org,
            "is_admin": membership.role == Role.ADMIN,
            "roles": Role.values,
            "error": error,
            "members": Membership.objects.filter(organisation=org).select_related("user").order_by("user__username"),
            "keys": SigningKey.objects.filter(organisation=org).order_by("-created_at"),
        },
        status=400 if error else 200,
    )


@login_required
def works(request: HttpRequest) -> HttpResponse:
    listed = Paginator(work_list(organisation_ids=_organisations(request)), WORKS_PER_PAGE)
    return render(request, "portal/works.html", {"page": listed.get_page(request.GET.get("page"))})


BATCH = 50  # works verified at once


@login_required
@require_http_methods(["POST"])
def works_verify(request: HttpRequest) -> HttpResponse:
    """Verify the chosen works (a batch action of the works list, or one work's "check on chain"),
    each on the chain and IPFS, and list the verdicts."""
    organisations = _organisations(request)
    chosen = work_list(organisation_ids=organisations).filter(
        pk__in=request.POST.getlist("work")[:BATCH], token__isnull=False
    )
    user = cast(User, request.user)
    verified = []
    for item in chosen:
        assert item.token is not None
        try:
            verification = audit.verification_create(
                subject=Subject(token_id=item.token.token_id), kind="token", user=user, member_of=organisations
            )
        except LedgerlineError as exc:
            return render(request, "portal/works_verified.html", {"error": exc.message}, status=exc.status)
        verified.append((item, verification))
    if len(verified) == 1:
        return redirect("portal:verification", verification_id=verified[0][1].pk)
    return render(request, "portal/works_verified.html", {"verified": verified})


@login_required
def work(request: HttpRequest, work_id: UUID) -> HttpResponse:
    item: Work = get_object_or_404(work_list(organisation_ids=_organisations(request)), pk=work_id)
    outputs = {o.kind: o for o in item.outputs.all()}
    context: dict[str, Any] = {
        "work": item,
        "outputs": outputs,
        "manifest": json.dumps(item.manifest, indent=2) if item.manifest else "",
    }
    audio = outputs.get("audio") or outputs.get("wav")
    if audio is not None:
        wav = blob_file(audio.blob.sha256).read_bytes()
        context["waveform"] = pictures.waveform(wav)
        context["spectrogram"] = pictures.spectrogram(wav)
        context["spectrogram_width"] = max((x for x, _, _ in context["spectrogram"]), default=0) + 1
    try:
        family = family_of(item.model.run.config)
    except LedgerlineError:
        family = None
    if family is not None and "variation" in family.files and item.content_sha256:
        context["vocabulary"] = (item.model.run.metrics or {}).get("vocabulary", [])
        context["can_vary"] = _writes_in(request, [item.organisation_id])
    if "midi" in outputs:
        notes, low, high = pictures.piano_roll(blob_file(outputs["midi"].blob.sha256).read_bytes())
        context.update(notes=notes, low=low, high=high, roll_height=max(high - low + 1, 1))
    context["picture_width"] = pictures.WIDTH
    return render(request, "portal/work.html", context)


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Drop a file, get the verdict link by link. No account needed, as for the API."""
    if request.method == "GET":
        return render(request, "portal/verify.html", {})
    for throttle in (AnonVerifyThrottle(), UserVerifyThrottle()):  # the API's limits, here too
        if not throttle.allow_request(request, None):  # type: ignore[arg-type]
            wait = int(throttle.wait() or 60)
            return render(
                request,
                "portal/verify.html",
                {"error": f"Too many verifications from here: try again in {wait} s."},
                status=429,
            )
    upload = request.FILES.get("file")
    if upload is None:
        return render(
            request, "portal/verify.html", {"error": "Choose a file (WAV, FLAC, MP3 or MIDI) first."}, status=400
        )
    user = cast(User, request.user)
    try:
        subject = Subject(data=audit.verification_file_read(upload), name=upload.name or "")
        verification = audit.verification_create(
            subject=subject, kind="file", user=user if user.is_authenticated else None
        )
    except LedgerlineError as exc:
        return render(request, "portal/verify.html", {"error": exc.message}, status=exc.status)
    return redirect("portal:verification", verification_id=verification.pk)


def verification(request: HttpRequest, verification_id: UUID) -> HttpResponse:
    found = Verification.objects.filter(pk=verification_id).first()
    if found is None:
        raise Http404("No such verification.")
    report = audit.verification_view(found, member_of=_organisations(request))
    base = f"/api/v1/verifications/{found.pk}"
    return render(
        request,
        "portal/verification.html",
        {"report": report, "html": f"{base}/report.html", "pdf": f"{base}/report.pdf", "site": settings.SITE_URL},
    )


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_server_error(request)
    return render(request, "portal/500.html", status=500)
