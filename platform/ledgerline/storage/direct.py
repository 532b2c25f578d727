"""Appending a long stream to a file straight to the disk (O_DIRECT), past the page cache.

An upload of a catalog is hundreds of gigabytes written once and seldom read soon: through the
page cache it would evict what the site reads, and the writer would wait on the kernel's dirty
page limits (on a VM, on pages the host must first back) rather than on the disk. O_DIRECT
needs block-aligned buffers, offsets and lengths, so bytes are gathered in an aligned buffer and
written in whole blocks; what is not a whole block (the first bytes up to a block boundary, the
last ones) goes through the page cache as usual. Where the filesystem refuses O_DIRECT (tmpfs),
everything does.
"""

import ctypes
import mmap
import os

BLOCK = 4096


def _page_aligned(view: memoryview) -> bool:
    """Whether a buffer starts on a page boundary (an mmap's does), as O_DIRECT wants it."""
    if view.readonly or not view.contiguous:
        return False
    return ctypes.addressof(ctypes.c_char.from_buffer(view)) % mmap.PAGESIZE == 0


class DirectAppender:
    """Writes what it is given at ``offset`` and after, in order; ``close()`` writes the rest.

    Not thread-safe: one writer at a time (its caller may run it on a thread of its own).
    """

    def __init__(self, path: str | os.PathLike[str], offset: int, *, buffer_size: int = 8 * 1024 * 1024) -> None:
        self.position = offset  # where the buffer's first byte goes
        self._plain = os.open(path, os.O_WRONLY)
        try:
            self._direct: int | None = os.open(path, os.O_WRONLY | getattr(os, "O_DIRECT", 0))
        except OSError:
            self._direct = None
        if not getattr(os, "O_DIRECT", 0):
            self._direct = None
        self._buffer = mmap.mmap(-1, buffer_size + BLOCK)  # page-aligned, as O_DIRECT wants
        self._size = buffer_size
        self._held = 0

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        if self._direct is None:
            self._write_plain(view)
            return
        if self.position % BLOCK and not self._held:
            head = min(len(view), BLOCK - self.position % BLOCK)  # up to the next block boundary
            self._write_plain(view[:head])
            view = view[head:]
        if not self._held and len(view) >= BLOCK and _page_aligned(view):
            whole = len(view) - len(view) % BLOCK  # from the caller's buffer as it is: no copy
            self._write_direct(view[:whole])
            view = view[whole:]
        while view:
            taken = min(len(view), self._size - self._held)
            self._buffer[self._held : self._held + taken] = view[:taken]
            self._held += taken
            view = view[taken:]
            if self._held == self._size:
                self._flush_blocks()

    def _flush_blocks(self) -> None:
        whole = self._held - self._held % BLOCK
        if not whole:
            return
        with memoryview(self._buffer) as buffer:
            self._write_direct(buffer[:whole])
        rest = self._held - whole
        self._buffer.move(0, whole, rest)
        self._held = rest

    def _write_direct(self, blocks: memoryview) -> None:
        """Whole blocks, from a page-aligned buffer, at the (block-aligned) position."""
        assert self._direct is not None
        if os.pwrite(self._direct, blocks, self.position) != len(blocks):
            raise OSError(f"a direct write of {len(blocks)} bytes was cut short")
        self.position += len(blocks)

    def _write_plain(self, view: memoryview) -> None:
        while view:
            written = os.pwrite(self._plain, view, self.position)
            self.position += written
            view = view[written:]

    def flush(self) -> None:
        """Write what is held (whole blocks directly, the rest through the page cache): every
        byte given is then in the file."""
        if self._held:
            self._flush_blocks()
            with memoryview(self._buffer) as buffer:
                tail, self._held = buffer[: self._held].tobytes(), 0
            self._write_plain(memoryview(tail))

    def close(self) -> None:
        try:
            self.flush()
        finally:
            os.close(self._plain)
            if self._direct is not None:
                os.close(self._direct)
            self._buffer.close()
