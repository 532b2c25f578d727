"""A dataset version as Croissant 1.0 JSON-LD (MLCommons), with a SHA-256 per file, and a RecordSet
("files": file, sha256, licence, consent, tags) whose records sit in the document itself, so
mlcroissant loads them without fetching anything. URLs name the site the document was asked
from (``site``: SITE_URL when a deployment sets it, else the request's own host)."""

from typing import Any

from ledgerline.datasets.consent import USES, consent_use, training_use
from ledgerline.datasets.models import DatasetVersion, VersionEntry

RECORD_FIELDS = {
    "file": "The file's path in the version.",
    "sha256": "SHA-256 of the file's bytes (hex).",
    "licence": "The file's licence (SPDX), its own or the version's.",
    "consent": "Consent to generative AI training (C2PA cawg.training-mining): allowed, notAllowed or constrained.",
    "tags": "Words describing the file, separated by spaces.",
}

CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}


def _licence_url(spdx: str, terms: str) -> str:
    if spdx and " " not in spdx:
        return f"https://spdx.org/licenses/{spdx}.html"
    return spdx or terms


def _field(name: str, text: str) -> dict[str, str]:
    return {
        "@type": "cr:Field",
        "@id": f"files/{name}",
        "name": name,
        "description": text,
        "dataType": "sc:Text",
    }


def _record(entry: VersionEntry, version: DatasetVersion) -> dict[str, str]:
    file = entry.file
    values = {
        "file": entry.path,
        "sha256": entry.sha256,
        "licence": (file.licence_spdx if file is not None and file.licence_spdx else version.licence_spdx),
        "consent": training_use(file.consent if file is not None and file.consent else version.consent),
        "tags": " ".join(entry.tags),
    }
    return {f"files/{name}": value for name, value in values.items()}


def croissant_export(*, version: DatasetVersion, site: str) -> dict[str, Any]:
    dataset = version.dataset
    entries = list(version.entries.order_by("leaf_index").select_related("file"))
    site = site.rstrip("/")
    consent = ", ".join(f"{use.removeprefix('cawg.')}: {consent_use(version.consent, use)}" for use in USES)
    holders = [
        {"@type": "sc:Person", "name": r["name"], "identifier": r["identifier"] or None, "cr:share": r["share"]}
        for r in version.rights
    ]
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": dataset.name,
        "description": dataset.description or f"{dataset.name}, version {version.number}",
        "version": f"{version.number}.0.0",
        "url": f"{site}/api/v1/dataset-versions/{version.pk}/",
        "license": _licence_url(version.licence_spdx, version.licence_terms),
        "creator": {"@type": "sc:Organization", "name": dataset.organisation.name},
        "copyrightHolder": holders,
        "datePublished": version.created_at.date().isoformat(),
        "citeAs": f"{dataset.organisation.name}. {dataset.name}, version {version.number} "
        f"(Merkle root {version.merkle_root}). Ledgerline, {version.created_at.year}.",
        "identifier": f"merkle-sha256:{version.merkle_root}",
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": entry.path,
                "name": entry.path,
                "contentUrl": f"{site}/api/v1/blobs/{entry.sha256}",
                "encodingFormat": entry.media_type,
                "contentSize": f"{entry.size} B",
                "sha256": entry.sha256,
            }
            for entry in entries
        ],
        "recordSet": [
            {
                "@type": "cr:RecordSet",
                "@id": "files",
                "name": "files",
                "description": "One record per file of the version, with its hash, licence, consent and tags.",
                "key": {"@id": "files/file"},  # a path is unique in a version; a content may sit under two
                "field": [
                    {
                        "@type": "cr:Field",
                        "@id": f"files/{name}",
                        "name": name,
                        "description": text,
                        "dataType": "sc:Text",
                    }
                    for name, text in RECORD_FIELDS.items()
                ],
                "data": [_record(entry, version) for entry in entries],
            }
        ],
        "rai:dataCollection": "Files uploaded to Ledgerline by the organisation; each is hashed (SHA-256) on "
        "arrival and the version's files are committed by an RFC 6962 Merkle root.",
        "rai:dataCollectionType": "Manual Human Curated",
        "rai:dataUseCases": f"Training consent (C2PA cawg.training-mining): {consent}.",
        "rai:personalSensitiveInformation": "None expected: music and sound recordings.",
        "rai:dataReleaseMaintenancePlan": "Versions are immutable; changes produce a new version with a new "
        "Merkle root.",
    }
