"""Folders and files that this user alone may read: the database, the chain's state, the keys.

Settings use this before Django is set up, so it imports nothing of Django.
"""

import contextlib
import os
import stat
from pathlib import Path


def private_dir(path: Path) -> Path:
    """``path``, made if missing, with no access for group or others."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    _tighten(path, 0o700)
    return path


def private_sqlite(path: Path) -> Path:
    """An SQLite database file with no access for group or others, made empty if missing.

    SQLite gives the -wal, -shm and -journal files it makes later the database file's mode, so
    making the database file ourselves, 0600, covers them; files left open by an older version
    are tightened here.
    """
    if not path.parent.exists():  # a folder of its own; one that exists (the repository, $HOME) is left as it is
        private_dir(path.parent)
    with contextlib.suppress(FileExistsError):  # an empty file is an empty database
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):
        _tighten(path.with_name(path.name + suffix), 0o600)
    return path


def _tighten(path: Path, allowed: int) -> None:
    # Only ever takes permissions away, and only from what this user owns: a folder the operator
    # made for the site and owns as another user is left as it is rather than failing the start.
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid == os.geteuid() and mode & ~allowed:
        path.chmod(mode & allowed)
