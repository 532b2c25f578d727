"""The independent verifier: a track's chain of custody checked from the file, the chain and
IPFS alone, trusting only the Ledgerline contract's address (and through it the organisations'
public keys anchored there). No Django, no Ledgerline database.

    python -m ledgerline_verify FILE --rpc URL --ipfs URL --contract ADDRESS
"""

from ledgerline_verify.checks import Verifier
from ledgerline_verify.verdict import Check, Subject, Verdict

__all__ = ["Check", "Subject", "Verdict", "Verifier"]
