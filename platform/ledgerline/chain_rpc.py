"""The embedded chain, readable from outside: a read-only JSON-RPC endpoint (/chain/rpc) and what
an auditor needs to point a verifier at this deployment (/chain/).

The embedded default's chain is py-evm inside the site's processes; without this, nothing could
read it but the platform, and an auditor would take every chain link on its word. The endpoint
serves the read methods a verifier and web3.py use, in JSON-RPC's own wire format, and nothing
that writes or signs (there is no account behind it to sign with). A deployment on a real node
serves no chain of its own here: /chain/ names that node (CHAIN_PUBLIC_RPC_URL) instead.

An entry point beside the API and the IPFS gateway: it reads the ledger, and the contract as the
verifier reads it (audit), both below it.
"""

import functools
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from eth_tester.exceptions import BlockNotFound as EthTesterBlockNotFound
from eth_tester.exceptions import TransactionFailed
from eth_tester.exceptions import ValidationError as EthTesterValidationError
from eth_typing import ChecksumAddress
from eth_utils import ValidationError as EthValidationError
from eth_utils import is_hex, is_hex_address
from hexbytes import HexBytes
from rest_framework.throttling import SimpleRateThrottle
from web3 import Web3
from web3.exceptions import BlockNotFound, TransactionNotFound, Web3Exception

from ledgerline.audit.services import platform_chain
from ledgerline.errors import LedgerlineError
from ledgerline.ledger.client import account_load, web3_connect
from ledgerline.sites import site_url
from ledgerline_verify import bounded_json
from ledgerline_verify.chain import ChainUnreachable
from ledgerline_verify.credentials import trust_settings

# The methods served: what `ledgerline_verify` and web3.py's reads need. Nothing that sends,
# signs, mines or filters with server-side state.
METHODS = (
    "eth_chainId",
    "net_version",
    "eth_blockNumber",
    "eth_getBlockByNumber",
    "eth_getCode",
    "eth_call",
    "eth_getLogs",
    "eth_getTransactionReceipt",
    "eth_getTransactionByHash",
)
MAX_BODY = 256 * 1024  # a request body: a batch of calls is a few kilobytes
MAX_BATCH = 100
MAX_LOGS = 10_000  # log entries one HTTP request may return, all its calls together (as public nodes cap them)
# An eth_call runs on the site's CPU while it holds the chain's lock: bounded well below a
# block's 30M, and far above what the contract's views take (a few hundred thousand at most).
CALL_GAS = 10_000_000
BLOCK_TAGS = ("latest", "earliest", "pending", "safe", "finalized")

# How a call the backend cannot run comes back: web3.py's errors (a revert: ContractLogicError),
# eth-tester's (its input checks, a failed call), py-evm's and the codecs' (ValueError and kin).
REFUSED = (
    Web3Exception,
    EthTesterValidationError,
    EthTesterBlockNotFound,
    TransactionFailed,
    EthValidationError,
    ValueError,
    TypeError,
    LookupError,
)

# JSON-RPC 2.0's error codes.
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, SERVER_ERROR = -32700, -32600, -32601, -32602, -32000
LIMIT_EXCEEDED = -32005  # EIP-1474's "limit exceeded"


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class ChainRpcThrottle(SimpleRateThrottle):
    """Calls per client address (NUM_PROXIES decides which, as for the API's throttles), each call
    of a batch counted: a verification takes a few dozen, so the default leaves room for many an
    hour and none for a flood."""

    scope = "chain_rpc"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_calls(self, request: HttpRequest, calls: int) -> bool:
        """SimpleRateThrottle.allow_request, for ``calls`` calls at once."""
        allowed, duration = self.parse_rate(self.rate)
        assert allowed is not None and duration is not None  # "chain_rpc" has a rate (settings)
        self.key = self.get_cache_key(request, None)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - duration:
            self.history.pop()
        if len(self.history) + calls > allowed:
            return False
        self.history[:0] = [self.now] * calls
        self.cache.set(self.key, self.history, duration)
        return True


def _web3() -> Web3:
    return _embedded(str(settings.CHAIN_STATE_DIR))


@functools.lru_cache(maxsize=4)
def _embedded(state_dir: str) -> Web3:
    """The embedded chain as the platform connects to it (web3_connect), built once per process
    and chain folder (``state_dir``, the cache's key): its provider keeps a connection per
    thread and its own lock."""
    return web3_connect(account_load())


def _wire(value: Any) -> Any:
    """web3.py's Python values back into JSON-RPC's: quantities and data as 0x hex."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, (bytes, bytearray, HexBytes)):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    return str(value)


def _block(value: Any) -> Any:  # a tag or a number, as web3's block parameters take it
    if value in BLOCK_TAGS:
        return str(value)
    if isinstance(value, str) and value.startswith("0x") and 2 < len(value) <= 18 and is_hex(value):
        return int(value, 16)
    raise RpcError(INVALID_PARAMS, f"{value!r} is not a block: a 0x quantity or one of {', '.join(BLOCK_TAGS)}")


def _quantity(value: Any) -> int:
    if not (isinstance(value, str) and value.startswith("0x") and 2 < len(value) <= 18 and is_hex(value)):
        raise RpcError(INVALID_PARAMS, f"{value!r} is not a quantity (0x and at most 16 hex digits)")
    return int(value, 16)


def _address(value: Any) -> ChecksumAddress:
    if not (isinstance(value, str) and is_hex_address(value)):
        raise RpcError(INVALID_PARAMS, f"{value!r} is not an address (0x and 40 hex digits)")
    return Web3.to_checksum_address(value)


def _hash(value: Any) -> str:
    if not (isinstance(value, str) and value.startswith("0x") and len(value) == 66 and is_hex(value)):
        raise RpcError(INVALID_PARAMS, f"{value!r} is not a hash (0x and 64 hex digits)")
    return value


def _data(value: Any) -> str:
    if not (isinstance(value, str) and value.startswith("0x") and len(value) % 2 == 0 and is_hex(value)):
        raise RpcError(INVALID_PARAMS, f"{value!r} is not data (0x and an even number of hex digits)")
    return value


def _params(params: Any, least: int, most: int) -> list[Any]:
    if not isinstance(params, list) or not least <= len(params) <= most:
        counted = f"{least}" if least == most else f"{least} to {most}"
        raise RpcError(INVALID_PARAMS, f"this method takes a list of {counted} parameters")
    return params


def _log_filter(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RpcError(INVALID_PARAMS, "eth_getLogs takes one filter object")
    unknown = set(value) - {"address", "fromBlock", "toBlock", "topics", "blockHash"}
    if unknown:
        raise RpcError(INVALID_PARAMS, f"a log filter has no field {sorted(unknown)[0]!r}")
    found: dict[str, Any] = {}
    if "address" in value:
        addresses = value["address"] if isinstance(value["address"], list) else [value["address"]]
        found["address"] = [_address(a) for a in addresses]
    for key in ("fromBlock", "toBlock"):
        if key in value:
            found[key] = _block(value[key])
    if "blockHash" in value:
        found["blockHash"] = _hash(value["blockHash"])
    if "topics" in value:
        topics = value["topics"]
        if not isinstance(topics, list) or len(topics) > 4:
            raise RpcError(INVALID_PARAMS, "topics is a list of at most 4 entries")
        found["topics"] = [
            None if t is None else [_hash(x) for x in t] if isinstance(t, list) else _hash(t) for t in topics
        ]
    return found


def _call(w3: Web3, params: Any) -> str:
    tx, *rest = _params(params, 1, 2)
    if not isinstance(tx, dict) or "to" not in tx:
        raise RpcError(
            INVALID_PARAMS, "eth_call takes a call object with `to`: only contracts already on chain run here"
        )
    unknown = set(tx) - {"to", "from", "data", "input", "gas", "value"}
    if unknown:
        raise RpcError(INVALID_PARAMS, f"a call object has no field {sorted(unknown)[0]!r} here")
    call: dict[str, Any] = {"to": _address(tx["to"]), "gas": CALL_GAS, "value": 0}
    if not w3.eth.get_code(call["to"]):  # a precompile (ecpairing: a minute of pure Python) or an account
        raise RpcError(INVALID_PARAMS, f"{call['to']} holds no contract: only contracts on chain are called here")
    if "from" in tx:
        call["from"] = _address(tx["from"])
    if tx.get("data", tx.get("input")) is not None:
        call["data"] = _data(tx.get("data", tx.get("input")))
    if "gas" in tx:
        call["gas"] = min(_quantity(tx["gas"]), CALL_GAS)
    if "value" in tx and _quantity(tx["value"]) != 0:
        raise RpcError(INVALID_PARAMS, "a call here sends no value: a view reads, it is paid nothing")
    return "0x" + bytes(w3.eth.call(call, _block(rest[0]) if rest else "latest")).hex()  # type: ignore[arg-type]


@dataclass
class Budget:
    """What one HTTP request may still take, all its calls together."""

    logs: int = field(default_factory=lambda: MAX_LOGS)


def answer(method: str, params: Any, budget: Budget) -> Any:
    """One call's result, in JSON-RPC's wire format."""
    if method not in METHODS:
        raise RpcError(
            METHOD_NOT_FOUND, f"{method!r} is not served: this endpoint reads the chain only ({', '.join(METHODS)})"
        )
    w3 = _web3()
    if method == "eth_chainId":
        _params(params or [], 0, 0)
        return hex(w3.eth.chain_id)
    if method == "net_version":
        _params(params or [], 0, 0)
        return str(w3.eth.chain_id)
    if method == "eth_blockNumber":
        _params(params or [], 0, 0)
        return hex(w3.eth.block_number)
    if method == "eth_getBlockByNumber":
        block, full = _params(params, 2, 2)
        try:
            return _wire(w3.eth.get_block(_block(block), full_transactions=bool(full)))
        except BlockNotFound:
            return None
    if method == "eth_getCode":
        address, *block = _params(params, 1, 2)
        return _wire(w3.eth.get_code(_address(address), _block(block[0]) if block else "latest"))
    if method == "eth_call":
        return _call(w3, params)
    if method == "eth_getLogs":
        (log_filter,) = _params(params, 1, 1)
        logs = w3.eth.get_logs(_log_filter(log_filter))  # type: ignore[arg-type]
        if len(logs) > budget.logs:
            raise RpcError(LIMIT_EXCEEDED, f"more than {MAX_LOGS:,} log entries in one request: narrow the blocks")
        budget.logs -= len(logs)
        return _wire(logs)
    (tx_hash,) = _params(params, 1, 1)
    try:
        if method == "eth_getTransactionReceipt":
            return _wire(w3.eth.get_transaction_receipt(_hash(tx_hash)))  # type: ignore[arg-type]
        return _wire(w3.eth.get_transaction(_hash(tx_hash)))  # type: ignore[arg-type]
    except TransactionNotFound:
        return None


def _one(request: Any, budget: Budget) -> dict[str, Any]:
    if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or not isinstance(request.get("method"), str):
        return _error(None, INVALID_REQUEST, "a request is an object with jsonrpc '2.0', a method and params")
    ident = request.get("id")
    if not isinstance(ident, (str, int, type(None))) or isinstance(ident, bool):
        return _error(None, INVALID_REQUEST, "an id is a string, a number or null")
    try:
        return {"jsonrpc": "2.0", "id": ident, "result": answer(request["method"], request.get("params", []), budget)}
    except RpcError as exc:
        return _error(ident, exc.code, exc.message)
    except REFUSED as exc:  # what web3.py, eth-tester and py-evm say of a call they cannot run: a revert...
        return _error(ident, SERVER_ERROR, f"the chain refuses this call: {exc}")


def _error(ident: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": message}}


def _rpc_response(payload: Any, status: int = 200) -> JsonResponse:
    return JsonResponse(payload, status=status, safe=False)


@csrf_exempt  # no session, no cookie: nothing here acts for anyone
def rpc(request: HttpRequest) -> HttpResponse:
    if settings.CHAIN_RPC_URL:
        public = settings.CHAIN_PUBLIC_RPC_URL
        where = f"its node is {public}" if public else "ask its operator for the node's address"
        return _rpc_response(
            _error(None, METHOD_NOT_FOUND, f"This deployment's chain is a node of its own: {where}."), 404
        )
    if request.method != "POST":
        response = _rpc_response(_error(None, INVALID_REQUEST, "JSON-RPC is sent with POST."), 405)
        response["Allow"] = "POST"
        return response
    throttle = ChainRpcThrottle()
    if not throttle.allow_calls(request, 1):  # a flood of bad bodies costs its sender too
        return _too_many(throttle)
    body = request.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return _rpc_response(_error(None, INVALID_REQUEST, f"A request over {MAX_BODY:,} bytes is not served."), 413)
    try:
        payload = bounded_json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        return _rpc_response(_error(None, PARSE_ERROR, f"not JSON: {exc}"), 400)
    budget = Budget()
    if isinstance(payload, list):
        if not 0 < len(payload) <= MAX_BATCH:
            return _rpc_response(_error(None, INVALID_REQUEST, f"a batch holds 1 to {MAX_BATCH} requests"), 400)
        if len(payload) > 1 and not throttle.allow_calls(request, len(payload) - 1):
            return _too_many(throttle)
        return _rpc_response([_one(item, budget) for item in payload])
    return _rpc_response(_one(payload, budget))


def _too_many(throttle: ChainRpcThrottle) -> JsonResponse:
    wait = int(throttle.wait() or 1)
    response = _rpc_response(_error(None, LIMIT_EXCEEDED, f"Too many calls: try again in {wait} s."), 429)
    response["Retry-After"] = str(wait)
    return response


def c2pa_trust_settings(request: HttpRequest) -> JsonResponse:
    """The C2PA trust list as c2pa settings JSON (c2patool --settings, c2pa's SDKs): the CA
    certificates the contract holds as trust anchors, read from the chain, not from this site."""
    try:
        anchors = platform_chain().trust_anchors()
    except (LedgerlineError, ChainUnreachable) as exc:  # no contract, or a node that does not answer
        return JsonResponse({"error": str(exc)}, status=503)
    if not anchors:
        return JsonResponse(
            {"error": "No trust anchor on chain yet: the CA is anchored when an organisation first publishes a key."},
            status=404,
        )
    response = JsonResponse(trust_settings(anchors))
    response["Cache-Control"] = "public, max-age=300"
    return response


def chain_info(request: HttpRequest) -> JsonResponse:
    """Where to check this deployment's chain from: the node, the contract, IPFS, the C2PA trust list."""
    site = site_url(request)
    try:
        chain = platform_chain()
        chain_id = chain.chain_id
    except (LedgerlineError, ChainUnreachable) as exc:
        return JsonResponse({"error": str(exc)}, status=503)
    address = chain.address
    ledger_rpc = settings.CHAIN_PUBLIC_RPC_URL if settings.CHAIN_RPC_URL else f"{site}/chain/rpc"
    return JsonResponse(
        {
            "chain_id": chain_id,
            "contract": address,
            "rpc": ledger_rpc or None,
            "ipfs_gateway": f"{site}/ipfs",
            "c2pa_trust_settings": f"{site}/c2pa/trust-settings.json",
            "verify": (
                f"ledgerline-verify FILE --rpc {ledger_rpc or 'NODE'} --gateway {site}/ipfs --contract {address}"
            ),
        }
    )
