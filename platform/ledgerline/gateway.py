"""A read-only IPFS gateway for what this node holds: /ipfs/<cid> and /ipfs/<cid>/<path>,
with Range requests, so portal pages and token metadata links work on the embedded default.
Content under a CID never changes, so responses are cached for good and the CID is the ETag.
An entry point beside the API: it reads storage and names media with datasets' sniffing, so it
sits above both."""

import mimetypes
import re
from html import escape

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from ledgerline.datasets.media import sniff
from ledgerline.storage.blockstore import BlockMissing, CorruptBlock
from ledgerline.storage.client import Ipfs, IpfsUnavailable, ipfs_connect
from ledgerline.storage.shared import content_internal
from ledgerline_verify.unixfs import CID

_RANGE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")
# Anyone can pin anything, and the gateway serves it from the site's own origin: only types that
# never run (a page, a script, an SVG would run as ours, past the site's script-src 'self').
_INERT = (
    "audio/",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/json",
    "application/pdf",
    "text/plain",
    "text/csv",
)
# And a document it serves is sandboxed: no scripts, an origin of its own.
_SANDBOX = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'"


def _content_type(path: str, head: bytes) -> str:
    """What the bytes say for the media Ledgerline knows, else the name, else a JSON check."""
    media = sniff(head)
    if media:
        return media
    guessed = mimetypes.guess_type(path)[0] if path else None
    if guessed:
        return guessed if guessed.startswith(_INERT) else "application/octet-stream"
    return "application/json" if head.lstrip()[:1] in (b"{", b"[") else "application/octet-stream"


def _text(status: int, message: str) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")


def _raw_block(cid: CID) -> HttpResponse:
    """The block itself (the trustless gateway's ?format=raw): a client checks it against the CID."""
    try:
        block = ipfs_connect().block(cid)
    except (FileNotFoundError, BlockMissing) as exc:
        return _text(404, str(exc))
    except CorruptBlock as exc:
        return _text(502, str(exc))
    except IpfsUnavailable as exc:
        return _text(503, exc.message)
    response = HttpResponse(block, content_type="application/vnd.ipld.raw")
    response["Cache-Control"] = "public, max-age=29030400, immutable"
    response["ETag"] = f'"{cid}.raw"'
    return response


def gateway(request: HttpRequest, cid: str, path: str = "") -> HttpResponseBase:
    response = _gateway(request, cid, path)
    response["Content-Security-Policy"] = _SANDBOX
    return response


def _gateway(request: HttpRequest, cid: str, path: str) -> HttpResponseBase:
    try:
        root = CID.parse(cid)
    except ValueError as exc:
        return _text(400, str(exc))
    if content_internal(root):  # a dataset file or resume point the hosts share: not published
        return _text(404, f"{cid} is not published here.")
    if path and any(part in ("", ".", "..") for part in path.rstrip("/").split("/")):
        return _text(400, f"{path!r} is not a path inside {cid}: no empty, '.' or '..' parts.")
    if request.GET.get("format") == "raw" or "application/vnd.ipld.raw" in request.headers.get("Accept", ""):
        return _raw_block(root) if not path else _text(400, "A raw block is asked for by its CID, without a path.")
    try:
        ipfs = ipfs_connect()
        target = ipfs.resolve(root, path) if path else root
        entries = ipfs.listing(target)
        if entries is not None:
            return _listing(request, cid, path, entries)
        size = ipfs.size(target)
        head = b"".join(ipfs.read(target, 0, min(size, 512)))
    except FileNotFoundError as exc:
        return _text(404, str(exc))
    except BlockMissing as exc:
        return _text(404, str(exc))
    except CorruptBlock as exc:
        return _text(502, str(exc))
    except IpfsUnavailable as exc:
        return _text(503, exc.message)
    except (ValueError, RecursionError) as exc:  # a DAG no Ledgerline node would have made
        return _text(502, f"{cid}/{path} cannot be read as a UnixFS file: {exc}")
    start, end, status = 0, size, 200
    header = request.headers.get("Range")
    if header:
        match = _RANGE.match(header.strip())
        if not match or (not match[1] and not match[2]):
            return _text(416, f"Unsupported Range {header!r}: use one bytes=start-end range.")
        if match[1] and match[2] and int(match[2]) < int(match[1]):
            return _stream(ipfs, target, path, head, 0, size, 200)  # an invalid range is ignored (RFC 9110 14.2)
        if match[1]:
            start, end = int(match[1]), min(int(match[2]) + 1, size) if match[2] else size
        else:
            start, end = max(size - int(match[2]), 0), size
        if start >= size or start >= end:
            refusal = _text(416, f"Range {header!r} is outside the {size} bytes of {target}.")
            refusal["Content-Range"] = f"bytes */{size}"
            return refusal
        status = 206
    response = _stream(ipfs, target, path, head, start, end, status)
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return response


def _stream(
    ipfs: Ipfs, target: CID, path: str, head: bytes, start: int, end: int, status: int
) -> StreamingHttpResponse:
    # Blocks are checked as they stream: a corrupted one further in ends the response early
    # (the client sees a short body against Content-Length), never wrong bytes.
    response = StreamingHttpResponse(
        ipfs.read(target, start, end), status=status, content_type=_content_type(path, head)
    )
    response["Content-Length"] = str(end - start)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = f'"{target}"'
    response["Cache-Control"] = "public, max-age=29030400, immutable"
    response["X-Ipfs-Path"] = f"/ipfs/{target}"
    return response


def _listing(request: HttpRequest, cid: str, path: str, entries: list) -> HttpResponse:
    base = f"/ipfs/{cid}/{path.strip('/')}".rstrip("/")
    rows = "".join(
        f'<li><a href="{escape(base)}/{escape(e.name)}">{escape(e.name)}</a> '
        f"<code>{escape(str(e.cid))}</code> {e.tsize} B</li>"
        for e in entries
    )
    return HttpResponse(
        f"<!doctype html><title>{escape(base)}</title><h1>{escape(base)}</h1><ul>{rows}</ul>",
        content_type="text/html; charset=utf-8",
    )
