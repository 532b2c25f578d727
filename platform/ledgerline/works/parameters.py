"""A generation request's parameters: the model's family checks its own (sampling settings for a
symbolic model, sounds to interpolate between for a sound model); the platform checks what every
work has (its licence), the files a parameter names, and the originality limit where the family
reports originality."""

from typing import Any

from django.conf import settings

from generation.family import SettingError
from ledgerline.datasets.selectors import blob_held
from ledgerline.errors import LedgerlineError
from ledgerline.provenance.canonical import json_field_check
from ledgerline.training.config import family_of
from ledgerline.training.models import ModelArtifact
from ledgerline.works.licence import DEFAULT_LICENCE, work_conditions
from ledgerline.works.selectors import source_work

LICENCE = ("licence", "licence_conditions")
ORIGINALITY = "originality_max_run"


def generation_parameters_clean(parameters: dict[str, Any], *, model: ModelArtifact) -> dict[str, Any]:
    """The parameters checked against the model's family, or a 400 naming the bad one."""
    json_field_check("parameters", parameters)
    family = family_of(model.run.config)
    allowed = (*family.parameters, *((ORIGINALITY,) if family.originality else ()), *LICENCE)
    unknown = sorted(set(parameters) - set(allowed))
    if unknown:
        raise LedgerlineError(
            f"parameters: {unknown[0]!r} does not apply to this model; use {', '.join(allowed)}.",
            fields={"parameters": [f"unknown {unknown[0]!r}"]},
        )
    licence = parameters.get("licence", DEFAULT_LICENCE)
    if not isinstance(licence, str) or not licence.strip():
        raise LedgerlineError(
            "parameters: licence must be an SPDX id or a LicenseRef.", fields={"parameters": ["licence"]}
        )
    try:
        clean = family.parameters_clean(parameters, metrics=model.run.metrics)
    except SettingError as exc:
        raise LedgerlineError(f"parameters: {exc}.", fields={"parameters": [exc.name]}) from None
    for name, media_type in family.files.items():
        if name in parameters:
            clean[name] = _file_clean(name, parameters[name], media_type, organisation_id=model.run.organisation_id)
    if family.originality:
        clean[ORIGINALITY] = _originality_limit(parameters)
    clean["licence"] = licence.strip()
    if "licence_conditions" in parameters:
        clean["licence_conditions"] = parameters["licence_conditions"]
    work_conditions(clean)  # a licence without known conditions, or bad conditions: a 400 now
    return clean


def _file_clean(name: str, value: Any, media_type: str, *, organisation_id: Any) -> str:
    """A file parameter (a MIDI primer, a variation's source) names a file the organisation holds
    by its SHA-256, or, for audio, one of its works: the manifest records which it was."""
    sha256 = value.lower() if isinstance(value, str) else ""
    held = blob_held(organisation_ids=[organisation_id], sha256=sha256) if sha256 else None
    if held is not None and _media_matches(held[1], media_type):
        return sha256
    if media_type == "audio/*" and sha256 and source_work(organisation_id=organisation_id, sha256=sha256):
        return sha256  # a work of the organisation: its released WAV
    if media_type == "audio/*":
        message = (
            f"{name} must be the SHA-256 of a recording in one of the organisation's datasets or of one of its works"
        )
    else:
        kind = {"audio/midi": "MIDI file"}.get(media_type, f"{media_type} file")
        message = f"{name} must be the SHA-256 of a {kind} in one of the organisation's datasets"
    raise LedgerlineError(f"parameters: {message}.", fields={"parameters": [name]})


def _media_matches(held: str, wanted: str) -> bool:
    """``audio/*`` is any audio type but MIDI (a recording); otherwise the type itself."""
    if wanted == "audio/*":
        return held.startswith("audio/") and held != "audio/midi"
    return held == wanted


def _originality_limit(parameters: dict[str, Any]) -> int:
    limit = parameters.get(ORIGINALITY, settings.LEDGERLINE_ORIGINALITY_MAX_RUN)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise LedgerlineError(
            "parameters: originality_max_run must be a whole number of intervals, 0 or more.",
            fields={"parameters": [ORIGINALITY]},
        )
    return int(limit)
