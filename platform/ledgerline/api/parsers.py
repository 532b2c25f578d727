"""Request bodies the API reads."""

import io
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, cast

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import get_encoding  # type: ignore[attr-defined]  # newer than the stubs
from rest_framework.request import Request
from rest_framework.utils import json

from ledgerline.errors import TooLarge
from ledgerline_verify import bounded_json


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with two bounds: the body's size (DATA_UPLOAD_MAX_MEMORY_SIZE, as
    Django's own form parsing has) and its nesting (a body nested deeper than
    bounded_json.MAX_DEPTH is a 400; a deep enough one would otherwise overflow the C stack)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        # DRF's charset check: only text encodings, so a bz2_codec body cannot expand past the limit.
        encoding = get_encoding(parser_context or {})
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise TooLarge(f"A request body over {limit:,} bytes is not accepted here.")
        try:
            text = raw.decode(encoding)
            return bounded_json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except bounded_json.TooDeep as exc:
            raise ParseError(str(exc)) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


class SpooledBodyParser(parsers.BaseParser):
    """A file's body as it came (CSV, JSON lines), copied to a temporary file in 1 MiB pieces:
    read whole before the view locks anything, so a slow upload holds up no one, and in constant
    memory. A parser rather than the view reading the stream, so that what reads request.data
    first (the session's CSRF check) finds a body of a type it knows, not a 415."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
        body = tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR)  # noqa: SIM115  # the view closes it
        limit = settings.LEDGERLINE_MAX_UPLOAD_BYTES  # the uploads' limit: this runs before any permission
        while chunk := stream.read(1 << 20):
            body.write(chunk)
            if body.tell() > limit:
                body.close()
                raise TooLarge(f"A file over {limit:,} bytes is not accepted here.")
        body.seek(0)
        return body


def spooled_body_parsers(media_types: Sequence[str]) -> list[type[SpooledBodyParser]]:
    """One parser class per media type: DRF picks a parser by its one media_type."""
    return [type(f"SpooledBodyParser[{t}]", (SpooledBodyParser,), {"media_type": t}) for t in media_types]


def spooled_body(request: Request) -> IO[bytes]:
    """The spooled body of a request, or an empty one (DRF parses nothing when there is no body)."""
    data = request.data
    return cast(IO[bytes], data) if hasattr(data, "read") else io.BytesIO()
