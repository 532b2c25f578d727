"""ledgerline-upload FOLDER --dataset ID --token ll_... [--url URL] [--jobs 4] [--tags "..."]

Uploads every MIDI, WAV, FLAC and MP3 file under FOLDER to a dataset through Ledgerline's
resumable (tus 1.0) endpoint, several at a time; a file's path relative to FOLDER is its path in
the dataset. Each upload's URL is recorded in the state file: after a kill or a dropped
connection, the same command goes on from what the server already has, and skips finished files.
Exit status: 0 every file added (or added before), 1 a file was refused or could not be sent
(the others are still added), 2 a usage error.
"""

import argparse
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ledgerline_upload.client import Outcome, Uploader
from ledgerline_upload.state import StateFile, default_state_path

MEDIA_SUFFIXES = {".mid", ".midi", ".wav", ".flac", ".mp3"}


def media_paths(folder: Path) -> list[str]:
    """The media files under folder, as sorted POSIX paths relative to it (hidden files left out)."""
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if (
            path.is_file()
            and path.suffix.lower() in MEDIA_SUFFIXES
            and not any(p.startswith(".") for p in relative.parts)
        ):
            found.append(relative.as_posix())
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ledgerline-upload", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("--dataset", required=True, help="the dataset's id (uuid)")
    parser.add_argument("--token", default=os.environ.get("LEDGERLINE_TOKEN"), help="API token (or $LEDGERLINE_TOKEN)")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the site (default %(default)s)")
    parser.add_argument("--jobs", type=int, default=4, help="files sent at once (default %(default)s)")
    parser.add_argument("--tags", default="", help='tags for every file, e.g. "organ, chorale"')
    parser.add_argument("--chunk-mib", type=int, default=64, help="bytes per request, in MiB (default %(default)s)")
    parser.add_argument("--state", type=Path, default=None, help=f"state file (default {default_state_path()})")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token (or $LEDGERLINE_TOKEN) is required")
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    if args.jobs < 1 or args.chunk_mib < 1:
        parser.error("--jobs and --chunk-mib are 1 or more")
    lock = threading.Lock()

    def say(line: str) -> None:
        with lock:
            print(line, flush=True)

    uploader = Uploader(
        server=args.url,
        token=args.token,
        dataset=args.dataset,
        state=StateFile(args.state or default_state_path()),
        chunk_bytes=args.chunk_mib << 20,
        tags=args.tags,
        say=say,
    )
    paths = media_paths(args.folder)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        outcomes = list(pool.map(lambda relative: uploader.upload(args.folder, relative), paths))
    print(summary(outcomes))
    return 1 if any(o.error for o in outcomes) else 0


def summary(outcomes: list[Outcome]) -> str:
    """The run in a few lines: files added, skipped and refused, bytes sent and bytes sent again."""
    added = sum(1 for o in outcomes if o.file and not o.skipped)
    skipped = sum(1 for o in outcomes if o.skipped)
    refused = [o for o in outcomes if o.error]
    lines = [
        f"files added: {added}, already there: {skipped}, not added: {len(refused)}",
        f"bytes sent: {sum(o.sent for o in outcomes)}, bytes resent: {sum(o.resent for o in outcomes)}",
    ]
    lines += [f"not added: {o.path}: {o.error}" for o in refused]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
