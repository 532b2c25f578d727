"""storage.relay: every byte of a stream reaches every stage once and in order, whatever the
stream's length against the chunk's; a stage that fails stops the reading and is raised."""

import hashlib
import io
import threading

import pytest

from ledgerline.storage.relay import relay

CHUNK = 1024


class Trickle(io.BytesIO):
    """A stream that hands over at most 100 bytes a read, as a socket may."""

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        return super().readinto(buffer[:100])


@pytest.mark.parametrize("length", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 7 * CHUNK + 13])
@pytest.mark.parametrize("size", [None, "all", "less"])
def test_every_byte_reaches_every_stage_in_order(length: int, size: str | None) -> None:
    data = bytes(i * 31 % 251 for i in range(length))
    wanted = {None: None, "all": length, "less": max(length - 5, 0)}[size]
    expected = data if wanted is None else data[:wanted]
    digest, copy, threads = hashlib.sha256(), bytearray(), set()

    def write(view: memoryview) -> None:
        copy.extend(view)
        threads.add(threading.get_ident())

    # The caller's thread does it all when the stream is seen to end in its first chunk.
    inline = len(expected) < CHUNK if wanted is None else len(expected) <= CHUNK

    read = relay(Trickle(data).readinto, [digest.update, write], size=wanted, chunk=CHUNK)
    assert read == len(expected)
    assert bytes(copy) == expected
    assert digest.hexdigest() == hashlib.sha256(expected).hexdigest()
    if expected:
        assert (threads == {threading.get_ident()}) is inline


def test_a_stream_that_ends_early_is_read_to_its_end() -> None:
    copy = bytearray()
    assert relay(io.BytesIO(b"x" * 5000).readinto, [copy.extend], size=9000, chunk=CHUNK) == 5000
    assert copy == b"x" * 5000


def test_a_failing_stage_stops_the_reading_and_is_raised() -> None:
    """(What the other stages saw of the stream is then undefined: the caller discards it all.)"""
    source = io.BytesIO(bytes(50 * CHUNK))
    seen = []

    def refuse_the_third(view: memoryview) -> None:
        seen.append(len(view))
        if len(seen) == 3:
            raise ValueError("not media")

    with pytest.raises(ValueError, match="not media"):
        relay(source.readinto, [refuse_the_third, bytearray().extend], chunk=CHUNK)
    assert len(seen) == 3  # no chunk after it was handed to the stage
    assert source.tell() <= 6 * CHUNK  # and the reading stopped, a few chunks on at most


def test_a_refusal_of_the_first_chunk_stops_the_reading_within_the_next() -> None:
    """As the tus server's sniff refuses a file that is no media: the rest is not waited for."""
    source = Trickle(bytes(50 * CHUNK))

    def refuse(view: memoryview) -> None:
        raise ValueError("not media")

    with pytest.raises(ValueError, match="not media"):
        relay(source.readinto, [refuse, bytearray().extend], chunk=CHUNK)
    assert source.tell() <= 3 * CHUNK  # no more than the relay's three buffers hold, of fifty chunks
