"""Reads for datasets: what an actor may see, version leaves and inclusion proofs."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet, Sum

from ledgerline.datasets.models import Dataset, DatasetFile, DatasetVersion, RightsShare, VersionEntry
from ledgerline.errors import Missing
from ledgerline.provenance.canonical import canonical_json
from ledgerline.provenance.merkle import inclusion_proof, leaf_hash


def dataset_list(*, organisation_ids: list) -> QuerySet[Dataset]:
    return (
        Dataset.objects.filter(organisation_id__in=organisation_ids)
        .select_related("organisation")
        .prefetch_related("shares__holder")
        .annotate(file_count=Count("files", distinct=True), total_bytes=Sum("files__blob__size"))
        .order_by("-created_at")  # GROUP BY queries ignore Meta.ordering
    )


def dataset_file_list(*, organisation_ids: list) -> QuerySet[DatasetFile]:
    return (
        DatasetFile.objects.filter(dataset__organisation_id__in=organisation_ids)
        .select_related("blob", "dataset__organisation")
        # A file without rights holders of its own lists its dataset's (rights_of): fetched once, not per file.
        .prefetch_related("shares__holder", "dataset__shares__holder")
    )


def dataset_version_list(*, organisation_ids: list) -> QuerySet[DatasetVersion]:
    return DatasetVersion.objects.filter(dataset__organisation_id__in=organisation_ids).select_related(
        "dataset__organisation"
    )


def blob_held(*, organisation_ids: list, sha256: str) -> tuple[str, str] | None:
    """(path, media type) under which the organisations hold this content, in a dataset
    or in a frozen version (whose files may since have been removed); else None."""
    file = DatasetFile.objects.filter(dataset__organisation_id__in=organisation_ids, blob__sha256=sha256).first()
    if file is not None:
        return file.path, file.media_type
    entry = VersionEntry.objects.filter(version__dataset__organisation_id__in=organisation_ids, sha256=sha256).first()
    return (entry.path, entry.media_type) if entry is not None else None


def rights_of(*, dataset: Dataset | None = None, file: DatasetFile | None = None) -> list[RightsShare]:
    if file is not None:
        return list(file.shares.all()) or list(file.dataset.shares.all())
    assert dataset is not None
    return list(dataset.shares.all())


def version_leaf(*, path: str, sha256: str, size: int, tags: list[str] | None = None, caption: str = "") -> bytes:
    """A version's Merkle leaf: the RFC 8785 JSON of the file's path, SHA-256 and size, and its
    tags and caption where it has them (a file without either has the leaf it always had)."""
    leaf: dict[str, Any] = {"path": path, "sha256": sha256, "size": size}
    if tags:
        leaf["tags"] = list(tags)
    if caption:
        leaf["caption"] = caption
    return canonical_json(leaf)


def version_leaves(entries: Iterable[VersionEntry]) -> list[bytes]:
    return [version_leaf(path=e.path, sha256=e.sha256, size=e.size, tags=e.tags, caption=e.caption) for e in entries]


@dataclass(frozen=True)
class FileProof:
    version: DatasetVersion
    entry: VersionEntry
    leaf: bytes
    audit_path: list[bytes]

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.version.dataset.name,
            "version": self.version.number,
            "licence": self.version.licence_spdx,
            "consent": self.version.consent,
            "merkle_root": self.version.merkle_root,
            "tree_size": self.version.file_count,
            "leaf_index": self.entry.leaf_index,
            "leaf": self.leaf.decode(),
            "leaf_hash": leaf_hash(self.leaf).hex(),
            "audit_path": [node.hex() for node in self.audit_path],
            "algorithm": "RFC 6962 Merkle tree, SHA-256; leaf = RFC 8785 JSON of {path, sha256, size} "
            "and the file's tags and caption where it has them; "
            "leaves ordered by path as UTF-8 bytes",
        }


def version_file_proof(*, version: DatasetVersion, path: str | None = None, sha256: str | None = None) -> FileProof:
    entries = list(version.entries.order_by("leaf_index"))
    match = [e for e in entries if (path is not None and e.path == path) or (sha256 is not None and e.sha256 == sha256)]
    if not match:
        raise Missing(f"No file {path or sha256!r} in version {version.number} of {version.dataset.name}.")
    entry = match[0]
    leaves = version_leaves(entries)
    proof = inclusion_proof(leaves, entry.leaf_index)
    return FileProof(version=version, entry=entry, leaf=leaves[entry.leaf_index], audit_path=proof.audit_path)
