"""The state file: each file's upload URL and progress, so that a killed run resumes where it stopped."""

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Entry:
    """One file's upload: its URL, the highest offset ever sent (to count resent bytes), and the file once added."""

    url: str | None = None
    sent: int = 0
    file: str | None = None


def entry_key(server: str, dataset: str, path: str, size: int, mtime_ns: int) -> str:
    """The key of a file's entry: a changed file (size or mtime) or another server or dataset starts afresh."""
    return json.dumps([server.rstrip("/"), dataset, path, size, mtime_ns])


def default_state_path() -> Path:
    """~/.cache/ledgerline-upload/state.json, or under $XDG_CACHE_HOME when set."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ledgerline-upload" / "state.json"


class StateFile:
    """Entries kept in a JSON file, rewritten atomically on each change so that a kill never leaves it torn."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}
        if path.exists():
            raw = json.loads(path.read_text() or "{}")
            self._entries = {key: Entry(**value) for key, value in raw.items()}

    def get(self, key: str) -> Entry:
        """The entry for key (a fresh one when the file was never seen)."""
        with self._lock:
            entry = self._entries.get(key, Entry())
            return Entry(**asdict(entry))

    def put(self, key: str, entry: Entry) -> None:
        """Records entry and writes the file (to a temporary name, then renamed over the old one)."""
        with self._lock:
            self._entries[key] = Entry(**asdict(entry))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps({k: asdict(v) for k, v in self._entries.items()}, indent=1))
            os.replace(tmp, self.path)
