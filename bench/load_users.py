"""The users of bench/load.py, run by locust (not on their own: `bench/load.py` writes their
configuration, starts the server and runs `locust -f bench/load_users.py`).

  BaselineUser  asks for /healthz (a near-empty JSON view, through every middleware) again and again
  MixUser       one account of one of two organisations: signs in through the portal's form, then
                portal pages, API reads with its token, uploads of a small WAV or MIDI (writers;
                auditors read instead), verifications of unregistered content (by hash or a file,
                with its token or anonymously), and a read of the other organisation's dataset
                (a 404 is the right answer)

Every request's status is counted by name and written to LEDGERLINE_LOAD_RESULT when locust quits,
with the first failures' bodies, so that the bench can count 5xx apart from other failures.
"""

import itertools
import json
import os
import random
import re
import struct
import uuid
from collections import Counter, defaultdict
from typing import Any

from locust import FastHttpUser, constant, events, task
from locust.contrib.fasthttp import FastHttpSession, ResponseContextManager

CONFIG: dict[str, Any] = json.loads(os.environ.get("LEDGERLINE_LOAD_CONFIG", '{"accounts": []}'))
ACCOUNTS = itertools.cycle(CONFIG["accounts"]) if CONFIG["accounts"] else None
WAIT = float(CONFIG.get("wait", 0.0))
STATUSES: defaultdict[str, Counter[int]] = defaultdict(Counter)
PROBLEMS: list[str] = []
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@events.request.add_listener
def _count(name: str, response: Any = None, exception: BaseException | None = None, **_: Any) -> None:
    # 0: no HTTP answer at all (connection refused or reset, timeout).
    STATUSES[name][getattr(response, "status_code", 0) or 0] += 1
    if exception is not None and len(PROBLEMS) < 20:
        PROBLEMS.append(f"{name}: {exception}")


@events.quitting.add_listener
def _write(**_: Any) -> None:
    path = os.environ.get("LEDGERLINE_LOAD_RESULT")
    if path:
        with open(path, "w") as out:
            json.dump(
                {"statuses": {name: dict(counts) for name, counts in STATUSES.items()}, "problems": PROBLEMS}, out
            )


def wav_bytes(rng: random.Random) -> bytes:
    """A 0.1 s mono 16-bit WAV of noise: valid, and new content every time (a dataset holds a content once)."""
    data = rng.randbytes(2 * 2205)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 22050, 44100, 2, 16)
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )


def midi_bytes(rng: random.Random) -> bytes:
    """A format-0 MIDI file of 32 random quarter notes (deltas under 128 ticks: one byte each)."""
    events_ = bytearray(b"\x00\xff\x51\x03\x07\xa1\x20")  # tempo: 120 bpm
    for _ in range(32):
        note = rng.randrange(48, 84)
        events_ += bytes([0, 0x90, note, rng.randrange(50, 110), 96, 0x80, note, 0])
    events_ += b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96) + b"MTrk" + struct.pack(">I", len(events_)) + events_


def expect(response: ResponseContextManager, *statuses: int) -> None:
    if response.status_code not in statuses:
        response.failure(f"HTTP {response.status_code}: {(response.text or '')[:300]!r}")
    else:
        response.success()


class BaselineUser(FastHttpUser):
    wait_time = constant(WAIT)

    @task
    def healthz(self) -> None:
        with self.client.get("/healthz", name="baseline /healthz", catch_response=True) as response:
            expect(response, 200)


class MixUser(FastHttpUser):
    wait_time = constant(WAIT)

    def on_start(self) -> None:
        assert ACCOUNTS is not None, "LEDGERLINE_LOAD_CONFIG names no accounts"
        self.account: dict[str, Any] = next(ACCOUNTS)
        self.rng = random.Random()
        self.bearer = {"Authorization": f"Bearer {self.account['token']}"}
        self.verifications: list[str] = []
        self.anonymous = FastHttpSession(self.host, request_event=self.environment.events.request, user=self)
        with self.client.get("/login/", name="login (form)", catch_response=True) as response:
            expect(response, 200)
            found = CSRF_INPUT.search(response.text or "")
        if found is None:
            return
        form = {
            "csrfmiddlewaretoken": found.group(1),
            "username": self.account["username"],
            "password": self.account["password"],
            "next": "/",
        }
        # Signed in, the form redirects to the home page; a wrong password answers the form again (200).
        with self.client.post(
            "/login/", name="login (sign in)", data=form, catch_response=True, allow_redirects=False
        ) as response:
            expect(response, 302)

    def pick(self, key: str) -> Any:
        return self.rng.choice(self.account[key])

    @task(5)
    def portal_page(self) -> None:
        pages = [
            ("page /", "/"),
            ("page /datasets/", "/datasets/"),
            ("page /datasets/[id]/", f"/datasets/{self.pick('datasets')}/"),
            ("page /works/", "/works/"),
            ("page /training-runs/", "/training-runs/"),
            ("page /royalties/", "/royalties/"),
            ("page /organisations/[slug]/", f"/organisations/{self.account['organisation']}/"),
            ("page /verify/", "/verify/"),
        ]
        if self.verifications:
            pages.append(("page /verify/[id]/", f"/verify/{self.rng.choice(self.verifications)}/"))
        name, url = self.rng.choice(pages)
        with self.client.get(url, name=name, catch_response=True, allow_redirects=False) as response:
            expect(response, 200)

    @task(5)
    def api_read(self) -> None:
        api = "/api/v1"
        version = self.pick("versions")
        blob = self.rng.choice(version["blobs"])
        reads = [
            ("api /me/", f"{api}/me/"),
            ("api /datasets/", f"{api}/datasets/"),
            ("api /datasets/[id]/", f"{api}/datasets/{self.pick('datasets')}/"),
            ("api /datasets/[id]/files/", f"{api}/datasets/{self.pick('datasets')}/files/"),
            ("api /dataset-files/[id]/", f"{api}/dataset-files/{self.pick('files')}/"),
            ("api /dataset-versions/[id]/", f"{api}/dataset-versions/{version['id']}/"),
            ("api /dataset-versions/[id]/proof/", f"{api}/dataset-versions/{version['id']}/proof/?sha256={blob}"),
            ("api /dataset-versions/[id]/croissant/", f"{api}/dataset-versions/{version['id']}/croissant/"),
            ("api /blobs/[sha256]", f"{api}/blobs/{blob}"),
            ("api /audit-log/", f"{api}/audit-log/"),
            ("api /keys/", f"{api}/keys/"),
            ("api /organisations/[slug]/members/", f"{api}/organisations/{self.account['organisation']}/members/"),
            ("api /works/", f"{api}/works/"),
            ("api /training-runs/", f"{api}/training-runs/"),
        ]
        name, url = self.rng.choice(reads)
        with self.client.get(url, name=name, headers=self.bearer, catch_response=True) as response:
            expect(response, 200)

    @task(1)
    def upload(self) -> None:
        if not self.account["writer"]:
            self.api_read()
            return
        kind = self.rng.choice(["wav", "mid"])
        content = wav_bytes(self.rng) if kind == "wav" else midi_bytes(self.rng)
        files = {"file": (f"load-{uuid.uuid4().hex}.{kind}", content, "audio/wav" if kind == "wav" else "audio/midi")}
        with self.client.post(
            f"/api/v1/datasets/{self.account['upload_dataset']}/files/",
            name=f"upload {kind}",
            headers=self.bearer,
            files=files,
            catch_response=True,
        ) as response:
            expect(response, 201)

    @task(2)
    def verify(self) -> None:
        # Unregistered content: the whole verification runs (chain, database, C2PA) and says "unknown".
        # Three ways in: the token; the portal's session (with its CSRF token, as DRF asks of a
        # session); and anonymously, from a client that holds no cookies.
        who = self.rng.choice(["token", "token", "session", "anonymous"])
        client, headers = self.client, dict(self.bearer)
        if who == "session":
            headers = {
                "X-CSRFToken": next((c.value or "" for c in self.client.cookiejar if c.name == "csrftoken"), ""),
                "Referer": f"{self.host}/verify/",
            }
        elif who == "anonymous":
            client, headers = self.anonymous, {}
        if self.rng.random() < 0.5:
            with client.post(
                "/api/v1/verify",
                name=f"verify hash ({who})",
                headers=headers,
                json={"content_sha256": self.rng.randbytes(32).hex()},
                catch_response=True,
            ) as response:
                expect(response, 201)
        else:
            files = {"file": ("take.wav", wav_bytes(self.rng), "audio/wav")}
            with client.post(
                "/api/v1/verify", name=f"verify file ({who})", headers=headers, files=files, catch_response=True
            ) as response:
                expect(response, 201)
        if response.status_code == 201 and len(self.verifications) < 20:
            self.verifications.append(response.json()["id"])

    @task(1)
    def other_organisation(self) -> None:
        # Isolation under load: the other organisation's dataset is not found, for the API and the portal.
        dataset = self.account["other_dataset"]
        with self.client.get(
            f"/api/v1/datasets/{dataset}/",
            name="api other organisation's dataset (404)",
            headers=self.bearer,
            catch_response=True,
        ) as response:
            expect(response, 404)
