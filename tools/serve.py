"""`make run`'s processes: the site under gunicorn and the Celery worker, each watched.

A process that dies is said so on stderr, with its exit status, and started again (after 1 s,
doubling to 30 s while it keeps dying young); gunicorn restarts its own request workers the same
way. Ctrl-C or SIGTERM stops both. It imports nothing of Ledgerline: it only runs commands.

    python tools/serve.py [--host 127.0.0.1] [--port 8000] [--web-workers 2] [--threads 4]
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# A process that ran this long before dying was healthy: start it again at once.
HEALTHY_SECONDS = 60.0
MAX_BACKOFF = 30.0


def commands(args: argparse.Namespace) -> dict[str, list[str]]:
    platform = str(ROOT / "platform")
    return {
        "web": [
            str(BIN / "gunicorn"),
            "ledgerline.wsgi:application",
            "--chdir",
            platform,
            "--bind",
            f"{args.host}:{args.port}",
            "--workers",
            str(args.web_workers),
            # gthread: long uploads and verifications do not count against the worker's timeout.
            "--worker-class",
            "gthread",
            "--threads",
            str(args.threads),
            "--timeout",
            "120",
            "--graceful-timeout",
            "20",
            "--access-logfile",
            "-",
            # Its control socket sits at one path in $HOME: a second site on the machine would fight for it.
            "--no-control-socket",
        ],
        "worker": [
            str(BIN / "celery"),
            "--workdir",
            platform,
            "-A",
            "ledgerline",
            "worker",
            "--queues",
            "default,gpu",
            "--pool=solo",
            "--loglevel=WARNING",
        ],
    }


class Supervisor:
    def __init__(self, programs: dict[str, list[str]]) -> None:
        self.programs = programs
        self.env = os.environ | {"PYTHONPATH": f"{ROOT / 'platform'}{os.pathsep}{ROOT}"}
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.started: dict[str, float] = {}
        self.backoff = dict.fromkeys(programs, 1.0)
        self.due: dict[str, float] = dict.fromkeys(programs, 0.0)
        self.stopping = False

    def start(self, name: str) -> None:
        self.running[name] = subprocess.Popen(self.programs[name], env=self.env, cwd=ROOT)
        self.started[name] = time.monotonic()
        say(f"{name} started (pid {self.running[name].pid})")

    def reap(self) -> None:
        for name, process in list(self.running.items()):
            status = process.poll()
            if status is None:
                continue
            del self.running[name]
            lived = time.monotonic() - self.started[name]
            self.backoff[name] = 1.0 if lived >= HEALTHY_SECONDS else min(self.backoff[name] * 2, MAX_BACKOFF)
            self.due[name] = time.monotonic() + self.backoff[name]
            say(
                f"{name} exited with status {status} after {lived:.0f} s; starting it again in "
                f"{self.backoff[name]:.0f} s"
            )

    def run(self) -> int:
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGTERM, self.stop)
        while not self.stopping:
            self.reap()
            for name in self.programs:
                if name not in self.running and time.monotonic() >= self.due[name] and not self.stopping:
                    self.start(name)
            time.sleep(0.2)
        return self.shutdown()

    def stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def shutdown(self) -> int:
        for process in self.running.values():
            process.terminate()
        deadline = time.monotonic() + 25
        for name, process in self.running.items():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in time; killing it")
                process.kill()
                process.wait()
        say("stopped")
        return 0


def say(message: str) -> None:
    print(f"serve: {message}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--only", choices=["web", "worker"], help="run one of the two (the tests' way)")
    args = parser.parse_args()
    programs = commands(args)
    if args.only:
        programs = {args.only: programs[args.only]}
    return Supervisor(programs).run()


if __name__ == "__main__":
    sys.exit(main())
