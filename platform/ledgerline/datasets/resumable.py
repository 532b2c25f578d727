"""Resumable uploads into a dataset: the server side of tus 1.0 (tus.io), transport left to the API.

An upload is created with its length and names; its bytes then arrive in any number of
requests, each going on at the offset the last one reached. Each request appends to a part
file beside the blob store and takes the SHA-256 up from the state the row saved, so no byte
is read twice. A request cut short keeps what arrived (unless it carried a checksum, which
covers its bytes whole); long requests record their progress as they go, so even a killed
worker loses little. Once the last byte is in, the file goes through dataset_files_add's checks
into the store, all or nothing, or is refused and deleted.

A part file lives on the web host that took the bytes. One request writes to it at a time
(an advisory lock, released if its process dies); a row's offset is trusted only on the boot
that recorded it, since a restarted machine may have lost what its page cache held.
"""

import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from ledgerline.datasets import media, services
from ledgerline.datasets.models import Dataset, DatasetFile, Upload
from ledgerline.errors import ChecksumMismatch, Conflict, Gone, InvalidFile, LedgerlineError, Locked, TooLarge
from ledgerline.provenance.hashing import ResumableSha256
from ledgerline.storage.direct import DirectAppender
from ledgerline.storage.relay import Stage, relay

READ_SIZE = 4 * 1024 * 1024
CHECKPOINT_BYTES = 64 * 1024 * 1024  # a long request records its progress this often
SNIFF_BYTES = 12  # media.sniff tells the kind of file from its first 12 bytes
CHECKSUM_ALGORITHMS = {"sha1": 20, "sha256": 32}  # tus asks for sha1 at least: its digest size


@dataclass(frozen=True)
class Checksum:
    """What a request says its bytes hash to (tus's Upload-Checksum)."""

    algorithm: str
    digest: bytes


ORPHAN_SECONDS = 3600
MAX_UNFINISHED = 1000  # a user's unfinished uploads at a time, whatever their sizes


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


BOOT_ID = _boot_id()


def part_path(upload: Upload) -> Path:
    return Path(settings.LEDGERLINE_BLOB_DIR) / "uploads" / str(upload.pk)


def _expiry() -> timedelta:
    return timedelta(seconds=settings.LEDGERLINE_UPLOAD_EXPIRY_SECONDS)


def upload_create(*, dataset: Dataset, user: User, length: int, metadata: dict[str, str]) -> Upload:
    """A new upload of ``length`` bytes into ``dataset``, named by tus metadata: ``filename``,
    and optionally ``path`` (in the dataset), ``tags`` and ``caption``. Refused before any byte
    is sent when it could never be added: too large, past the user's quota, a path taken."""
    uploads_expire()
    filename = metadata.get("filename", "").strip()
    if not filename:
        raise LedgerlineError("Name the file: send its name as the 'filename' of Upload-Metadata.")
    path = services.file_path_clean(metadata.get("path") or filename)
    description = services.description_validate(tags=metadata.get("tags"), caption=metadata.get("caption", ""))
    limit = settings.LEDGERLINE_MAX_UPLOAD_BYTES
    if length > limit:
        raise TooLarge(f"{filename}: {length:,} bytes is larger than the {limit:,} bytes allowed per file.")
    if DatasetFile.objects.filter(dataset=dataset, path=path).exists():
        # A 400, not a 409: tus clients take a 409 for an offset to ask again, and retry.
        raise LedgerlineError(f"{path!r} is already in this dataset.")
    with transaction.atomic():
        User.objects.select_for_update(no_key=True).filter(pk=user.pk).first()  # one creation per user at a time
        quota = settings.LEDGERLINE_UPLOAD_QUOTA_BYTES
        unfinished = Upload.objects.filter(created_by=user, state=Upload.State.RECEIVING).aggregate(
            total=Sum("length"), count=Count("pk")
        )
        reserved = unfinished["total"] or 0
        if unfinished["count"] >= MAX_UNFINISHED:
            raise TooLarge(
                f"You have {unfinished['count']:,} unfinished uploads, the most one may have at a time. "
                "Finish them, or delete those you gave up (DELETE /api/v1/uploads/<id>/)."
            )
        if reserved + length > quota:
            raise TooLarge(
                f"Your unfinished uploads already reserve {reserved:,} of the {quota:,} bytes you may have "
                f"in progress, so {length:,} more cannot start. Finish them, or delete those you gave up "
                "(DELETE /api/v1/uploads/<id>/)."
            )
        upload = Upload.objects.create(
            dataset=dataset,
            created_by=user,
            filename=filename[:500],
            path=path,
            tags=list(description.tags),
            caption=description.caption,
            length=length,
            sha256_state=ResumableSha256().state(),
            boot_id=BOOT_ID,
            expires_at=timezone.now() + _expiry(),
        )
    part = part_path(upload)
    part.parent.mkdir(parents=True, exist_ok=True)
    part.touch()
    return upload


@contextmanager
def _exclusive(upload: Upload) -> Iterator[BinaryIO]:
    """The part file, open for writing by this request alone: Locked if another has it."""
    part = part_path(upload)
    part.parent.mkdir(parents=True, exist_ok=True)
    with open(os.open(part, os.O_RDWR | os.O_CREAT, 0o600), "r+b", buffering=0) as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Locked("Another request is sending bytes to this upload right now; ask its offset again.") from None
        yield f  # the lock goes with the file's closing


def _receiving(upload: Upload, part: BinaryIO) -> Upload:
    """The upload as the database has it now, still receiving and sound: an expired one is
    deleted (Gone); one whose bytes this host may have lost starts again from 0."""
    upload = Upload.objects.select_related("dataset", "created_by").get(pk=upload.pk)
    if upload.state == Upload.State.COMPLETE:
        raise Conflict("This upload is complete: its file is in the dataset.")
    if upload.state == Upload.State.REFUSED:
        raise Gone(f"This upload was refused, and nothing of it was kept: {upload.error}")
    if upload.expires_at <= timezone.now():
        _delete(upload)
        raise Gone("This upload expired unfinished and was deleted; start it again.")
    size = os.fstat(part.fileno()).st_size
    if upload.offset and (
        upload.boot_id != BOOT_ID or size < upload.offset or not ResumableSha256.saved(bytes(upload.sha256_state))
    ):
        if upload.boot_id == BOOT_ID and size >= upload.offset:
            upload.sha256_state = _rehash(part, upload.offset)  # no saved state (no OpenSSL here)
        else:
            upload.offset, upload.sha256_state = 0, ResumableSha256().state()
        upload.boot_id = BOOT_ID
        upload.save(update_fields=["offset", "sha256_state", "boot_id", "updated_at"])
    return upload


def _rehash(part: BinaryIO, length: int) -> bytes:
    hasher = ResumableSha256()
    part.seek(0)
    remaining = length
    while remaining and (data := part.read(min(READ_SIZE, remaining))):
        hasher.update(data)
        remaining -= len(data)
    return hasher.state()


def upload_offset(upload: Upload) -> Upload:
    """The upload with the offset a client should go on from (HEAD): checked and, if its bytes
    were lost, reset, unless a request is writing to it now (its last recorded progress)."""
    try:
        with _exclusive(upload) as part:
            return _receiving(upload, part)
    except Locked:
        return Upload.objects.get(pk=upload.pk)


def upload_append(
    *, upload: Upload, offset: int, readinto: Callable[[memoryview], int], size: int, checksum: Checksum | None = None
) -> Upload:
    """Append ``size`` bytes, read with ``readinto(view)`` (0 once the body ends), at ``offset``.

    ``checksum``: an algorithm and the digest of exactly these bytes; if they do not match it, or do not all
    arrive, none of them is kept and the offset stays. With none, whatever arrived is kept. When
    the last byte is in, the file is added to the dataset, or refused (the error is raised) and
    deleted.
    """
    with _exclusive(upload) as part:
        upload = _receiving(upload, part)
        if offset != upload.offset:
            raise Conflict(f"This upload is at byte {upload.offset:,}, not {offset:,}: send from there.")
        if upload.offset + size > upload.length:
            raise LedgerlineError(
                f"{size:,} bytes from byte {offset:,} would pass the upload's length of {upload.length:,} bytes."
            )
        if os.fstat(part.fileno()).st_size != upload.offset:
            # Bytes a dead request wrote past its last record. Only then: ext4 flushes a file to
            # disk when it is closed after a truncation to 0, which would stall a fast upload.
            part.truncate(upload.offset)
        received = _receive(upload, part, readinto, size, checksum)
        if checksum is not None:
            upload = _checked(upload, part, received, size, checksum)
        else:
            upload = _record(upload, upload.offset + received[0], received[1])
        if upload.offset == upload.length:
            return _finish(upload, ResumableSha256(bytes(upload.sha256_state)).hexdigest())
        return upload


class _NotMedia(Exception):
    """The first bytes are no media at all (raised on a relay thread, refused on the request's)."""


def _receive(
    upload: Upload, part: BinaryIO, readinto: Callable[[memoryview], int], size: int, checksum: Checksum | None
) -> tuple[int, bytes, str]:
    """Write what arrives to the part file as it is hashed (storage.relay: reading, hashing and
    writing at once); the bytes received since the last record, the SHA-256 state after them, and
    their own digest when a checksum came. Without a checksum a long request records its progress
    every CHECKPOINT_BYTES, and its first bytes are sniffed as they arrive."""
    hasher = ResumableSha256(bytes(upload.sha256_state))
    own = hashlib.new(checksum.algorithm) if checksum is not None else None
    head = bytearray(os.pread(part.fileno(), upload.offset, 0)) if own is None and upload.offset < SNIFF_BYTES else None

    def sniff_and_hash(view: memoryview) -> None:
        nonlocal head
        if head is not None:
            head += view[: SNIFF_BYTES - len(head)]
            if len(head) == SNIFF_BYTES:
                known, head = media.sniff(bytes(head)), None
                if known is None:
                    raise _NotMedia
        hasher.update(view)

    appender = DirectAppender(part_path(upload), upload.offset)
    stages: list[Stage] = [sniff_and_hash, appender.write, *([own.update] if own is not None else [])]
    received = recorded = 0
    try:
        try:
            while received < size:
                segment = size - received if own is not None else min(size - received, CHECKPOINT_BYTES)
                count = relay(readinto, stages, size=segment)
                received += count
                if count < segment:
                    break  # the body ended early: the client went away
                if own is None and received < size:
                    appender.flush()
                    upload = _record(upload, upload.offset + received - recorded, hasher.state())
                    recorded = received
        finally:
            appender.close()
    except _NotMedia:
        _not_media(upload)
    return received - recorded, hasher.state(), own.hexdigest() if own is not None else ""


def _not_media(upload: Upload) -> None:
    _refuse(upload, f"{upload.filename}: not a MIDI, WAV, FLAC or MP3 file (its first bytes are not any of them).")


def _checked(upload: Upload, part: BinaryIO, received: tuple[int, bytes, str], size: int, checksum: Checksum) -> Upload:
    count, state, own = received
    if count < size:
        part.truncate(upload.offset)
        return upload  # cut short: its checksum covers bytes that never came, so none is kept
    if bytes.fromhex(own) != checksum.digest:
        part.truncate(upload.offset)
        raise ChecksumMismatch(
            f"The {size:,} bytes from byte {upload.offset:,} do not match the Upload-Checksum sent with them; "
            "nothing of them was kept: send them again."
        )
    if (
        upload.offset < SNIFF_BYTES <= upload.offset + count
        and media.sniff(os.pread(part.fileno(), SNIFF_BYTES, 0)) is None
    ):
        _not_media(upload)  # refused at its first bytes, before gigabytes follow
    return _record(upload, upload.offset + count, state)


def _record(upload: Upload, offset: int, state: bytes) -> Upload:
    """Progress, on the database: the next request (or host's HEAD) goes on from here."""
    upload.offset, upload.sha256_state, upload.boot_id = offset, state, BOOT_ID
    upload.expires_at = timezone.now() + _expiry()
    upload.save(update_fields=["offset", "sha256_state", "boot_id", "expires_at", "updated_at"])
    return upload


def _finish(upload: Upload, sha256: str) -> Upload:
    """The complete file into the dataset, through every check an upload gets; or refused."""
    staged = services.StagedFile(
        name=upload.path,
        temp_path=part_path(upload),
        sha256=sha256,
        size=upload.length,
        description=services.Description(tuple(upload.tags), upload.caption),
    )
    try:
        with transaction.atomic():
            [file] = services.dataset_files_add(dataset=upload.dataset, files=[staged], added_by=upload.created_by)
            upload.state, upload.file, upload.sha256_state = Upload.State.COMPLETE, file, b""
            upload.expires_at = timezone.now() + _expiry()
            upload.save(update_fields=["state", "file", "sha256_state", "expires_at", "updated_at"])
    except LedgerlineError as exc:
        # A clash with the dataset is a 400 here too: a tus client would retry a 409.
        _refuse(upload, exc.message, error=LedgerlineError(exc.message) if isinstance(exc, Conflict) else exc)
    return upload


def _refuse(upload: Upload, reason: str, *, error: LedgerlineError | None = None) -> None:
    """Delete the bytes, keep the reason (for the client that asks), and raise it."""
    part_path(upload).unlink(missing_ok=True)
    Upload.objects.filter(pk=upload.pk).update(
        state=Upload.State.REFUSED, error=reason, sha256_state=b"", expires_at=timezone.now() + _expiry()
    )
    raise error if error is not None else InvalidFile(reason)


def upload_terminate(upload: Upload) -> None:
    """Delete an upload and its bytes (tus termination). A finished file stays in its dataset."""
    with _exclusive(upload):
        _delete(upload)


def _delete(upload: Upload) -> None:
    """The upload and its bytes gone (by the request that holds its part file)."""
    part_path(upload).unlink(missing_ok=True)
    Upload.objects.filter(pk=upload.pk).delete()


def uploads_expire(*, orphans: bool = False) -> int:
    """Delete the uploads past their expiry (unfinished ones' bytes with them), and with
    ``orphans`` part files an hour old whose upload is gone (a crash between the two); how many
    uploads went."""
    expired = list(Upload.objects.filter(expires_at__lte=timezone.now()))
    for upload in expired:
        try:
            with _exclusive(upload):
                _delete(upload)
        except Locked:
            continue  # bytes arriving right now: not expired after all
    folder = Path(settings.LEDGERLINE_BLOB_DIR) / "uploads"
    if orphans and folder.is_dir():
        cutoff = timezone.now().timestamp() - ORPHAN_SECONDS
        known = {str(pk) for pk in Upload.objects.values_list("pk", flat=True)}
        for part in folder.iterdir():
            if part.name not in known and part.stat().st_mtime < cutoff:
                part.unlink(missing_ok=True)
    return len(expired)
