"""python -m ledgerline_verify FILE --rpc URL --ipfs URL --contract ADDRESS

Checks a track's chain of custody from the file, a chain node and an IPFS node alone: nothing of
Ledgerline's is asked, and only the contract address is trusted. Exit status: 0 verified,
1 failed, 3 unknown (not registered, or a link could not be checked), 2 a usage error.
"""

import argparse
import json
import sys
from pathlib import Path

from ledgerline_verify.chain import Chain
from ledgerline_verify.checks import Verifier
from ledgerline_verify.ipfs import Ipfs, gateway_blocks, rpc_blocks
from ledgerline_verify.report import EXIT, text_report
from ledgerline_verify.verdict import Subject


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ledgerline_verify", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", nargs="?", type=Path, help="the track: WAV, FLAC, MP3 or MIDI")
    parser.add_argument("--rpc", required=True, help="a JSON-RPC node of the chain, e.g. http://127.0.0.1:8545")
    parser.add_argument("--contract", required=True, help="the Ledgerline contract's address: the one thing trusted")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--ipfs", help="a Kubo RPC API, e.g. http://127.0.0.1:5001")
    source.add_argument("--gateway", help="an IPFS gateway that serves raw blocks (?format=raw)")
    parser.add_argument("--token", type=int, help="a token id (alone, or the work a MIDI file belongs to)")
    parser.add_argument("--hash", help="a content hash (SHA-256 of the released audio)")
    parser.add_argument("--manifest", type=Path, help="a signed manifest (manifest.json)")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    args = parser.parse_args(argv)
    if not (args.file or args.token or args.hash or args.manifest):
        parser.error("name a FILE, or give --token, --hash or --manifest")
    try:
        subject = Subject(
            data=args.file.read_bytes() if args.file else None,
            token_id=args.token,
            content_sha256=args.hash,
            manifest=args.manifest.read_bytes() if args.manifest else None,
            name=args.file.name if args.file else "",
        )
    except OSError as exc:
        parser.error(str(exc))
    ipfs = Ipfs(rpc_blocks(args.ipfs) if args.ipfs else gateway_blocks(args.gateway))
    verdict = Verifier(chain=Chain.connect(args.rpc, args.contract), ipfs=ipfs).verify(subject)
    report = verdict.to_json()
    print(json.dumps(report, indent=2, default=str) if args.json else text_report(report))
    return EXIT[verdict.verdict]


if __name__ == "__main__":
    sys.exit(main())
