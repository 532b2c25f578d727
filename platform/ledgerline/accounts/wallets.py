"""Wallet addresses: where an organisation's or a rights holder's on-chain royalties are paid."""

from typing import Any

from eth_utils import is_checksum_address, is_hex_address

from ledgerline.errors import LedgerlineError

ZERO_ADDRESS = "0x" + "00" * 20


def wallet_clean(value: Any) -> str:
    """An EIP-55 checksum address as given, or "" (no wallet) for null or "". Only the
    mixed-case checksum form is taken: a typo in it is caught here, never paid on chain."""
    if value is None or value == "":
        return ""
    text = value.strip() if isinstance(value, str) else ""
    if not is_hex_address(text):
        raise LedgerlineError(
            f"{str(value)[:60]!r} is not an Ethereum address (0x and 40 hex digits).",
            fields={"wallet": ["not an address"]},
        )
    if not is_checksum_address(text):
        raise LedgerlineError(
            f"{text} has no valid EIP-55 checksum: give the address in mixed case, as your wallet shows it.",
            fields={"wallet": ["no valid EIP-55 checksum"]},
        )
    if text == ZERO_ADDRESS:
        raise LedgerlineError(
            "The zero address burns what is sent to it: give your wallet's address.",
            fields={"wallet": ["zero address"]},
        )
    return text
