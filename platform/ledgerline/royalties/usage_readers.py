"""Usage reports read line by line as they arrive: byte chunks as a stream or as lines, and the
readers for JSON lines and CSV. Each reader yields (line number, values or the reason the line
could not be read), so one bad line is reported by its number and the rest are still read."""

import csv
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from ledgerline_verify import bounded_json

# The fields of a usage line (a DDEX DSR sales/usage line); a CSV header may name only these.
FIELDS = (
    "event_id",
    "isrc",
    "token_id",
    "content_sha256",
    "service",
    "territory",
    "usage_type",
    "units",
    "revenue",
    "currency",
    "period_start",
    "period_end",
    "kind",
    "corrects",
)


def line_clean(values: dict[str, Any]) -> dict[str, Any] | str:
    """A JSON line's values with the spaces around its texts taken off, or why they cannot be used."""
    for name, value in values.items():
        if isinstance(value, (list, dict)):
            return f"{name} must be a single value, not {value!r}"
    return {name: value.strip() if type(value) is str else value for name, value in values.items()}


def lines_jsonl(stream: Iterable[bytes]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, values or the reason they could not be read), blank lines skipped."""
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            values = bounded_json.loads(raw, parse_float=Decimal)
        except (UnicodeDecodeError, ValueError) as exc:
            yield number, f"not a JSON object: {exc}"
            continue
        yield number, line_clean(values) if isinstance(values, dict) else "not a JSON object"


def lines_csv(stream: Iterable[bytes]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """CSV with a header row naming the fields (line 1); the lines are numbered as in the file."""
    text = io.TextIOWrapper(io.BufferedReader(_Readable(stream)), encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        return
    except (UnicodeDecodeError, csv.Error) as exc:
        yield 1, f"the header could not be read: {exc}"
        return
    unknown = [name for name in header if name not in FIELDS]
    if unknown:
        yield 1, f"unknown column {unknown[0]!r}; the columns are {', '.join(FIELDS)}"
        return
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except (UnicodeDecodeError, csv.Error) as exc:
            yield reader.line_num, f"the line could not be read: {exc}"
            continue
        if not cells or cells == [""]:
            continue
        if len(cells) != len(header):
            yield reader.line_num, f"{len(cells)} cells where the header has {len(header)}"
            continue
        yield reader.line_num, dict(zip(header, [cell.strip() for cell in cells], strict=True))


def bytes_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Byte chunks (a request body as it arrives) as lines."""
    return iter(io.BufferedReader(_Readable(chunks), buffer_size=1 << 20))


class _Readable(io.RawIOBase):
    """An iterable of byte chunks as a binary stream, for TextIOWrapper."""

    def __init__(self, chunks: Iterable[bytes]):
        self.chunks = iter(chunks)
        self.rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.rest:
            self.rest = next(self.chunks, b"")
            if not self.rest:
                return 0
        size = min(len(buffer), len(self.rest))
        buffer[:size], self.rest = self.rest[:size], self.rest[size:]
        return size
