"""Sends one file through the tus endpoint: create (or HEAD to resume), then checksummed PATCH chunks."""

import base64
import contextlib
import http.client
import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ledgerline_upload.chunks import ChunkReader, chunk_checksum
from ledgerline_upload.state import Entry, StateFile, entry_key

TUS = "1.0.0"
BLOCK_BYTES = 1 << 20
RETRIES = 5
TIMEOUT_S = 300.0


class Refused(Exception):
    """The server refused the file (400, 403, 404, 409, 413): retrying would not help; the message says why."""


@dataclass
class Outcome:
    """What became of one file: added (with its DatasetFile uuid), skipped as done before, or refused."""

    path: str
    file: str | None = None
    skipped: bool = False
    error: str | None = None
    sent: int = 0
    resent: int = 0


@dataclass
class Uploader:
    """Everything a file's upload needs: the server, the token, the dataset, the state file and the chunk size."""

    server: str
    token: str
    dataset: str
    state: StateFile
    chunk_bytes: int
    tags: str = ""
    say: Callable[[str], None] = print
    retries: int = RETRIES
    backoff_s: float = 1.0
    _netloc: str = field(init=False, default="")

    def upload(self, root: Path, relative: str) -> Outcome:
        """Uploads root/relative as `relative` in the dataset, resuming a recorded upload; never raises."""
        path = root / relative
        stat = path.stat()
        key = entry_key(self.server, self.dataset, relative, stat.st_size, stat.st_mtime_ns)
        entry = self.state.get(key)
        outcome = Outcome(relative)
        if entry.file:
            outcome.skipped, outcome.file = True, entry.file
            return outcome
        try:
            with path.open("rb") as source:
                outcome.file = self._send(source, relative, stat.st_size, key, entry, outcome)
            self.say(f"{relative}: added ({outcome.file})")
        except Refused as refused:
            outcome.error = str(refused)
            self.say(f"{relative}: refused: {refused}")
        except OSError as failed:
            outcome.error = f"gave up after {self.retries} tries: {failed}"
            self.say(f"{relative}: {outcome.error}")
        return outcome

    def _send(self, source: BinaryIO, relative: str, length: int, key: str, entry: Entry, outcome: Outcome) -> str:
        """Sends what the server lacks of the file, chunk by chunk, and returns the DatasetFile's uuid."""
        offset = self._resume_offset(entry)
        if offset is None:
            entry = Entry(url=self._create(relative, length), sent=entry.sent)
            self.state.put(key, entry)
            offset = 0
        elif offset:
            self.say(f"{relative}: resuming at {offset} of {length} bytes")
        failures = 0
        while True:
            end = min(offset + self.chunk_bytes, length)
            outcome.resent += max(0, min(end, entry.sent) - offset)
            outcome.sent += end - offset
            entry.sent = max(entry.sent, end)
            self.state.put(key, entry)
            try:
                status, headers, body = self._patch(entry.url or "", source, offset, end - offset)
            except (OSError, http.client.HTTPException) as dropped:
                failures += 1
                if failures > self.retries:
                    raise OSError(str(dropped)) from dropped
                time.sleep(self.backoff_s * 2 ** (failures - 1))
                with contextlib.suppress(OSError, http.client.HTTPException):
                    offset = self._known_offset(entry.url or "")
                continue
            if status == 204:
                failures = 0
                offset = int(headers.get("upload-offset", end))
                if offset >= length:
                    entry.file = headers.get("ledgerline-dataset-file") or ""
                    self.state.put(key, entry)
                    return entry.file
                self.say(f"{relative}: {offset * 100 // max(length, 1)}% ({offset} of {length} bytes)")
            elif status in (409, 423, 460) or status >= 500:
                failures += 1
                if failures > self.retries:
                    raise OSError(f"HTTP {status}: {_reason(body)}")
                if status != 460:
                    time.sleep(self.backoff_s * 2 ** (failures - 1))
                    offset = self._known_offset(entry.url or "")
            else:
                raise Refused(_reason(body) or f"HTTP {status}")

    def _resume_offset(self, entry: Entry) -> int | None:
        """The server's offset of the recorded upload, or None when there is none to resume (never made, 404)."""
        if not entry.url:
            return None
        return self._head_offset(entry.url)

    def _known_offset(self, url: str) -> int:
        """The server's offset of an upload being sent; Refused when it is gone (expired or deleted)."""
        offset = self._head_offset(url)
        if offset is None:
            raise Refused("the upload expired or was removed while it was sent; rerun to start it again")
        return offset

    def _head_offset(self, url: str) -> int | None:
        """HEAD's Upload-Offset; None when the server no longer knows the upload (404, 410)."""
        status, headers, body = self._request("HEAD", url)
        if status in (404, 410):
            return None
        if status != 200:
            raise Refused(_reason(body) or f"HEAD answered {status}")
        return int(headers["upload-offset"])

    def _create(self, relative: str, length: int) -> str:
        """POSTs a new upload of the file and returns its URL (Location)."""
        metadata = {"dataset": self.dataset, "filename": Path(relative).name, "path": relative}
        if self.tags:
            metadata["tags"] = self.tags
        encoded = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in metadata.items())
        headers = {"Upload-Length": str(length), "Upload-Metadata": encoded}
        for failures in range(self.retries + 1):
            status, answer, body = self._request("POST", self.server.rstrip("/") + "/api/v1/uploads/", headers=headers)
            if status < 500:
                break
            time.sleep(self.backoff_s * 2**failures)
        if status != 201:
            raise Refused(_reason(body) or f"creating the upload answered {status}")
        return urllib.parse.urljoin(self.server, answer["location"])

    def _patch(self, url: str, source: BinaryIO, offset: int, length: int) -> tuple[int, dict[str, str], bytes]:
        """PATCHes length bytes from offset, with their SHA-256, streamed from the file."""
        headers = {
            "Content-Type": "application/offset+octet-stream",
            "Content-Length": str(length),
            "Upload-Offset": str(offset),
            "Upload-Checksum": chunk_checksum(source, offset, length),
        }
        return self._request("PATCH", url, headers=headers, body=ChunkReader(source, offset, length))

    def _request(
        self, method: str, url: str, headers: dict[str, str] | None = None, body: ChunkReader | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a fresh connection: the status, the headers (lower-case names) and the body."""
        parts = urllib.parse.urlsplit(url)
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = kind(parts.netloc, timeout=TIMEOUT_S, blocksize=BLOCK_BYTES)
        try:
            sent = {"Tus-Resumable": TUS, "Authorization": f"Bearer {self.token}", **(headers or {})}
            connection.request(method, parts.path or "/", body=body, headers=sent)
            response = connection.getresponse()
            answer = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, answer
        finally:
            connection.close()


def _reason(body: bytes) -> str:
    """error.message of the API's JSON error body, or the body's text."""
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode(errors="replace").strip()[:500]
