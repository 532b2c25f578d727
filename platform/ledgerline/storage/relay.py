"""A stream's bytes passed on, chunk by chunk, through stages (hash it, write it, check it), each
stage on a thread of its own, so that storing a stream costs about what its slowest stage costs,
not their sum.

Reading (a socket's recv_into, a file's readinto), SHA-256 in OpenSSL and file writes all release
the GIL: on two cores an upload is received, hashed and written at once. Chunks go round a few
reused buffers, so memory stays flat whatever the stream's size. A stream that fits in one chunk
goes through the stages on the caller's thread (no thread is started for a small file).
"""

import mmap
import queue
import threading
from collections.abc import Callable, Sequence

CHUNK = 4 * 1024 * 1024
POOL = 8  # chunk buffers a process keeps for the next streams: 32 MiB

_pool: list[mmap.mmap] = []
_pool_lock = threading.Lock()


def _buffer(size: int) -> bytearray | mmap.mmap:
    """A buffer of ``size`` bytes: a chunk's comes from the pool, page-aligned (an mmap), so that a
    direct writer writes it as it is (storage.direct). Memory a process has not touched for a while
    can be slow to touch again (on a VM the host backs each page anew): reusing the chunks avoids it."""
    if size != CHUNK:
        return bytearray(size)
    with _pool_lock:
        if _pool:
            return _pool.pop()
    return mmap.mmap(-1, CHUNK, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)  # a forked child's own


def _release(buffers: list[bytearray | mmap.mmap]) -> None:
    with _pool_lock:
        for buffer in buffers:
            if isinstance(buffer, mmap.mmap) and len(_pool) < POOL:
                _pool.append(buffer)


Stage = Callable[[memoryview], object]


class _Source:
    """The stream, read a chunk at a time, up to its size if it has one."""

    def __init__(self, readinto: Callable[[memoryview], int], size: int | None) -> None:
        self.readinto, self.remaining, self.total = readinto, size, 0
        self.stopped: Callable[[], bool] = lambda: False

    def chunk(self, buffer: bytearray | mmap.mmap) -> memoryview:
        """``buffer`` filled as far as the stream goes: empty once it has ended."""
        view = memoryview(buffer)
        if self.remaining is not None:
            view = view[: self.remaining]
        filled = 0
        while filled < len(view) and not self.stopped() and (count := self.readinto(view[filled:])):
            filled += count
        self.total += filled
        if self.remaining is not None:
            self.remaining -= filled
        return view[:filled]


def relay(
    readinto: Callable[[memoryview], int],
    stages: Sequence[Stage],
    *,
    size: int | None = None,
    expected: int | None = None,
    chunk: int = CHUNK,
) -> int:
    """Read ``size`` bytes (all of the stream when None) with ``readinto(view)`` (0 at its end) and
    hand each chunk, in order, to every stage in turn; the number of bytes read (fewer than ``size``
    when the stream ended early). A stage's exception stops the reading and is raised here, once
    every chunk in flight has left the stages (which of them the other stages saw is then undefined:
    the caller throws the stream away). A stage must not keep the view it is given.

    ``expected``: how long the stream probably is (a file's size), so that a small one is read
    into a buffer its size rather than a chunk's (zeroing megabytes costs a small file more than
    the rest of its copy)."""
    source = _Source(readinto, size)
    likely = min(x for x in (size, None if expected is None else expected + 1, chunk) if x is not None)
    buffers = [_buffer(likely)]  # one more than expected: the end is seen in the first read
    try:
        first = source.chunk(buffers[0])
        if len(first) < likely or source.remaining == 0:  # the whole stream in one chunk
            if first:
                for stage in stages:
                    stage(first)
        else:
            buffers += [_buffer(chunk) for _ in stages]
            _relayed(source, first, buffers[1:], stages)
    finally:
        _release(buffers)
    return source.total


def _relayed(source: _Source, first: memoryview, spare: list[bytearray | mmap.mmap], stages: Sequence[Stage]) -> None:
    """A stream longer than a chunk, each stage on a thread of its own, chunks going round the
    ``spare`` buffers and the one ``first`` is a view of."""
    inboxes: list[queue.SimpleQueue[memoryview | None]] = [queue.SimpleQueue() for _ in stages]
    free: queue.SimpleQueue[bytearray | mmap.mmap] = queue.SimpleQueue()
    failures: list[BaseException] = []

    def run(index: int) -> None:
        stage, inbox = stages[index], inboxes[index]
        while (view := inbox.get()) is not None:
            if not failures:
                try:
                    stage(view)
                except BaseException as exc:
                    failures.append(exc)
            if index + 1 < len(stages):
                inboxes[index + 1].put(view)
            else:
                free.put(view.obj)  # type: ignore[arg-type]  # the buffer it is a view of
        if index + 1 < len(stages):
            inboxes[index + 1].put(None)

    for buffer in spare:
        free.put(buffer)
    source.stopped = lambda: bool(failures)  # a refusal stops the reading at its next piece
    started: list[threading.Thread] = []
    try:
        for index in range(len(stages)):
            started.append(threading.Thread(target=run, args=(index,), daemon=True))
            started[-1].start()
        view = first
        while view and not failures:
            inboxes[0].put(view)
            if source.remaining == 0:
                break
            view = source.chunk(free.get())
    except BaseException:
        if failures:
            raise failures[0] from None  # the stage's refusal is what the caller must hear
        raise
    finally:
        if len(started) == len(stages):
            inboxes[0].put(None)  # passed down the stages, after every chunk sent before it
        else:
            for inbox in inboxes[: len(started)]:
                inbox.put(None)  # a thread failed to start before any chunk was sent: the others just end
        _join(started)
    if failures:
        raise failures[0]


def _join(threads: list[threading.Thread]) -> None:
    """Wait for every thread, even through an interruption: a stage must not outlive the
    buffers and files the caller frees next. The interruption is raised after."""
    interrupted: BaseException | None = None
    for thread in threads:
        while thread.is_alive():
            try:
                thread.join()
            except BaseException as exc:
                interrupted = exc
    if interrupted is not None:
        raise interrupted
