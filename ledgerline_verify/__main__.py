"""ledgerline-verify FILE --rpc URL --gateway URL [--contract ADDRESS]

Checks a track's chain of custody from the file, a chain node and IPFS alone: nothing of
Ledgerline's is asked, and only the contract address is trusted. Without --contract, the address
is the one the site names at /chain/ (beside its gateway), and the report says it came from there.
Exit status: 0 verified, 1 failed, 3 unknown (not registered, or a link could not be checked),
2 a usage error.
"""

import argparse
import json
import re
import sys
import urllib.parse
from pathlib import Path

import requests

from ledgerline_verify import bounded_json
from ledgerline_verify.chain import Chain
from ledgerline_verify.checks import Verifier
from ledgerline_verify.ipfs import Ipfs, gateway_blocks, rpc_blocks
from ledgerline_verify.report import EXIT, text_report
from ledgerline_verify.verdict import Subject


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ledgerline-verify", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", nargs="?", type=Path, help="the track: WAV, FLAC, MP3 or MIDI")
    parser.add_argument("--rpc", required=True, help="a JSON-RPC node of the chain, e.g. http://127.0.0.1:8545")
    parser.add_argument(
        "--contract", help="the Ledgerline contract's address, the one thing trusted (default: as the site names it)"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--ipfs", help="a Kubo RPC API, e.g. http://127.0.0.1:5001")
    source.add_argument("--gateway", help="an IPFS gateway that serves raw blocks (?format=raw)")
    parser.add_argument("--token", type=int, help="a token id (alone, or the work a MIDI file belongs to)")
    parser.add_argument("--hash", help="a content hash (SHA-256 of the released audio)")
    parser.add_argument("--manifest", type=Path, help="a signed manifest (manifest.json)")
    parser.add_argument(
        "--proof",
        type=Path,
        help="with FILE: a dataset version's inclusion proof of it (proof.json): is it registered training data?",
    )
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    args = parser.parse_args(argv)
    if not (args.file or args.token or args.hash or args.manifest):
        parser.error("name a FILE, or give --token, --hash or --manifest")
    if args.proof and not args.file:
        parser.error("--proof is the inclusion proof of a FILE: name the file")
    try:
        proof = bounded_json.loads(args.proof.read_text()) if args.proof else None
        if proof is not None and not isinstance(proof, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        parser.error(f"--proof {args.proof}: {exc}")
    try:
        subject = Subject(
            data=args.file.read_bytes() if args.file else None,
            token_id=args.token,
            content_sha256=args.hash,
            manifest=args.manifest.read_bytes() if args.manifest else None,
            name=args.file.name if args.file else "",
            proof=proof,
        )
    except OSError as exc:
        parser.error(str(exc))
    contract, named_by = args.contract, None
    if contract is None:
        named_by = site_of(args.gateway or args.rpc) + "/chain/"
        try:
            contract = contract_named(named_by)
        except ValueError as exc:
            parser.error(f"no --contract, and {exc}")
    ipfs = Ipfs(rpc_blocks(args.ipfs) if args.ipfs else gateway_blocks(args.gateway))
    verdict = Verifier(chain=Chain.connect(args.rpc, contract), ipfs=ipfs).verify(subject)
    report = verdict.to_json()
    if named_by:
        report["contract_named_by"] = named_by
        print(f"The contract address {contract} is the one {named_by} names: pin it with --contract.", file=sys.stderr)
    print(json.dumps(report, indent=2, default=str) if args.json else text_report(report))
    return EXIT[verdict.verdict]


def site_of(url: str) -> str:
    """The site's origin: http://host from http://host/ipfs or http://host/chain/rpc."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def contract_named(url: str) -> str:
    """The contract address a Ledgerline site names at /chain/."""
    try:
        response = requests.get(url, timeout=30)
        address = response.json().get("contract") if response.ok else None
    except (requests.RequestException, ValueError, AttributeError) as exc:
        raise ValueError(f"{url} does not name one: {exc}") from None
    if not (isinstance(address, str) and re.fullmatch(r"0x[0-9a-fA-F]{40}", address)):
        raise ValueError(f"{url} does not name one (it answered {response.status_code})")
    return address


if __name__ == "__main__":
    sys.exit(main())
