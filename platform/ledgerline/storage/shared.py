"""What hosts share through the IPFS node when there is a real one (IPFS_API_URL): dataset
files, works' outputs, training checkpoints and resume points, encrypted signing keys. Each is
fetched by its CID and checked against its SHA-256 on arrival; the local copy under var/ is a
cache that may be deleted at any time. With the embedded node every process shares var/ (one
host), and nothing needs to travel."""

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from django.conf import settings

from ledgerline.errors import LedgerlineError
from ledgerline.storage.client import ipfs_connect
from ledgerline.storage.models import InternalContent, SharedFile
from ledgerline_verify.unixfs import CID

logger = logging.getLogger(__name__)


def store_shared() -> bool:
    """Whether hosts share files through the IPFS node rather than one var/ folder."""
    return bool(settings.IPFS_API_URL)


def content_put(path: Path, *, name: str, internal: bool = True) -> str:
    """``path`` added (and pinned) on the IPFS node; its CID. ``internal``: for the deployment's
    hosts alone, until a folder holding it is published (``content_published``)."""
    with open(path, "rb") as source:
        cid = ipfs_connect().add(source, name=name).cid
    if internal:
        InternalContent.objects.get_or_create(digest=cid.digest.hex())
    return str(cid)


def content_internal(cid: CID) -> bool:
    """Whether ``cid`` is content the hosts share among themselves, not published."""
    return InternalContent.objects.filter(digest=cid.digest.hex()).exists()


def content_published(folder: CID) -> None:
    """The files of ``folder``, just pinned to be published (a work, a model), served from now on
    by the gateway even where the hosts had passed the same bytes among themselves."""
    digests = [link.cid.digest.hex() for link in ipfs_connect().listing(folder) or []]
    InternalContent.objects.filter(digest__in=digests).delete()


def content_release(cids: set[str]) -> None:
    """Unpin what the hosts no longer need (a resume point replaced by a newer one). Anything
    another pin reaches stays on the node; a node that cannot unpin now leaves it for later."""
    ipfs = ipfs_connect()
    for cid in sorted(cids):
        try:
            ipfs.unpin(CID.parse(cid))
        except Exception as exc:  # unpinned already, or the node away: only space is at stake
            logger.info("could not unpin %s: %s", cid, exc)


def content_fetch(*, cid: str, sha256: str, target: Path, mode: int = 0o444) -> Path:
    """The content ``cid`` written whole to ``target`` (read-only unless ``mode``), or a LedgerlineError, with
    nothing written, when what arrives is not ``sha256``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".fetch-")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in ipfs_connect().read(CID.parse(cid)):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise LedgerlineError(
                f"{target.name} fetched from IPFS as {cid} is not the file recorded: its SHA-256 is "
                f"{digest.hexdigest()}, not {sha256}."
            )
        os.chmod(name, mode)
        os.replace(name, target)  # whole or not at all; a copy fetched at once by another is the same
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return target


def file_share(path: Path, *, name: str) -> None:
    """Make ``path`` (known to other hosts as ``name``) reachable from every host."""
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    SharedFile.objects.update_or_create(name=name, defaults={"sha256": sha256, "cid": content_put(path, name=name)})


def file_restore(path: Path, *, name: str, mode: int = 0o444) -> bool:
    """``path`` fetched from another host's ``file_share``; False if none shared it."""
    shared = SharedFile.objects.filter(name=name).first()
    if shared is None:
        return False
    content_fetch(cid=shared.cid, sha256=shared.sha256, target=path, mode=mode)
    return True
