"""The embedded chain: py-evm in this process, its state in one SQLite file under var/.

Every JSON-RPC call runs inside one SQLite transaction: the chain is rebuilt from the
file's head, the call runs (a transaction is mined into a block at once), and the change
commits. So tokens survive restarts, and the site and its worker (two processes) see one
chain; SQLite's write lock is the only lock.
"""

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eth.db.atomic import AtomicDB
from eth.db.backends.base import BaseDB
from eth_tester import EthereumTester, PyEVMBackend
from eth_utils import to_canonical_address
from web3 import EthereumTesterProvider
from web3.types import RPCEndpoint, RPCResponse

from ledgerline.private import private_sqlite

# What the embedded chain gives the platform's account at genesis: plenty for any demo.
GENESIS_BALANCE = 10**24


class SqliteKV(BaseDB):
    """py-evm's key-value database interface over one SQLite table."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __getitem__(self, key: bytes) -> bytes:
        row = self.connection.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.connection.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value))

    def __delitem__(self, key: bytes) -> None:
        if self.connection.execute("DELETE FROM kv WHERE key = ?", (key,)).rowcount == 0:
            raise KeyError(key)

    def _exists(self, key: bytes) -> bool:
        return self.connection.execute("SELECT 1 FROM kv WHERE key = ?", (key,)).fetchone() is not None


class EmbeddedChainProvider(EthereumTesterProvider):
    """A web3 provider over py-evm whose state lives in ``path``."""

    def __init__(self, path: Path, *, funded: list[str]) -> None:
        self.path = private_sqlite(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        genesis = PyEVMBackend.generate_genesis_state(num_accounts=1)
        for address in funded:
            account = {"balance": GENESIS_BALANCE, "nonce": 0, "code": b"", "storage": {}}
            genesis[to_canonical_address(address)] = account
        backend = PyEVMBackend(genesis_state=genesis)
        self._chain_class = type(backend.chain)
        with self._transaction() as connection:
            if connection.execute("SELECT COUNT(*) FROM kv").fetchone()[0] == 0:
                # A new chain: keep the genesis py-evm just built.
                memory = backend.chain.chaindb.db.wrapped_db.kv_store
                connection.executemany("INSERT INTO kv (key, value) VALUES (?, ?)", memory.items())
        super().__init__(EthereumTester(backend))
        self.backend = backend

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID")
            self._local.connection = connection
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        # One call at a time in this process (the py-evm objects are shared); SQLite's lock
        # orders them with other processes.
        with self._lock, self._transaction() as connection:
            self.backend.chain = self._chain_class(AtomicDB(SqliteKV(connection)))
            return super().make_request(method, params)
