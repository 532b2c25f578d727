"""A load test of the site as `make run` serves it (gunicorn, gthread workers), on PostgreSQL and
Redis, driven by locust over loopback; measured against the same tool asking for an empty view.

One command does it all: starts its own PostgreSQL (a temporary cluster on a free port, fsync off)
and Redis (a free loopback port, no persistence) unless --database-url / --redis-url name them;
migrates; seeds two organisations, each with an admin, two artists and an auditor (API tokens for
all), datasets of MIDI and WAV files with frozen versions; starts gunicorn with DATABASE_URL,
CACHE_URL and CELERY_BROKER_URL on them (no Celery worker: nothing in the mix waits on one);
then runs locust headless twice with the same users and duration (bench/load_users.py):

  baseline  every user asks for /healthz (a near-empty JSON view, through every middleware)
  mix       every user signs in through the portal's form as one of the eight accounts, then:
            portal pages 5, API reads 5 (with its token), uploads 1 (a new small WAV or MIDI;
            auditors read instead), verifications 2 (unregistered content by hash or as a WAV,
            a third anonymously), the other organisation's dataset 1 (must be a 404)

Users wait --wait seconds between requests (default 0: each user sends its next request as soon as
it has the answer, so the server is saturated and req/s is its capacity). The verification rate
limits are raised for this server (the bench counts the server's work, not the limiter's 429s;
the throttles still run and count in Redis). Prints requests/s, p50/p95/p99, failures and 5xx
(counted by the client and in gunicorn's access log) for both, the mix's p50 as a ratio of the
baseline's, and the mix per request; exits 1 if anything failed. Everything it started is stopped.

    .venv/bin/python bench/load.py [--users 12] [--seconds 45] [--web-workers 2] [--threads 4]
                                   [--wait 0] [--database-url postgres://...] [--redis-url redis://...]
"""

import argparse
import contextlib
import csv
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT), str(ROOT / "bench")]

from django_fresh import django_fresh  # noqa: E402

PASSWORD = "load bench password"
PASSPHRASE = "load bench passphrase"
ACCESS_LINE = re.compile(r'"[A-Z]+ \S+ HTTP/[\d.]+" (\d{3}) ')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def as_postgres(command: list[str]) -> list[str]:
    # initdb refuses to run as root: CI (and this machine) run the bench as root, so PostgreSQL runs as postgres.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on loopback, fsync off, as CI starts it; its URL."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not found:
        sys.exit(
            "bench/load.py starts a PostgreSQL of its own from /usr/lib/postgresql/*/bin (Debian's "
            "postgresql, as .ci/run installs it), or give it one with --database-url"
        )
    pg_bin = found[-1]
    data = Path(tempfile.mkdtemp(prefix="ledgerline-load-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    port = free_port()
    subprocess.run(
        as_postgres([str(pg_bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off -c max_connections=200"
    subprocess.run(
        as_postgres(
            [str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-w", "start", "-o", options]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        subprocess.run(
            [str(pg_bin / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "ledgerline"], check=True
        )
        yield f"postgres://postgres@127.0.0.1:{port}/ledgerline"
    finally:
        subprocess.run(
            as_postgres([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
            stdout=subprocess.DEVNULL,
            check=False,
        )
        shutil.rmtree(data, ignore_errors=True)


@contextlib.contextmanager
def redis() -> Iterator[str]:
    """redis-server on a free loopback port, nothing written to disk; its URL."""
    import redis as redis_client

    if shutil.which("redis-server") is None:
        sys.exit(
            "bench/load.py starts redis-server (Debian's redis-server, as .ci/run installs it), "
            "or give it one with --redis-url"
        )
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                redis_client.Redis(port=port).ping()
                break
            except redis_client.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}"
    finally:
        stop(process)


def stop(process: "subprocess.Popen[Any]") -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def seed() -> dict[str, Any]:
    """Two organisations of four accounts each, with tokens, datasets and frozen versions."""
    from ledgerline.accounts import services as accounts
    from ledgerline.accounts.models import Membership, Role
    from ledgerline.datasets import samples
    from ledgerline.datasets import services as datasets

    licence = datasets.Licence(spdx="CC-BY-4.0")
    consent = {"cawg.ai_training": {"use": "allowed"}}
    organisations: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for number, name in enumerate(["Aria Records", "Basso Music"]):
            admin = accounts.user_create(username=f"load-{number}-admin", password=PASSWORD)
            organisation = accounts.organisation_create(name=name, admin=admin)
            members = [admin]
            for role, username in [(Role.ARTIST, "artist1"), (Role.ARTIST, "artist2"), (Role.AUDITOR, "auditor")]:
                user = accounts.user_create(username=f"load-{number}-{username}", password=PASSWORD)
                accounts.membership_add(organisation=organisation, user=user, role=role, added_by=admin)
                members.append(user)
            chorales = datasets.dataset_create(
                organisation=organisation,
                name="Melodies",
                licence=licence,
                consent=consent,
                rights=[],
                created_by=admin,
            )
            datasets.dataset_files_import(
                dataset=chorales,
                added_by=admin,
                paths=[
                    (f"melody-{i:02d}.mid", samples.melody_midi(Path(tmp) / f"{number}-{i}.mid", seed=100 * number + i))
                    for i in range(24)
                ],
            )
            takes = datasets.dataset_create(
                organisation=organisation, name="Takes", licence=licence, consent=consent, rights=[], created_by=admin
            )
            datasets.dataset_files_import(
                dataset=takes,
                added_by=admin,
                paths=[
                    (
                        f"take-{i}.wav",
                        samples.tone_audio(
                            Path(tmp) / f"{number}-{i}.wav", seconds=2, frequency=220 + 55 * i, seed=number
                        ),
                    )
                    for i in range(4)
                ],
            )
            uploads = datasets.dataset_create(
                organisation=organisation, name="Uploads", licence=licence, consent=consent, rights=[], created_by=admin
            )
            versions = [datasets.dataset_version_create(dataset=d, created_by=admin) for d in (chorales, takes)]
            files = [f for d in (chorales, takes) for f in d.files.select_related("blob")]
            tokens = [
                accounts.api_token_create(
                    membership=Membership.objects.get(organisation=organisation, user=u), name="load bench"
                )[1]
                for u in members
            ]
            organisations.append(
                {
                    "slug": organisation.slug,
                    # The first three are the admin and the artists: writers.
                    "members": [
                        (u.get_username(), t, i < 3) for i, (u, t) in enumerate(zip(members, tokens, strict=True))
                    ],
                    "datasets": [str(d.pk) for d in (chorales, takes, uploads)],
                    "upload_dataset": str(uploads.pk),
                    "files": [str(f.pk) for f in files],
                    "versions": [
                        {"id": str(v.pk), "blobs": list(v.entries.values_list("sha256", flat=True))} for v in versions
                    ],
                }
            )
    config: dict[str, Any] = {"accounts": []}
    for number, org in enumerate(organisations):
        other = organisations[1 - number]
        for username, token, writer in org["members"]:
            config["accounts"].append(
                {
                    "username": username,
                    "password": PASSWORD,
                    "token": token,
                    "writer": writer,
                    "organisation": org["slug"],
                    "datasets": org["datasets"],
                    "upload_dataset": org["upload_dataset"],
                    "files": org["files"],
                    "versions": org["versions"],
                    "other_dataset": other["datasets"][0],
                }
            )
    # Interleave the organisations, so that any number of users has members of both.
    config["accounts"] = (
        config["accounts"][0::4] + config["accounts"][1::4] + config["accounts"][2::4] + config["accounts"][3::4]
    )
    return config


def web_command(port: int, workers: int, threads: int) -> list[str]:
    """gunicorn exactly as `make run` starts it (tools/serve.py), on another port."""
    spec = importlib.util.spec_from_file_location("ledgerline_serve", ROOT / "tools" / "serve.py")
    assert spec is not None and spec.loader is not None
    serve = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(serve)
    command: list[str] = serve.commands(
        argparse.Namespace(host="127.0.0.1", port=port, web_workers=workers, threads=threads)
    )["web"]
    # gunicorn's access line, with each request's time in ms at its end: the server's side of a slow request.
    return [*command, "--access-logformat", '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms']


def wait_ready(url: str, process: "subprocess.Popen[Any]", timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer {url}")
        time.sleep(0.3)


def verify_once(host: str) -> float:
    """One anonymous verification of unregistered content; its time in seconds."""
    body = json.dumps({"content_sha256": os.urandom(32).hex()}).encode()
    request = urllib.request.Request(f"{host}/api/v1/verify", data=body, headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 201, response.status
    return time.perf_counter() - start


def warm_up(host: str, workers: int) -> tuple[float, float]:
    """The site's first verification (the embedded chain makes its account and deploys the contract
    then), and the slowest of a round of concurrent ones (every worker's first: py-evm's import and
    the chain's opening); kept out of the measured phases, which are about the steady state."""
    first = verify_once(host)
    with ThreadPoolExecutor(4 * workers) as pool:
        rest = list(pool.map(lambda _: verify_once(host), range(4 * workers)))
    return first, max(rest)


@dataclass
class Phase:
    name: str
    requests: int = 0
    failures: int = 0
    rps: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    rows: list[dict[str, str]] = field(default_factory=list)
    statuses: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    server: Counter[int] = field(default_factory=Counter)

    @property
    def client_5xx(self) -> int:
        return sum(n for counts in self.statuses.values() for code, n in counts.items() if int(code) >= 500)

    @property
    def server_5xx(self) -> int:
        return sum(n for code, n in self.server.items() if code >= 500)

    @property
    def unanswered(self) -> int:
        return sum(counts.get("0", 0) for counts in self.statuses.values())


def locust(
    phase: str,
    user_class: str,
    *,
    host: str,
    args: argparse.Namespace,
    config: dict[str, Any],
    work: Path,
    server_log: Path,
) -> Phase:
    prefix = work / phase
    result = work / f"{phase}-result.json"
    offset = server_log.stat().st_size
    env = os.environ | {
        "LEDGERLINE_LOAD_CONFIG": json.dumps(config | {"wait": args.wait}),
        "LEDGERLINE_LOAD_RESULT": str(result),
    }
    command = [
        str(BIN / "locust"),
        "-f",
        str(ROOT / "bench" / "load_users.py"),
        "--headless",
        "-u",
        str(args.users),
        "-r",
        str(args.users),
        "--run-time",
        f"{args.seconds}s",
        "--host",
        host,
        "--csv",
        str(prefix),
        "--only-summary",
        "--stop-timeout",
        "30",
        "--exit-code-on-error",
        "0",
        "--loglevel",
        "WARNING",
        user_class,
    ]
    with open(work / f"{phase}-locust.log", "wb") as log:
        subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=True, cwd=ROOT)
    stats = Phase(phase)
    with open(f"{prefix}_stats.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    total = next(row for row in rows if row["Name"] == "Aggregated")
    stats.rows = [row for row in rows if row["Name"] != "Aggregated"]
    stats.requests, stats.failures = int(total["Request Count"]), int(total["Failure Count"])
    stats.rps = float(total["Requests/s"])
    stats.p50, stats.p95, stats.p99 = (float(total[p]) for p in ("50%", "95%", "99%"))
    outcome = json.loads(result.read_text())
    stats.statuses, stats.problems = outcome["statuses"], outcome["problems"]
    with open(server_log, "rb") as f:
        f.seek(offset)
        for line in f.read().decode(errors="replace").splitlines():
            if found := ACCESS_LINE.search(line):
                stats.server[int(found.group(1))] += 1
    return stats


def report(baseline: Phase, mix: Phase, args: argparse.Namespace, versions: str) -> None:
    print(
        f"{versions}; gunicorn {args.web_workers} gthread workers x {args.threads} threads; locust, "
        f"{args.users} users, {'no wait' if not args.wait else f'{args.wait} s wait'} between requests, "
        f"{args.seconds} s each; loopback"
    )
    print(
        f"{'':<24}{'requests':>9}{'req/s':>9}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'failures':>9}"
        f"{'5xx':>5}{'5xx srv':>8}  p50 ratio"
    )
    for label, phase in (("empty view (/healthz)", baseline), ("mix", mix)):
        print(
            f"{label:<24}{phase.requests:>9}{phase.rps:>9.1f}{phase.p50:>8.0f}{phase.p95:>8.0f}{phase.p99:>8.0f}"
            f"{phase.failures:>9}{phase.client_5xx:>5}{phase.server_5xx:>8}  {phase.p50 / baseline.p50:.1f}x"
        )
    print(
        f"\nthe mix, per request ({sum(mix.server.values())} answers in the server's log: "
        + ", ".join(f"{code} x{n}" for code, n in sorted(mix.server.items()))
        + ")"
    )
    print(f"{'':<44}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'failures':>9}")
    for row in sorted(mix.rows, key=lambda r: r["Name"]):
        print(
            f"{row['Name'][:44]:<44}{row['Request Count']:>9}{float(row['Requests/s']):>8.1f}{row['50%']:>8}"
            f"{row['95%']:>8}{row['99%']:>8}{row['Failure Count']:>9}"
        )
    for phase in (baseline, mix):
        for problem in phase.problems:
            print(f"{phase.name} failure: {problem}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=12)
    parser.add_argument("--seconds", type=int, default=45, help="of each phase")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--wait", type=float, default=0.0, help="seconds each user waits between requests")
    parser.add_argument("--database-url", default="", help="PostgreSQL, emptied first (default: one of its own)")
    parser.add_argument("--redis-url", default="", help="Redis (default: one of its own); databases 0 and 1")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, locust's CSVs)")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        database_url = args.database_url or stack.enter_context(postgres())
        redis_url = (args.redis_url or stack.enter_context(redis())).rstrip("/")
        server_env = {
            "DATABASE_URL": database_url,
            "CACHE_URL": f"{redis_url}/0",
            "CELERY_BROKER_URL": f"{redis_url}/1",
            "SIGNING_KEY_PASSPHRASE": PASSPHRASE,
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            # Every client here is 127.0.0.1: at the public rate (20 a minute per address) the mix's
            # anonymous verifications would be 429s after the first second.
            "LEDGERLINE_VERIFY_RATE_ANON": "100000/min",
            "LEDGERLINE_VERIFY_RATE_USER": "100000/min",
            "LOG_LEVEL": "WARNING",
        }
        os.environ.update(server_env)
        started = time.monotonic()
        folder = django_fresh("ledgerline-load-", database_url=database_url)
        if not args.keep:
            stack.callback(shutil.rmtree, folder, True)
        config = seed()
        from django.db import connection, connections

        versions = f"PostgreSQL {connection.cursor().connection.info.server_version // 10000}"
        connections.close_all()
        redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()
        versions += f", Redis {next((w[2:] for w in redis_version if w.startswith('v=')), '?')}"
        port = free_port()
        server_log = folder / "server.log"
        log = stack.enter_context(open(server_log, "wb"))
        env = (
            os.environ
            | server_env
            | {
                "LEDGERLINE_VAR_DIR": os.environ["LEDGERLINE_VAR_DIR"],
                "PYTHONPATH": f"{ROOT / 'platform'}{os.pathsep}{ROOT}",
            }
        )
        web = subprocess.Popen(
            web_command(port, args.web_workers, args.threads), env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        stack.callback(stop, web)
        host = f"http://127.0.0.1:{port}"
        wait_ready(f"{host}/healthz", web)
        first, workers_first = warm_up(host, args.web_workers)
        print(
            f"set up in {time.monotonic() - started:.0f} s (work folder {folder}); the site's first verification "
            f"took {first:.1f} s, each worker's first at most {workers_first:.1f} s (not counted below)",
            file=sys.stderr,
        )
        baseline = locust(
            "baseline", "BaselineUser", host=host, args=args, config=config, work=folder, server_log=server_log
        )
        mix = locust("mix", "MixUser", host=host, args=args, config=config, work=folder, server_log=server_log)
        report(baseline, mix, args, versions)
        bad = any(p.failures or p.client_5xx or p.server_5xx or p.unanswered for p in (baseline, mix))
        if bad:
            tail = server_log.read_text(errors="replace").splitlines()
            errors = [line for line in tail if not ACCESS_LINE.search(line)][-40:]
            print("\nthe server's log, other than its access lines (last 40):\n" + "\n".join(errors))
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
