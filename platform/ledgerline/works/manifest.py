"""What a work says about itself: the signed manifest (outputs, model, data, licence, royalties),
its C2PA credentials and its token's ERC-721 metadata, each built from the records."""

from fractions import Fraction
from typing import Any

from django.conf import settings
from django.utils import timezone

from ledgerline.datasets.models import Blob, DatasetVersion, VersionEntry
from ledgerline.datasets.terms import Conditions
from ledgerline.provenance.canonical import canonical_json
from ledgerline.provenance.hashing import sha256_bytes
from ledgerline.training.models import ModelArtifact
from ledgerline.training.selectors import anchored_roots, lineage_versions, run_chain
from ledgerline.works.credentials import TRAINED_ALGORITHMIC_MEDIA
from ledgerline.works.licence import DEFAULT_LICENCE, work_conditions
from ledgerline.works.marks import soft_binding
from ledgerline.works.models import Work
from ledgerline.works.selectors import Source, work_sources

SPEC = "urn:ledgerline:work-manifest:2"  # the manifest's shape; a new field set gets a new number
MEDIA = {"midi": "audio/midi", "wav": "audio/wav", "audio": "audio/wav"}
FILES = {"audio": "work.wav", "midi": "work.mid"}  # names in the work's IPFS folder
CONSENT_ORDER = {"notAllowed": 0, "constrained": 1, "allowed": 2}
# Each dataset version a model trained on, its licence conditions, and the share of a work's
# revenue its rights holders receive (royalties.services.licence_data).
Terms = list[tuple[DatasetVersion, Conditions | None, Fraction]]


def work_manifest(
    work: Work, *, audio: Blob, lineage: dict[str, Any], royalties: dict[str, Any], watermark: dict[str, Any]
) -> dict[str, Any]:
    """The manifest a work's organisation signs: what it is (``audio``, its signed WAV, and its other
    outputs; the ``watermark`` in its sound), what made it, under which licence, and who is paid
    what (``royalties``)."""
    outputs: list[dict[str, Any]] = [
        {"kind": o.kind, "media_type": o.media_type, "sha256": o.blob.sha256, "size": o.blob.size}
        for o in work.outputs.select_related("blob")
    ]
    outputs.append({"kind": "audio", "media_type": MEDIA["audio"], "sha256": audio.sha256, "size": audio.size})
    return {
        "spec": SPEC,
        "work": {"id": str(work.pk), "title": work.title, "created_at": work.created_at.isoformat()},
        "organisation": {
            "id": str(work.organisation_id),
            "slug": work.organisation.slug,
            "name": work.organisation.name,
        },
        "content_sha256": audio.sha256,
        "outputs": sorted(outputs, key=lambda o: str(o["kind"])),
        "watermark": watermark,
        "model": lineage["model"],
        "datasets": lineage["datasets"],
        "generation": {
            "seed": work.seed,
            "index": work.index,
            "parameters": work.parameters,
            "generation": str(work.generation_id) if work.generation_id else None,
            "provenance": work.provenance,
        },
        "originality": {**work.originality, "limit": work.parameters.get("originality_max_run")},
        "licence": work.parameters.get("licence", DEFAULT_LICENCE),
        "licence_conditions": work_conditions(work.parameters).to_json(),
        "royalties": royalties,
        **({"sources": lineage["sources"]} if lineage["sources"] else {}),
        "training_mining": lineage["consent"],
        "signed_at": timezone.now().isoformat(),
    }


def work_lineage(work: Work, *, terms: Terms) -> dict[str, Any]:
    """The work's model (and the models it continues), its training data with the licence terms
    each version was checked against, and the most restrictive consent of that data, use by use."""
    artifact = work.model
    run = artifact.run
    by_version = {str(v.pk): (conditions, received) for v, conditions, received in terms}
    lineage = lineage_versions(run)  # its own data, then what the pretrained models it continues trained on
    versions = [line.version for line in lineage]
    inherited = {str(line.version.pk): line.via.blob.sha256 for line in lineage if line.via is not None}
    consent: dict[str, dict[str, str]] = {}
    for version in versions:  # the most restrictive of the training data's terms, use by use
        for use, entry in version.consent.items():
            if use not in consent or CONSENT_ORDER[entry["use"]] < CONSENT_ORDER[consent[use]["use"]]:
                consent[use] = entry
    return {
        "model": {
            **model_entry(artifact),
            # The pretrained models it continues, nearest first, each with the dataset roots it was
            # anchored with: a verifier checks them against the chain and the signed checkpoints.
            "bases": [
                {**model_entry(link.base_model), "merkle_roots": anchored_roots(link.base_model.run)}
                for link in run_chain(run)
                if link.base_model is not None
            ],
        },
        "datasets": [
            {
                "dataset_version": str(v.pk),
                "dataset": v.dataset.name,
                "number": v.number,
                "merkle_root": v.merkle_root,
                "licence": v.licence_spdx or v.licence_terms,
                # What the work's licence was checked against, so a verifier can check it again.
                "licence_conditions": conditions_json(by_version[str(v.pk)][0]),
                "revenue_received": str(by_version[str(v.pk)][1]),  # an exact fraction: "3/10"
                "rights": v.rights,
                "inherited_from": inherited.get(str(v.pk)),  # the base model's weights, if not its own
            }
            for v in versions
        ],
        "consent": consent,
        "sources": [source_entry(source) for source in work_sources(work)],
    }


def source_entry(source: Source) -> dict[str, Any]:
    """A work's source as its manifest names it: another work (its hash, token and IPFS folder,
    whose own manifest carries its lineage), or a recording (its hash, and the frozen versions
    that hold it, whose Merkle roots prove it)."""
    if source.work is not None:
        made = source.work
        return {
            "kind": "work",
            "parameter": source.parameter,
            "sha256": source.sha256,
            "work": str(made.pk),
            "title": made.title,
            "cid": made.cid,
            "token_id": made.token.token_id if made.token is not None else None,
        }
    roots: set[str] = set()
    if source.file is not None:
        roots = set(
            VersionEntry.objects.filter(
                sha256=source.sha256, version__dataset__organisation_id=source.file.dataset.organisation_id
            ).values_list("version__merkle_root", flat=True)
        )
    return {
        "kind": "recording",
        "parameter": source.parameter,
        "sha256": source.sha256,
        "path": source.file.path if source.file is not None else None,
        "dataset_versions": sorted(roots),
    }


def model_entry(artifact: ModelArtifact) -> dict[str, Any]:
    """A model as a manifest names it: weights, pin, signature, anchor, run."""
    run = artifact.run
    return {
        "id": str(artifact.pk),
        "weights_sha256": artifact.blob.sha256,
        "cid": artifact.cid,
        "signature": {
            "format": "model-signing/v1.0 sigstore bundle",
            "key_id": artifact.key_id,
            "sha256": sha256_bytes(canonical_json(artifact.signature)),
        },
        "anchored_at": artifact.anchored_at,
        "training_run": str(run.pk),
        "excluded_files": len(run.excluded),
    }


def conditions_json(conditions: Any) -> dict[str, Any] | None:
    return conditions.to_json() if conditions is not None else None


def c2pa_definition(work: Work, lineage: dict[str, Any], watermark: dict[str, Any]) -> dict[str, Any]:
    """The C2PA manifest embedded in the work's WAV: its model and data as ingredients, how it was
    made, and the watermark in its sound as a soft binding."""
    model = lineage["model"]
    ingredients = [  # the model, then the pretrained models it continues
        {
            "title": f"model {base['weights_sha256'][:12]}",
            "format": "application/octet-stream",
            "relationship": "inputTo",
            "instance_id": f"sha256:{base['weights_sha256']}",
            "metadata": {"ledgerline": {"cid": base["cid"], "signature_key": base["signature"]["key_id"]}},
        }
        for base in [model, *model["bases"]]
    ]
    ingredients += [
        {
            "title": f"{d['dataset']} v{d['number']}",
            "format": "application/json",
            "relationship": "inputTo",
            "instance_id": f"merkle:{d['merkle_root']}",
        }
        for d in lineage["datasets"]
    ]
    ingredients += [  # what it varies: the source's own credentials say where that came from
        {
            "title": source.get("title") or source.get("path") or f"source {source['sha256'][:12]}",
            "format": MEDIA["audio"],
            "relationship": "parentOf",
            "instance_id": f"sha256:{source['sha256']}",
            "metadata": {"ledgerline": {k: source[k] for k in ("kind", "cid", "token_id") if source.get(k)}},
        }
        for source in lineage["sources"]
    ]
    return {
        "claim_generator_info": [{"name": "Ledgerline", "version": "1"}],
        "title": FILES["audio"],
        "format": MEDIA["audio"],
        "ingredients": ingredients,
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": {"name": "Ledgerline", "version": "1"},
                            "parameters": {"seed": work.seed, "model_sha256": model["weights_sha256"]},
                        }
                    ]
                },
            },
            {"label": "cawg.training-mining", "data": {"entries": lineage["consent"]}},
            soft_binding(watermark),
        ],
    }


def token_metadata(work: Work) -> dict[str, Any]:
    """ERC-721 metadata JSON for the work's token."""
    return {
        "name": work.title,
        "description": f"Generated by {work.organisation.name} with Ledgerline; provenance in the signed manifest.",
        "animation_url": f"ipfs://{work.cid}/{FILES['audio']}",
        "external_url": f"{settings.SITE_URL.rstrip('/')}/api/v1/works/{work.pk}/",
        "content_sha256": work.content_sha256,
        "manifest": f"ipfs://{work.cid}/manifest.json",
        "attributes": [
            {"trait_type": "model", "value": work.model.blob.sha256},
            {"trait_type": "seed", "value": work.seed},
        ],
    }
