"""Uploads streamed to disk and hashed on the way, and refused whole if cut short.

Django hands each chunk of a multipart file part to HashingUploadHandler, which writes it
to a temporary file under var/tmp on a second thread and feeds the same bytes to SHA-256:
a 500 MB upload never sits in memory and is never read twice. CheckedMultiPartParser watches the end of
the body: a request that stops before the closing boundary is refused.
"""

from typing import Any, BinaryIO, cast

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, MultiPartParser

from ledgerline.errors import TooLarge
from ledgerline.provenance.hashing import HashingWriter


class HashedUpload(TemporaryUploadedFile):
    sha256: str


class HashingUploadHandler(FileUploadHandler):
    chunk_size = 1024 * 1024

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.upload = HashedUpload(
            self.file_name or "upload", self.content_type, 0, self.charset, self.content_type_extra
        )
        self.writer = HashingWriter(cast(BinaryIO, self.upload.file))

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if self.writer.size + len(raw_data) > settings.LEDGERLINE_MAX_UPLOAD_BYTES:
            self.upload_interrupted()
            raise TooLarge(
                f"{self.file_name}: larger than the {settings.LEDGERLINE_MAX_UPLOAD_BYTES} bytes allowed per file."
            )
        self.writer.write(raw_data)

    def file_complete(self, file_size: int) -> HashedUpload:
        self.upload.sha256, self.upload.size = self.writer.finish()
        self.upload.seek(0)
        return self.upload

    def upload_interrupted(self) -> None:
        if hasattr(self, "upload"):
            self.writer.abort()
            self.upload.close()


class _TailStream:
    """Passes reads through and keeps the last bytes, to see how the body ended."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.tail = b""

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.stream.read(size)
        self.tail = (self.tail + data)[-512:]
        return data


class CheckedMultiPartParser(MultiPartParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> DataAndFiles:
        tail = _TailStream(stream)
        result = super().parse(cast(Any, tail), media_type, parser_context)
        boundary = (media_type or "").partition("boundary=")[2].split(";")[0].strip().strip('"')
        if boundary and not tail.tail.rstrip(b"\r\n").endswith(b"--" + boundary.encode() + b"--"):
            for _name, uploads in result.files.lists():
                for upload in uploads:
                    upload.close()
            raise ParseError(
                "The upload was cut short: the request ended before its last part was complete. "
                "Nothing was kept; please upload again."
            )
        closing = b"--" + boundary.encode() + b"--"
        if not result.data and not result.files and tail.tail.strip() not in (b"", closing):
            # Bytes that hold no part at all: not a form whose fields were all left out.
            raise ParseError("The multipart body holds no parts: each field is a part that opens with the boundary.")
        return result
