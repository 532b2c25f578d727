"""Why a contract call reverted, the same way on every backend.

A real node answers with JSON-RPC error data that web3 raises as ContractCustomError;
the in-process EVM (eth-tester with py-evm) raises its own exceptions around the raw
revert bytes. Both come out here as the custom error's name.
"""

import ast
from typing import Any

from eth_utils import keccak
from web3.exceptions import ContractCustomError


def revert_data(exc: BaseException) -> bytes | None:
    """The raw revert bytes carried by ``exc`` or by anything in its chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ContractCustomError) and isinstance(seen.data, str):
            return bytes.fromhex(seen.data.removeprefix("0x"))
        if type(seen).__name__ in ("Revert", "TransactionFailed") and seen.args:
            data = _bytes_of(seen.args[0])
            if data is not None:
                return data
        seen = seen.__cause__ or seen.__context__
    return None


def _bytes_of(arg: Any) -> bytes | None:
    if isinstance(arg, bytes):
        return arg
    # eth-tester 0.14 passes the revert bytes on as their repr: "execution reverted: b'...'".
    if isinstance(arg, str):
        text = arg.removeprefix("execution reverted: ")
        if text.startswith(("b'", 'b"')):
            value = ast.literal_eval(text)
            return value if isinstance(value, bytes) else None
    return None


def error_selectors(abi: list[dict[str, Any]]) -> dict[bytes, str]:
    return {
        keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})")[:4]: e["name"]
        for e in abi
        if e["type"] == "error"
    }


def revert_error(abi: list[dict[str, Any]], exc: BaseException) -> str | None:
    """The name of the custom error ``exc`` reverted with, or None if it is not one of the ABI's."""
    data = revert_data(exc)
    if data is None or len(data) < 4:
        return None
    return error_selectors(abi).get(data[:4])
