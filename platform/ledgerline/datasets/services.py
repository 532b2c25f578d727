"""Writes for datasets: create, add files, freeze versions. Each is recorded in the audit log."""

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from django.contrib.auth.models import User
from django.db import models, transaction
from django.utils import timezone
from license_expression import ExpressionError, get_spdx_licensing

from generation.spectral.tags import caption_clean, tags_clean
from ledgerline.accounts.models import Organisation
from ledgerline.accounts.wallets import wallet_clean
from ledgerline.datasets import blobs, media
from ledgerline.datasets.consent import consent_validate, training_use
from ledgerline.datasets.models import (
    Blob,
    Dataset,
    DatasetFile,
    DatasetVersion,
    RightsHolder,
    RightsShare,
    VersionEntry,
)
from ledgerline.datasets.selectors import version_leaves
from ledgerline.datasets.terms import conditions_clean, spdx_conditions
from ledgerline.errors import Conflict, InvalidFile, LedgerlineError
from ledgerline.ledger.client import Ledger
from ledgerline.ledger.services import consent_withdrawal_anchor, dataset_anchored_at
from ledgerline.provenance.merkle import merkle_root
from ledgerline.provenance.services import AuditRecord, audit_append, audit_append_many
from ledgerline.queue import enqueue
from ledgerline.storage.shared import content_put

_spdx = get_spdx_licensing()


@dataclass(frozen=True)
class RightsShareInput:
    name: str
    share: Decimal
    identifier: str = ""


@dataclass(frozen=True)
class Licence:
    spdx: str = ""
    terms: str = ""


@dataclass(frozen=True)
class Description:
    """What a recording is, in words a prompt can use: tags (instrument, genre, mood, artist)
    and a caption. Frozen into versions and covered by the Merkle leaf."""

    tags: tuple[str, ...] = ()
    caption: str = ""


@dataclass(frozen=True)
class StagedFile:
    """A file already on disk and hashed: an upload's temporary file, or a staged import."""

    name: str
    temp_path: Path
    sha256: str
    size: int
    description: Description | None = None  # its tags and caption, if given


def description_validate(*, tags: Any = None, caption: Any = None) -> Description:
    """Tags (a list of words, or words separated by spaces or commas) and a caption, checked,
    or a 400 that says what is wrong with them."""
    try:
        clean_tags = tuple(tags_clean(tags)) if tags is not None else ()
    except ValueError as exc:
        raise LedgerlineError(f"tags: {exc}.", fields={"tags": [str(exc)]}) from None
    try:
        clean_caption = caption_clean(caption) if caption is not None else ""
    except ValueError as exc:
        raise LedgerlineError(f"caption: {exc}.", fields={"caption": [str(exc)]}) from None
    return Description(clean_tags, clean_caption)


def licence_validate(licence: Licence) -> Licence:
    if not licence.spdx and not licence.terms.strip():
        raise LedgerlineError(
            "A licence is required: an SPDX id (e.g. CC-BY-4.0) or custom terms.",
            fields={"licence_spdx": ["Give an SPDX id or licence_terms."]},
        )
    if len(licence.spdx) > 200:
        raise LedgerlineError("An SPDX expression is at most 200 characters; put longer terms in licence_terms.")
    if licence.spdx:
        try:
            parsed = _spdx.parse(licence.spdx, validate=True, strict=True)
        except ExpressionError as exc:
            raise LedgerlineError(
                f"{licence.spdx!r} is not an SPDX licence expression: {exc}", fields={"licence_spdx": [str(exc)]}
            ) from None
        return Licence(spdx=str(parsed), terms=licence.terms.strip())
    return Licence(terms=licence.terms.strip())


def licence_conditions_validate(spdx: str, conditions: dict[str, Any]) -> dict[str, Any]:
    """Conditions a machine can check (datasets.terms), over or instead of the SPDX id's."""
    if conditions:
        conditions_clean(conditions, base=spdx_conditions(spdx))
    return conditions


def rights_validate(rights: list[RightsShareInput]) -> list[RightsShareInput]:
    if not rights:
        return rights
    try:
        total = sum((Decimal(r.share) for r in rights), Decimal(0))
    except InvalidOperation:
        raise LedgerlineError("Each rights holder's share must be a decimal number.") from None
    if any(Decimal(r.share) <= 0 for r in rights):
        raise LedgerlineError("Every rights holder's share must be above 0.", fields={"rights_holders": ["share"]})
    if total != 1:
        raise LedgerlineError(
            f"Rights holders' shares must add up to exactly 1; they add up to {total}.",
            fields={"rights_holders": [f"shares add up to {total}"]},
        )
    names = [(r.name.strip(), r.identifier.strip()) for r in rights]
    if len(set(names)) != len(names) or not all(name for name, _ in names):
        raise LedgerlineError("Each rights holder needs a name, and may appear once.")
    return rights


def consent_parse(value: Any) -> dict[str, dict[str, str]]:
    try:
        return consent_validate(value)
    except ValueError as exc:
        raise LedgerlineError(f"consent: {exc}", fields={"consent": [str(exc)]}) from None


def _rights_save(
    *,
    organisation: Organisation,
    rights: list[RightsShareInput],
    dataset: Dataset | None = None,
    file: DatasetFile | None = None,
) -> None:
    RightsShare.objects.filter(dataset=dataset, file=file).delete()
    for item in rights:
        holder, _ = RightsHolder.objects.get_or_create(
            organisation=organisation, name=item.name.strip(), identifier=item.identifier.strip()
        )
        RightsShare.objects.create(holder=holder, dataset=dataset, file=file, share=Decimal(item.share))


@transaction.atomic
def dataset_create(
    *,
    organisation: Organisation,
    name: str,
    description: str = "",
    licence: Licence,
    consent: Any,
    rights: list[RightsShareInput],
    created_by: User,
    licence_conditions: dict[str, Any] | None = None,
) -> Dataset:
    licence = licence_validate(licence)
    dataset = Dataset.objects.create(
        organisation=organisation,
        name=name.strip(),
        description=description,
        licence_spdx=licence.spdx,
        licence_terms=licence.terms,
        consent=consent_parse(consent),
        created_by=created_by,
        licence_conditions=licence_conditions_validate(licence.spdx, licence_conditions or {}),
    )
    _rights_save(organisation=organisation, rights=rights_validate(rights), dataset=dataset)
    audit_append(
        organisation=organisation,
        actor=created_by,
        action="dataset.create",
        obj=dataset,
        data={"name": dataset.name, "licence_spdx": licence.spdx, "consent": dataset.consent},
    )
    return dataset


@transaction.atomic
def dataset_update(
    *,
    dataset: Dataset,
    updated_by: User,
    name: str | None = None,
    description: str | None = None,
    licence: Licence | None = None,
    consent: Any = None,
    rights: list[RightsShareInput] | None = None,
    licence_conditions: dict[str, Any] | None = None,
) -> Dataset:
    changes: dict[str, Any] = {}
    if name is not None:
        dataset.name = changes["name"] = name.strip()
    if description is not None:
        dataset.description = changes["description"] = description
    if licence is not None:
        licence = licence_validate(licence)
        dataset.licence_spdx, dataset.licence_terms = licence.spdx, licence.terms
        changes["licence"] = {"spdx": licence.spdx, "terms": licence.terms}
    if licence_conditions is not None:
        dataset.licence_conditions = changes["licence_conditions"] = licence_conditions
    if licence is not None or licence_conditions is not None:
        licence_conditions_validate(dataset.licence_spdx, dataset.licence_conditions)
    if consent is not None:
        dataset.consent = changes["consent"] = consent_parse(consent)
    dataset.save()
    if rights is not None:
        _rights_save(organisation=dataset.organisation, rights=rights_validate(rights), dataset=dataset)
        changes["rights"] = [{"name": r.name, "identifier": r.identifier, "share": str(r.share)} for r in rights]
    audit_append(
        organisation=dataset.organisation, actor=updated_by, action="dataset.update", obj=dataset, data=changes
    )
    return dataset


def file_path_clean(name: str) -> str:
    """A relative POSIX path inside the dataset; no absolute paths, no '..'."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".", "/")]
    if not parts or ".." in parts or len("/".join(parts)) > 500 or any(ord(c) < 32 or c == "\x7f" for c in name):
        raise LedgerlineError(f"{name!r} is not a usable file path inside a dataset.")
    return "/".join(parts)


def _workers() -> int:
    """Threads for per-file work: hashing, file IO and the media libraries release the GIL."""
    return os.cpu_count() or 1


def _file_check(staged: StagedFile) -> tuple[str, media.MediaInfo]:
    """The file's path in the dataset and what it is; InvalidFile or LedgerlineError if unusable."""
    return file_path_clean(staged.name), media.inspect(staged.temp_path, staged.name)


def dataset_files_add(
    *,
    dataset: Dataset,
    files: list[StagedFile],
    added_by: User,
    licence: Licence | None = None,
    consent: Any = None,
    rights: list[RightsShareInput] | None = None,
) -> list[DatasetFile]:
    """Add files to a dataset, all or none.

    Every file is checked before anything is written; one bad file refuses the request
    with a message naming each bad file and why, and leaves no trace of any of them.
    Files inherit the dataset's licence and consent unless given their own.
    """
    file_licence = licence_validate(licence) if licence else Licence(dataset.licence_spdx, dataset.licence_terms)
    file_consent = consent_parse(consent) if consent is not None else dataset.consent
    file_rights = rights_validate(rights or [])
    problems: dict[str, list[str]] = {}
    checked: list[tuple[StagedFile, str, media.MediaInfo]] = []
    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        checks = [pool.submit(_file_check, staged) for staged in files]
    for staged, check in zip(files, checks, strict=True):
        try:
            checked.append((staged, *check.result()))
        except (InvalidFile, LedgerlineError) as exc:
            problems.setdefault(staged.name, []).append(exc.message)
    if problems:
        summary = " ".join(message for messages in problems.values() for message in messages)
        raise InvalidFile(f"Nothing was added. {summary}", fields=problems)
    # Before any row: other hosts fetch a file by the CID its row records.
    cids = {staged.sha256: blobs.blob_share(staged.temp_path, staged.sha256, internal=True) for staged, _, _ in checked}
    return _files_save(
        dataset=dataset,
        checked=checked,
        cids=cids,
        added_by=added_by,
        licence=file_licence,
        consent=file_consent,
        rights=file_rights,
    )


def _conflicts_check(*, dataset: Dataset, checked: list[tuple[StagedFile, str, media.MediaInfo]]) -> None:
    """A path or a content may be in a dataset once: within the request and with what is there."""
    seen: dict[str, str] = {}
    for staged, path, _ in checked:
        for key, what in ((f"path:{path}", "path"), (f"sha256:{staged.sha256}", "content")):
            if key in seen:
                raise Conflict(f"Nothing was added: {staged.name!r} and {seen[key]!r} have the same {what}.")
            seen[key] = staged.name
    by_path = {path: staged for staged, path, _ in checked}
    by_sha256 = {staged.sha256: staged for staged, _, _ in checked}
    clash = (
        DatasetFile.objects.filter(dataset=dataset)
        .filter(models.Q(path__in=by_path) | models.Q(blob__sha256__in=by_sha256))
        .select_related("blob")
        .first()
    )
    if clash is not None and clash.path in by_path:
        raise Conflict(f"Nothing was added: {clash.path!r} is already in this dataset.")
    if clash is not None:
        raise Conflict(
            f"Nothing was added: {by_sha256[clash.blob.sha256].name!r} has the same content as "
            f"{clash.path!r}, already in this dataset."
        )


@transaction.atomic
def _files_save(
    *,
    dataset: Dataset,
    checked: list[tuple[StagedFile, str, media.MediaInfo]],
    cids: dict[str, str],
    added_by: User,
    licence: Licence,
    consent: dict[str, Any],
    rights: list[RightsShareInput],
) -> list[DatasetFile]:
    Dataset.objects.select_for_update(no_key=True).get(pk=dataset.pk)  # one writer per dataset at a time
    _conflicts_check(dataset=dataset, checked=checked)
    blob_rows = _blob_rows({staged.sha256: (staged.size, cids[staged.sha256]) for staged, _, _ in checked})
    added, records = [], []
    for staged, path, info in checked:
        description = staged.description or Description()
        file = DatasetFile(
            dataset=dataset,
            blob=blob_rows[staged.sha256],
            path=path,
            media_type=info.media_type,
            duration_seconds=info.duration_seconds,
            details=info.details,
            tags=list(description.tags),
            caption=description.caption,
            licence_spdx=licence.spdx,
            licence_terms=licence.terms,
            consent=consent,
            uploaded_by=added_by,
        )
        added.append(file)
        data = {
            "dataset": str(dataset.pk),
            "path": path,
            "sha256": staged.sha256,
            "size": staged.size,
            "media_type": info.media_type,
            **({"tags": list(description.tags)} if description.tags else {}),
            **({"caption": description.caption} if description.caption else {}),
        }
        records.append(AuditRecord(dataset.organisation, added_by, "dataset_file.add", file, data))
    DatasetFile.objects.bulk_create(added, batch_size=1000)  # a catalog's files in a few statements, not one each
    if rights:
        for file in added:
            _rights_save(organisation=dataset.organisation, rights=rights, file=file)
    audit_append_many(records)
    # Last, so that a failure above leaves the store untouched; content already stored
    # (by anyone) is not stored again.
    for staged, _, _ in checked:
        blobs.blob_adopt(staged.temp_path, staged.sha256)
    return added


def _file_stage(path: Path) -> tuple[Path, str, int]:
    with open(path, "rb") as source:
        return blobs.blob_stage(source)


def dataset_files_import(
    *,
    dataset: Dataset,
    paths: list[tuple[str, Path]],
    added_by: User,
    licence: Licence | None = None,
    consent: Any = None,
    descriptions: dict[str, Description] | None = None,
) -> list[DatasetFile]:
    """Register local files (name in the dataset, path on disk): each is copied into the
    staging area and hashed in the same pass, several files at once, then all are added as an
    upload would be, with the description ``descriptions`` gives its name, if any. A file that
    cannot be read refuses them all, and no staged copy is left behind."""
    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        stagings = [pool.submit(_file_stage, path) for _, path in paths]
    staged = [
        StagedFile(name=name, temp_path=temp_path, sha256=sha256, size=size, description=(descriptions or {}).get(name))
        for (name, _), staging in zip(paths, stagings, strict=True)
        if staging.exception() is None
        for temp_path, sha256, size in [staging.result()]
    ]
    try:
        for staging in stagings:
            staging.result()  # the first file that could not be read, in the order given
        return dataset_files_add(dataset=dataset, files=staged, added_by=added_by, licence=licence, consent=consent)
    finally:
        for item in staged:
            item.temp_path.unlink(missing_ok=True)  # already moved into the store on success


@transaction.atomic
def dataset_file_remove(*, file: DatasetFile, removed_by: User) -> None:
    """Take a file out of the dataset. Versions that froze it keep their entry (and the blob)."""
    audit_append(
        organisation=file.dataset.organisation,
        actor=removed_by,
        action="dataset_file.remove",
        obj=file,
        data={"dataset": str(file.dataset_id), "path": file.path, "sha256": file.blob.sha256},
    )
    file.delete()


@transaction.atomic
def dataset_file_describe(*, file: DatasetFile, description: Description, updated_by: User) -> DatasetFile:
    """Change a file's tags and caption. Versions already frozen keep the words they froze
    (their Merkle roots cover them); the next version takes the new ones."""
    file = DatasetFile.objects.select_for_update().select_related("dataset", "blob").get(pk=file.pk)
    file.tags, file.caption = list(description.tags), description.caption
    file.save(update_fields=["tags", "caption", "updated_at"])
    audit_append(
        organisation=file.dataset.organisation,
        actor=updated_by,
        action="dataset_file.describe",
        obj=file,
        data={"tags": file.tags, "caption": file.caption},
    )
    return file


@transaction.atomic
def dataset_file_consent_set(*, file: DatasetFile, consent: Any, updated_by: User) -> DatasetFile:
    """Change one file's consent (a rights holder's withdrawal, or a grant). A withdrawal of
    training consent is then recorded on chain against each anchored version holding the file,
    so that anyone verifying a work trained on it learns of it without asking Ledgerline."""
    file = DatasetFile.objects.select_for_update().select_related("dataset", "blob").get(pk=file.pk)
    before = training_use(file.consent)
    file.consent = consent_parse(consent)
    file.save(update_fields=["consent", "updated_at"])
    withdrawn = before != "notAllowed" and training_use(file.consent) == "notAllowed"
    audit_append(
        organisation=file.dataset.organisation,
        actor=updated_by,
        action="dataset_file.consent",
        obj=file,
        data={"consent": file.consent, "training_consent_withdrawn": withdrawn},
    )
    if withdrawn:
        transaction.on_commit(lambda: enqueue("ledgerline.datasets.consent_withdrawal", str(file.pk)))
    return file


def consent_withdrawal_publish(*, file: DatasetFile) -> int:
    """Record the file's withdrawal of training consent on chain for every version holding it
    whose root is anchored (a version never anchored was never trained on through Ledgerline,
    and a run on it now leaves the file out). Safe to run twice; returns how many versions."""
    if training_use(file.consent) != "notAllowed":  # granted again before this ran
        return 0
    ledger = Ledger.connect()
    roots = set(VersionEntry.objects.filter(file=file).values_list("version__merkle_root", flat=True))
    published = 0
    for root in sorted(roots):
        if dataset_anchored_at(ledger=ledger, merkle_root=root):
            consent_withdrawal_anchor(ledger=ledger, merkle_root=root, file_sha256=file.blob.sha256)
            published += 1
    return published


@transaction.atomic
def dataset_version_create(*, dataset: Dataset, created_by: User, note: str = "") -> DatasetVersion:
    """Freeze the dataset's current files as a new version with a Merkle root."""
    Dataset.objects.select_for_update().get(pk=dataset.pk)
    files = list(DatasetFile.objects.filter(dataset=dataset).select_related("blob"))
    if not files:
        raise Conflict("This dataset has no files yet: add some before freezing a version.")
    # The documented order: by path, compared as UTF-8 bytes (so any implementation agrees).
    files.sort(key=lambda f: f.path.encode())
    entries = [
        VersionEntry(
            leaf_index=i,
            path=f.path,
            sha256=f.blob.sha256,
            size=f.blob.size,
            media_type=f.media_type,
            tags=f.tags,
            caption=f.caption,
            file=f,
        )
        for i, f in enumerate(files)
    ]
    root = merkle_root(version_leaves(entries)).hex()
    last = DatasetVersion.objects.filter(dataset=dataset).order_by("-number").first()
    rights = [
        {"holder": str(s.holder_id), "name": s.holder.name, "identifier": s.holder.identifier, "share": str(s.share)}
        for s in dataset.shares.select_related("holder")
    ]
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=(last.number + 1) if last else 1,
        merkle_root=root,
        file_count=len(files),
        total_bytes=sum(f.blob.size for f in files),
        note=note,
        created_by=created_by,
        licence_spdx=dataset.licence_spdx,
        licence_terms=dataset.licence_terms,
        consent=dataset.consent,
        licence_conditions=dataset.licence_conditions,
        rights=rights,
    )
    for entry in entries:
        entry.version = version
    VersionEntry.objects.bulk_create(entries)
    audit_append(
        organisation=dataset.organisation,
        actor=created_by,
        action="dataset_version.create",
        obj=version,
        data={"dataset": str(dataset.pk), "number": version.number, "merkle_root": root, "file_count": len(files)},
    )
    return version


def blob_store(source: BinaryIO) -> Blob:
    """A file the platform made itself (weights, a rendered work) stored by its hash, with its row."""
    temp, sha256, size = blobs.blob_stage(source)
    cid = blobs.blob_share(temp, sha256, internal=False)  # weights and works: published once pinned
    blobs.blob_adopt(temp, sha256)
    return _blob_row(sha256, size=size, cid=cid)


def _blob_row(sha256: str, *, size: int, cid: str) -> Blob:
    """The content's row, with the CID other hosts fetch it by."""
    return _blob_rows({sha256: (size, cid)})[sha256]


def _blob_rows(contents: dict[str, tuple[int, str]]) -> dict[str, Blob]:
    """The rows of contents given by SHA-256 with their size and CID, made where missing, in three
    queries however many there are; one stored before the store was shared gets its CID now."""
    Blob.objects.bulk_create(
        [Blob(sha256=sha256, size=size, cid=cid) for sha256, (size, cid) in contents.items()], ignore_conflicts=True
    )
    rows: dict[str, Blob] = Blob.objects.in_bulk(list(contents), field_name="sha256")
    stale = [row for sha256, row in rows.items() if contents[sha256][1] and row.cid != contents[sha256][1]]
    for row in stale:
        row.cid, row.updated_at = contents[row.sha256][1], timezone.now()
    Blob.objects.bulk_update(stale, ["cid", "updated_at"])
    return rows


def blobs_share() -> int:
    """Send to the IPFS node every file this host stores that no host can fetch yet (stored before
    the hosts shared the node: `manage.py share`); returns how many. A dataset's file stays
    internal to the deployment; a work's output or a model's weights are public once pinned."""
    shared = 0
    for blob in Blob.objects.filter(cid="").iterator():
        path = blobs.blob_path(blob.sha256)
        if path.is_file():
            internal = DatasetFile.objects.filter(blob=blob).exists()
            Blob.objects.filter(pk=blob.pk).update(cid=content_put(path, name=blob.sha256, internal=internal))
            shared += 1
    return shared


def blob_gc(*, older_than_seconds: int = 3600) -> list[Path]:
    """Delete stored files no Blob row refers to, and stale staged files.

    They are left behind when a transaction rolls back after moving its files into the
    store (or by a crash mid-import). Files younger than the grace period are spared, as
    their transaction may still be committing.
    """
    cutoff = time.time() - older_than_seconds
    removed = []
    for path in blobs.blob_files():
        if path.stat().st_mtime > cutoff:
            continue
        staged = path.parent.name == "staging"
        if staged or not Blob.objects.filter(sha256=path.name).exists():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@transaction.atomic
def holder_wallet_set(*, holder: RightsHolder, wallet: object, updated_by: User) -> RightsHolder:
    """The address a rights holder's on-chain royalties are paid to; "" or None: none, so they go
    to its organisation's wallet (or the platform's account). Splits made from now on use it;
    minted works keep theirs."""
    holder.wallet = wallet_clean(wallet)
    holder.save(update_fields=["wallet", "updated_at"])
    audit_append(
        organisation=holder.organisation,
        actor=updated_by,
        action="rights_holder.wallet",
        obj=holder,
        data={"wallet": holder.wallet or None},
    )
    return holder
